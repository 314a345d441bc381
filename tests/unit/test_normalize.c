/* Normalisation before intent matching: full-width, Traditional, case,
 * whitespace, punctuation, emoji, invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "intents/normalize.h"

static int setup(void **state)
{
    *state = normalizer_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    normalizer_free(*state);
    return 0;
}

static const char *norm(void **state, const char *s)
{
    size_t len = 0;
    const char *out = normalize_text(*state, s, strlen(s), &len);
    if (out)
        assert_int_equal(len, strlen(out));
    return out;
}

static void full_width_to_half_width(void **state)
{
    assert_string_equal(norm(state, "Ｍ１０２４"), "m1024");
    assert_string_equal(norm(state, "撤单　１２０６"), "撤单 1206");
    assert_string_equal(norm(state, "评分：４！"), "评分:4!");
    assert_string_equal(norm(state, "（D0006）"), "(d0006)");
}

static void traditional_to_simplified(void **state)
{
    assert_string_equal(norm(state, "路燈晚上不亮"), "路灯晚上不亮");
    assert_string_equal(norm(state, "進度怎麼樣了 M0877"), "进度怎么样了 m0877");
    assert_string_equal(norm(state, "電梯困人了"), "电梯困人了");
}

static void mixed_scripts(void **state)
{
    assert_string_equal(norm(state, "停水也不发个Notice，頭洗到一半"), "停水也不发个notice,头洗到一半");
    assert_string_equal(norm(state, "5路BUS司机"), "5路bus司机");
}

static void whitespace_and_punctuation_folded(void **state)
{
    assert_string_equal(norm(state, "  a \t\n b  "), "a b");
    assert_string_equal(norm(state, "停水了！！！"), "停水了!");
    assert_string_equal(norm(state, "怎么办？？？啊。。。"), "怎么办?啊。");
    assert_string_equal(norm(state, "a，，b"), "a,b");
    /* different marks are kept: only runs of one mark fold */
    assert_string_equal(norm(state, "?!"), "?!");
}

static void emoji_removed(void **state)
{
    assert_string_equal(norm(state, "天天堵😤"), "天天堵");
    assert_string_equal(norm(state, "打五星⭐⭐⭐⭐⭐"), "打五星");
    assert_string_equal(norm(state, "⚠️学校后面"), "学校后面");
    assert_string_equal(norm(state, "👍 👍 👍"), "");
    assert_string_equal(norm(state, "早上好☀️ 请问"), "早上好 请问");
}

static void invalid_utf8_rejected(void **state)
{
    size_t len = 99;
    assert_null(normalize_text(*state, "\xff\xfe", 2, &len));
    assert_null(normalize_text(*state, "abc\xe4\xbd", 5, &len));      /* truncated */
    assert_null(normalize_text(*state, "\xc0\xaf", 2, &len));          /* overlong */
    assert_null(normalize_text(*state, "\xed\xa0\x80", 3, &len));      /* surrogate */
    assert_null(normalize_text(*state, "a\0b", 3, &len));              /* embedded NUL */
    /* and the normalizer still works afterwards */
    assert_string_equal(norm(state, "OK"), "ok");
}

static void empty_and_long_input(void **state)
{
    assert_string_equal(norm(state, ""), "");
    char big[6001];
    for (size_t i = 0; i < 2000; i++)
        memcpy(big + 3 * i, "\xe8\xb7\xaf", 3); /* 路 */
    big[6000] = '\0';
    const char *out = norm(state, big);
    assert_non_null(out);
    assert_int_equal(strlen(out), 6000);
}

/* The original text behind the normalised substring `part` of `text`'s
 * normalisation (into a static buffer), or NULL if there is no map. */
static const char *source_of(void **state, const char *text, const char *part)
{
    static char out[512];
    size_t nlen = 0;
    const char *norm = normalize_text(*state, text, strlen(text), &nlen);
    assert_non_null(norm);
    const char *at = strstr(norm, part);
    assert_non_null(at);
    size_t start = (size_t)(at - norm), end = start + strlen(part);
    size_t *map = normalize_offsets(text, strlen(text), norm, nlen);
    if (!map)
        return NULL;
    size_t os = 99, oe = 99;
    assert_int_equal(normalize_span_source(map, nlen, text, start, end, &os, &oe), 0);
    assert_int_equal(normalize_span_source(map, nlen, text, end, start, &os, &oe) < 0, start != end);
    assert_int_equal(normalize_span_source(map, nlen, text, 0, nlen + 1, &os, &oe), -1);
    assert_int_equal(normalize_span_source(map, nlen, text, start, end, &os, &oe), 0);
    free(map);
    assert_true(oe - os < sizeof(out));
    memcpy(out, text + os, oe - os);
    out[oe - os] = '\0';
    return out;
}

static void offsets_map_back_to_what_was_written(void **state)
{
    const char *deputy = "进展 M1001 已联系ABC物业，LED灯明天到！！";
    assert_string_equal(source_of(state, deputy, "已联系abc物业,led灯明天到!"),
                        "已联系ABC物业，LED灯明天到！！");
    assert_string_equal(source_of(state, deputy, "m1001"), "M1001");
    /* full-width digits, ideographic spaces, folded marks in the middle */
    assert_string_equal(source_of(state, "回复　Ｍ１００２　明天有人去。。。好吗", "明天有人去。好吗"),
                        "明天有人去。。。好吗");
    /* emoji right after the span stay with it, blanks do not */
    assert_string_equal(source_of(state, "办结 M1001 修好了👍  ", "修好了"), "修好了👍");
    assert_string_equal(source_of(state, "办结 M1001 修好了👍 谢谢", "修好了"), "修好了👍");
    assert_string_equal(source_of(state, "😀 a \t b", "a b"), "a \t b");
    assert_string_equal(source_of(state, "abc", ""), "");
}

static void offsets_keep_traditional_characters(void **state)
{
    /* t2s changed characters one for one: the original characters come back */
    assert_string_equal(source_of(state, "進展 M1001 已聯繫水務公司，等回覆", "已联系水务公司,等回复"),
                        "已聯繫水務公司，等回覆");
    assert_string_equal(source_of(state, "頭洗到一半 OK", "ok"), "OK");
}

static void offsets_refuse_a_foreign_text(void **state)
{
    (void)state;
    /* not the normalisation of the text: different number of characters */
    assert_null(normalize_offsets("abc", 3, "ab", 2));
    assert_null(normalize_offsets("\xff", 1, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_width_to_half_width),
        cmocka_unit_test(traditional_to_simplified),
        cmocka_unit_test(mixed_scripts),
        cmocka_unit_test(whitespace_and_punctuation_folded),
        cmocka_unit_test(emoji_removed),
        cmocka_unit_test(invalid_utf8_rejected),
        cmocka_unit_test(empty_and_long_input),
        cmocka_unit_test(offsets_map_back_to_what_was_written),
        cmocka_unit_test(offsets_keep_traditional_characters),
        cmocka_unit_test(offsets_refuse_a_foreign_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
