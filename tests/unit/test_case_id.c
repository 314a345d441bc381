/* base/case_id: one reading of a case id for the intent slots, the admin
 * API and teaching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/case_id.h"

static const char *parse(const char *s, const char *prefix)
{
    static char buf[32];
    return case_id_parse(s, prefix, buf, sizeof(buf));
}

static void test_written_forms(void **state)
{
    (void)state;
    assert_string_equal(parse("M1001", "M"), "M1001");
    assert_string_equal(parse("m1001", "M"), "M1001");     /* as the intents hand it over */
    assert_string_equal(parse("1001", "M"), "M1001");      /* prefix left out */
    assert_string_equal(parse("M0012", "M"), "M0012");     /* digits kept as written */
    assert_string_equal(parse("7", "M"), "M7");
    assert_string_equal(parse("M123456789012", "M"), "M123456789012");
    /* Typed on a phone: full-width letters and digits, blanks around. */
    assert_string_equal(parse("Ｍ１００１", "M"), "M1001");
    assert_string_equal(parse("ｍ1001", "M"), "M1001");
    assert_string_equal(parse("１００１", "M"), "M1001");
    assert_string_equal(parse(" M1001\t", "M"), "M1001");
    assert_string_equal(parse("\xE3\x80\x80M1001\xE3\x80\x80", "M"), "M1001");
}

static void test_configured_prefix(void **state)
{
    (void)state;
    assert_string_equal(parse("ab42", "AB"), "AB42");
    assert_string_equal(parse("Ab42", "AB"), "AB42");
    assert_string_equal(parse("42", "AB"), "AB42");
    assert_string_equal(parse("CS1024", "CS"), "CS1024");
    /* The configured spelling is the canonical one. */
    assert_string_equal(parse("M1001", "m"), "m1001");
    /* Another deployment's prefix, or part of this one, is not ours. */
    assert_null(parse("m1024", "CS"));
    assert_null(parse("C1024", "CS"));
    assert_null(parse("CSS1024", "CS"));
    assert_null(parse("M1001", ""));
    assert_string_equal(parse("1001", ""), "1001");
}

static void test_refused(void **state)
{
    (void)state;
    assert_null(parse(NULL, "M"));
    assert_null(parse("M1001", NULL));
    assert_null(parse("", "M"));
    assert_null(parse("   ", "M"));
    assert_null(parse("M", "M"));
    assert_null(parse("X1001", "M"));                  /* another prefix */
    assert_null(parse("M10x", "M"));
    assert_null(parse("M1001/", "M"));
    assert_null(parse("M 1001", "M"));                 /* nothing between */
    assert_null(parse("M-1001", "M"));
    assert_null(parse("1001M", "M"));
    assert_null(parse("M1001 M1002", "M"));
    assert_null(parse("M1234567890123", "M"));         /* 13 digits */
    assert_null(parse("1234567890123", "M"));
    assert_null(parse("M\xEF\xBC", "M"));              /* cut full-width form */
    assert_null(parse("M1001\xFF", "M"));
    assert_null(parse("M\xC0\xB1", "M"));              /* overlong '1' */
    assert_null(parse("abcdefghij1", "M"));            /* long letter run */
}

static void test_buffer(void **state)
{
    char buf[6];
    (void)state;
    assert_string_equal(case_id_parse("m1001", "M", buf, sizeof(buf)), "M1001");
    assert_null(case_id_parse("M10012", "M", buf, sizeof(buf)));   /* does not fit */
    assert_null(case_id_parse("M1001", "M", buf, 4));
    assert_null(case_id_parse("1", "CASE", buf, 4));               /* prefix alone fills it */
}

/* A common issue's number in a deputy's text is read as a case number. */
static void test_swap_prefix(void **state)
{
    (void)state;
    char digits[CASE_ID_MAX_DIGITS + 1];
    size_t n = 0;
    const char *t = "办结R1003 路灯已修好";
    char *out = case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n);
    assert_non_null(out);
    assert_string_equal(out, "办结M1003 路灯已修好");
    assert_int_equal(n, strlen(out));
    assert_string_equal(digits, "1003");
    free(out);
    t = "进展 r2001: 已报修";                    /* any case; longer prefixes */
    out = case_id_swap_prefix(t, strlen(t), "R", "CASE", digits, &n);
    assert_string_equal(out, "进展 CASE2001: 已报修");
    free(out);
    t = "办结 Ｒ１００３";                         /* typed full-width */
    out = case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n);
    assert_string_equal(out, "办结 M１００３");
    assert_string_equal(digits, "1003");
    free(out);
    t = "r1 R1004";                               /* the first that is one */
    out = case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n);
    assert_string_equal(out, "r1 M1004");
    free(out);
    /* Not a number: inside a word, too few or too many digits, none. */
    t = "BR1003";
    assert_null(case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n));
    t = "R12 R1234567890123";
    assert_null(case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n));
    t = "接单 M1003";
    assert_null(case_id_swap_prefix(t, strlen(t), "R", "M", digits, &n));
    assert_null(case_id_swap_prefix(t, strlen(t), "", "M", digits, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_forms),
        cmocka_unit_test(test_configured_prefix),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_swap_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
