/* Pure helpers of the step and SMS modules: case ids, ratings, SMS fitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mashang/config.h"
#include "mashang/sms_kannel.h"
#include "mashang/step.h"
#include "mashang/util.h"

static void test_case_id_forms(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(step_case_id("M1024", "M", buf, sizeof(buf)), "M1024");
    assert_string_equal(step_case_id("m1024", "M", buf, sizeof(buf)), "M1024");
    assert_string_equal(step_case_id("1024", "M", buf, sizeof(buf)), "M1024");
    assert_string_equal(step_case_id(" M 1024", "CS", buf, sizeof(buf)), "CS1024");
    assert_null(step_case_id("M", "M", buf, sizeof(buf)));
    assert_null(step_case_id(NULL, "M", buf, sizeof(buf)));
    assert_null(step_case_id("1234567890123", "M", buf, sizeof(buf)));
}

static void test_rating_words_and_digits(void **state)
{
    (void)state;
    assert_int_equal(step_rating_value("5"), 5);
    assert_int_equal(step_rating_value("给1分"), 1);
    assert_int_equal(step_rating_value("满意"), 5);
    assert_int_equal(step_rating_value("基本满意"), 3);
    assert_int_equal(step_rating_value("不满意"), 1);
    assert_int_equal(step_rating_value("非常满意"), 5);
    assert_int_equal(step_rating_value("10"), 0);
    assert_int_equal(step_rating_value("7"), 0);
    assert_int_equal(step_rating_value("随便"), 0);
    assert_int_equal(step_rating_value("打五星"), 5);
    assert_int_equal(step_rating_value("还行吧"), 4);
    assert_int_equal(step_rating_value("一般般"), 3);
    assert_int_equal(step_rating_value("很差"), 1);
    assert_int_equal(step_rating_value(NULL), 0);
}

static void test_sms_fit_keeps_short_text(void **state)
{
    (void)state;
    char *s = sms_fit("已收到", 1, "M1001");
    assert_string_equal(s, "已收到");
    free(s);
}

static void test_sms_fit_cuts_with_ellipsis_and_keeps_case(void **state)
{
    (void)state;
    char text[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(text, "路灯");
    strcat(text, "M1001");
    char *s = sms_fit(text, 2, "M1001");
    assert_non_null(s);
    assert_true(sms_segments(s, strlen(s)) <= 2);
    assert_non_null(strstr(s, "…"));
    assert_non_null(strstr(s, "M1001"));
    assert_true(utf8_valid(s, strlen(s)));
    free(s);
}

/* Found by tests/fuzz/fuzz_sms_fit: a character outside the BMP takes two
 * UCS-2 units, so cutting by code points overran the segment limit. */
static void test_sms_fit_counts_emoji_as_two_units(void **state)
{
    (void)state;
    char text[1024] = "";
    for (int i = 0; i < 80; i++)
        strcat(text, "\xF0\x9F\x98\x80");   /* U+1F600 */
    strcat(text, " M1001");
    char *s = sms_fit(text, 2, "M1001");
    assert_non_null(s);
    assert_true(sms_segments(s, strlen(s)) <= 2);
    assert_non_null(strstr(s, "M1001"));
    assert_true(utf8_valid(s, strlen(s)));
    free(s);
}

static void test_sendsms_url(void **state)
{
    (void)state;
    struct sms_channel c = {
        .enabled = true, .sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms",
        .username = "app", .password = "p&w", .from = "10690001",
        .dlr_url = "http://127.0.0.1:8080/sms/kannel/dlr", .max_segments = 6,
    };
    char *url = sms_kannel_sendsms_url(&c, "+8613800138000", "编号M1001 ok", "42");
    assert_non_null(url);
    assert_non_null(strstr(url, "username=app&password=p%26w&from=10690001&to=%2B8613800138000"));
    assert_non_null(strstr(url, "text=%E7%BC%96%E5%8F%B7M1001%20ok"));
    assert_non_null(strstr(url, "&charset=UTF-8&coding=2"));
    assert_non_null(strstr(url, "&dlr-mask=31&dlr-url=http%3A%2F%2F127.0.0.1%3A8080%2Fsms%2Fkannel%2Fdlr%3Fref%3D42%26type%3D%25d"));
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_id_forms),
        cmocka_unit_test(test_rating_words_and_digits),
        cmocka_unit_test(test_sms_fit_keeps_short_text),
        cmocka_unit_test(test_sms_fit_cuts_with_ellipsis_and_keeps_case),
        cmocka_unit_test(test_sms_fit_counts_emoji_as_two_units),
        cmocka_unit_test(test_sendsms_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
