/* Phone normalisation, masking and SMS segment counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/util.h"
#include "base/utf8.h"

static void test_phone_normalize_accepts_every_form(void **state)
{
    static const struct { const char *in, *cc, *want; } cases[] = {
        { "13800138000", "86", "+8613800138000" },
        { "8613800138000", "86", "+8613800138000" },
        { "+8613800138000", "86", "+8613800138000" },
        { "008613800138000", "86", "+8613800138000" },
        { "138 0013 8000", "86", "+8613800138000" },
        { "138-0013-8000", "86", "+8613800138000" },
        { "+86 (138) 0013-8000", "86", "+8613800138000" },
        { "010 12345678", "86", "+861012345678" },       /* Beijing landline, trunk 0 */
        { "+14155550123", "86", "+14155550123" },        /* foreign, kept */
        { "0014155550123", "86", "+14155550123" },
        { "4155550123", "1", "+14155550123" },
    };
    char out[32];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(phone_normalize(cases[i].in, cases[i].cc, out, sizeof(out)), 0);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_phone_normalize_rejects_implausible(void **state)
{
    static const char *const bad[] = {
        "", "+", "abc", "1380013800a", "138001380001",   /* 12-digit mobile */
        "1380013800",                                       /* 10-digit mobile */
        "+86+13800138000", "13800+138000", "12345",         /* too short */
        "+1234567890123456",                                /* 16 digits */
        "+0123456789", "138\n00138000",
    };
    char out[32];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(phone_normalize(bad[i], "86", out, sizeof(out)), -1);
    assert_int_equal(phone_normalize("13800138000", "8a", out, sizeof(out)), -1);
    assert_int_equal(phone_normalize("13800138000", "", out, sizeof(out)), -1);
    /* "+8613800138000" needs 15 bytes with the NUL. */
    assert_int_equal(phone_normalize("13800138000", "86", out, 14), -1);
    assert_int_equal(phone_normalize("13800138000", "86", out, 15), 0);
    assert_string_equal(out, "+8613800138000");
}

static void test_address_mask(void **state)
{
    char out[64];
    (void)state;
    address_mask("+8613800138000", out, sizeof(out));
    assert_string_equal(out, "138****8000");
    address_mask("13812345678", out, sizeof(out));
    assert_string_equal(out, "138****5678");
    address_mask("+14155550123", out, sizeof(out));
    assert_string_equal(out, "141****0123");   /* always 4 hidden digits */
    address_mask("+861012345", out, sizeof(out));   /* shorter: only the tail */
    assert_string_equal(out, "****2345");
    address_mask("oAbcdefghijklmnopqrstuvwxyz", out, sizeof(out));
    assert_string_equal(out, "oAbc****xyz");
    address_mask("short", out, sizeof(out));
    assert_string_equal(out, "****");
    /* Non-ASCII ids are cut on code points, never inside a character. */
    address_mask("张三李四王五赵六钱七", out, sizeof(out));
    assert_string_equal(out, "张三李四****六钱七");
    assert_true(utf8_valid(out, strlen(out)));
    /* Truncation still NUL-terminates and never shows more digits. */
    address_mask("+8613800138000", out, 5);
    assert_string_equal(out, "138*");
    address_mask(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static char *repeat(const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * times] = '\0';
    return s;
}

static void test_sms_segments(void **state)
{
    static const struct { const char *unit; size_t times; int want; } cases[] = {
        { "a", 0, 1 },
        { "a", 160, 1 }, { "a", 161, 2 }, { "a", 306, 2 }, { "a", 307, 3 },
        { "{", 80, 1 }, { "{", 81, 2 },           /* GSM-7 extension: two septets */
        { "`", 1, 1 }, { "`", 71, 2 },            /* no GSM-7 form: UCS-2 */
        { "路", 70, 1 }, { "路", 71, 2 }, { "路", 134, 2 }, { "路", 135, 3 },
        { "\xF0\x9F\x98\x80", 35, 1 },            /* two UCS-2 units each */
        { "\xF0\x9F\x98\x80", 36, 2 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = repeat(cases[i].unit, cases[i].times);
        assert_int_equal(sms_segments(s, strlen(s)), cases[i].want);
        free(s);
    }
    /* One Chinese character switches the whole message to UCS-2. */
    char *s = repeat("a", 100);
    s[50] = '\0';
    char buf[256];
    snprintf(buf, sizeof(buf), "%s路%s", s, s);
    assert_int_equal(sms_segments(buf, strlen(buf)), 2);
    free(s);
    /* The shipped acknowledgement fits in one or two parts. */
    const char *ack = "【码上说】已收到您反映的路灯问题，编号M1024，已转王丽代表（幸福社区代表联络站）办理。回复\"查询\"看进度。";
    assert_int_equal(sms_segments(ack, strlen(ack)), 1);
}

static void test_str_trim_dup(void **state)
{
    static const struct { const char *in, *want; } cases[] = {
        { "", "" },
        { "   ", "" },
        { "abc", "abc" },
        { "  abc \t\r\n", "abc" },
        { "\xE3\x80\x80路灯坏了\xE3\x80\x80 ", "路灯坏了" },
        { "a b", "a b" },
        { "a\xE3\x80\x80" "b", "a\xE3\x80\x80" "b" },
        { "\xE3\x80\x80", "" },
        { "路", "路" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = str_trim_dup(cases[i].in);
        assert_non_null(s);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
    assert_null(str_trim_dup(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_normalize_accepts_every_form),
        cmocka_unit_test(test_phone_normalize_rejects_implausible),
        cmocka_unit_test(test_address_mask),
        cmocka_unit_test(test_sms_segments),
        cmocka_unit_test(test_str_trim_dup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
