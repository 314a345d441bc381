/* The teach loop's C parts: whether a corrected category moves a case and
 * to whom (src/admin/admin_teach.c), numbers masked in residents' text for the
 * review list (src/base/util.c), and corrections as training lines
 * (src/cli/ctl_admin.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/admin_teach.h"
#include "cli/ctl_admin.h"
#include "base/util.h"

static void test_reroutes_only_unaccepted_category_routed(void **state)
{
    (void)state;
    assert_true(teach_reroutes("assigned", "topic"));
    assert_true(teach_reroutes("assigned", "default"));
    /* the deputy was chosen for another reason than the category */
    assert_false(teach_reroutes("assigned", "area"));
    assert_false(teach_reroutes("assigned", "bound"));
    assert_false(teach_reroutes("assigned", "binding"));
    assert_false(teach_reroutes("assigned", "transfer"));
    assert_false(teach_reroutes("assigned", ""));
    /* accepted or later: the deputy keeps it */
    assert_false(teach_reroutes("accepted", "topic"));
    assert_false(teach_reroutes("in_progress", "topic"));
    assert_false(teach_reroutes("resolved", "topic"));
    assert_false(teach_reroutes("closed", "default"));
    assert_false(teach_reroutes("withdrawn", "topic"));
    /* no deputy at all: a transfer cannot leave "new" */
    assert_false(teach_reroutes("new", ""));
    assert_false(teach_reroutes(NULL, "topic"));
    assert_false(teach_reroutes("assigned", NULL));
}

static void test_pick_fewest_open_then_default(void **state)
{
    (void)state;
    const char *rule = NULL;
    struct teach_candidate c[] = { { "D0007", 3 }, { "D0201", 1 }, { "D0202", 1 } };
    assert_string_equal(teach_pick(c, 3, "D0412", &rule), "D0201");   /* first of the tie */
    assert_string_equal(rule, "topic");
    struct teach_candidate one[] = { { "D0007", 40 } };
    assert_string_equal(teach_pick(one, 1, "D0412", &rule), "D0007");
    assert_string_equal(rule, "topic");
    /* no topic group: the default liaison, like a new case */
    assert_string_equal(teach_pick(NULL, 0, "D0412", &rule), "D0412");
    assert_string_equal(rule, "default");
    assert_null(teach_pick(NULL, 0, NULL, &rule));
    assert_null(teach_pick(NULL, 0, "", &rule));
}

static void check_mask(const char *in, const char *want)
{
    char *got = text_mask_phones(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_mask_numbers_in_text(void **state)
{
    (void)state;
    check_mask("电话13800138000找我", "电话138****8000找我");
    check_mask("+8613800138000", "+86138****8000");
    check_mask("138 0013 8000", "138 **** 8000");
    check_mask("138-0013-8000", "138-****-8000");
    /* full-width digits, as phones type them */
    check_mask("１３８００１３８０００", "１３８****８０００");
    /* a landline with its area code is as long as a phone; without it
     * only the last two digits are shown */
    check_mask("0755-2345678", "075*-***5678");
    check_mask("2345678", "*****78");
    /* ID card numbers keep their first three and last four */
    check_mask("身份证110101199003071234", "身份证110***********1234");
    /* short numbers stay: house numbers, case ids, dates */
    check_mask("幸福路12号M1001，2024年5月", "幸福路12号M1001，2024年5月");
    check_mask("123456", "123456");
    /* a separator alone does not join two numbers across words */
    check_mask("12号 - 3栋", "12号 - 3栋");
    check_mask("", "");
    check_mask("no digits", "no digits");
    char *n = text_mask_phones(NULL);
    assert_string_equal(n, "");
    free(n);
}

static void test_training_line(void **state)
{
    (void)state;
    char *l = ctl_training_line("water", "自来水\t停了\n两天\r\n了");
    assert_string_equal(l, "water\t自来水 停了 两天  了");
    free(l);
    l = ctl_training_line("roads", "");
    assert_string_equal(l, "roads\t");
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reroutes_only_unaccepted_category_routed),
        cmocka_unit_test(test_pick_fewest_open_then_default),
        cmocka_unit_test(test_mask_numbers_in_text),
        cmocka_unit_test(test_training_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
