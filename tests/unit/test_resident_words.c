/* A resident's answers to the 回头看 question and the five-aspect rating
 * (src/core/resident_words.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/resident_words.h"

static void test_revisit_answer(void **state)
{
    (void)state;
    assert_int_equal(resident_revisit_answer("1"), 1);
    assert_int_equal(resident_revisit_answer("2"), 2);
    assert_int_equal(resident_revisit_answer("还好"), 1);
    assert_int_equal(resident_revisit_answer("挺好的 谢谢"), 1);
    assert_int_equal(resident_revisit_answer("没问题了"), 1);
    assert_int_equal(resident_revisit_answer("又坏了"), 2);
    assert_int_equal(resident_revisit_answer("路灯昨天又不亮了"), 2);
    assert_int_equal(resident_revisit_answer("不好，还是老样子"), 2);
    assert_int_equal(resident_revisit_answer("还是不行"), 2);
    assert_int_equal(resident_revisit_answer("不是很好"), 2);
    assert_int_equal(resident_revisit_answer("还没修呢"), 2);
    assert_int_equal(resident_revisit_answer("没再坏过"), 1);
    assert_int_equal(resident_revisit_answer("修好了，谢谢"), 1);
    assert_int_equal(resident_revisit_answer("没事了"), 1);
    /* not an answer */
    assert_int_equal(resident_revisit_answer("3"), 0);
    assert_int_equal(resident_revisit_answer("12"), 0);
    assert_int_equal(resident_revisit_answer("幸福路12号的路灯坏了"), 0);
    /* the words in a message of its own */
    assert_int_equal(resident_revisit_answer("小区门口的垃圾可以安排人清理一下吗"), 0);
    assert_int_equal(resident_revisit_answer("光明村的水管又漏了，一直没人来修"), 0);
    assert_int_equal(resident_revisit_answer("路灯又坏了"), 2);
    assert_int_equal(resident_revisit_answer(""), 0);
    assert_int_equal(resident_revisit_answer(NULL), 0);
}

static void test_aspect_scores(void **state)
{
    (void)state;
    int s[5] = { 0 };
    assert_int_equal(resident_aspect_scores("545", 3, s), 3);
    assert_int_equal(s[0], 5);
    assert_int_equal(s[1], 4);
    assert_int_equal(s[2], 5);
    assert_int_equal(resident_aspect_scores("5 4 3", 3, s), 3);
    assert_int_equal(s[2], 3);
    assert_int_equal(resident_aspect_scores("1、2、3", 3, s), 3);
    assert_int_equal(s[0], 1);
    assert_int_equal(resident_aspect_scores("12", 2, s), 2);
    /* the wrong count, a digit out of range, words, a single digit */
    assert_int_equal(resident_aspect_scores("54", 3, s), 0);
    assert_int_equal(resident_aspect_scores("5454", 3, s), 0);
    assert_int_equal(resident_aspect_scores("560", 3, s), 0);
    assert_int_equal(resident_aspect_scores("5分4分5分", 3, s), 0);
    assert_int_equal(resident_aspect_scores("5", 3, s), 0);
    assert_int_equal(resident_aspect_scores("5", 1, s), 0);   /* no aspects: the overall digit */
    assert_int_equal(resident_aspect_scores("545", 0, s), 0);
    assert_int_equal(resident_aspect_scores(NULL, 3, s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revisit_answer),
        cmocka_unit_test(test_aspect_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
