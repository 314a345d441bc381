/* Routing plans built from a fixture roster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/roster.h"
#include "core/routing.h"

#define FIXTURE "tests/unit/fixtures/routing/deputies.json"

static int setup(void **state)
{
    static struct roster r;
    struct diag d;
    diag_init(&d);
    int rc = roster_load(FIXTURE, "86", &r, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    *state = &r;
    return rc;
}

static int teardown(void **state)
{
    roster_free(*state);
    return 0;
}

static const struct route_step *step_of(const struct route_plan *p, const char *rule)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->steps[i].rule, rule) == 0)
            return &p->steps[i];
    return NULL;
}

static void test_area_keyword_in_text_routes_to_station(void **state)
{
    struct route_input in = { .text = "幸福路12号的路灯坏了三天了", .category = "facilities",
                              .weekday = 2, .mday = 3 };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    const struct route_step *area = step_of(&p, "area");
    assert_non_null(area);
    assert_string_equal(area->station, "S01");
    assert_int_equal(area->n, 1);
    assert_string_equal(area->deputies[0], "D0412");
    assert_int_equal(area->nduty, 1);      /* Tuesday */
    /* Binding comes before the area, default last. */
    assert_string_equal(p.steps[0].rule, "binding");
    assert_string_equal(p.steps[p.n - 1].rule, "default");
}

static void test_place_slot_wins_over_text_and_longest_keyword(void **state)
{
    struct route_input in = { .text = "幸福路那边也有人说", .place = "光明村东头", .weekday = 1, .mday = 15 };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    const struct route_step *area = step_of(&p, "area");
    assert_non_null(area);
    assert_string_equal(area->station, "S02");
    assert_int_equal(area->n, 2);
    /* Monday: D0007 on duty; the 15th: D0008 on duty too. */
    assert_int_equal(area->nduty, 2);
}

static void test_duty_filters_by_weekday_and_day_of_month(void **state)
{
    struct route_input in = { .text = "光明街积水", .weekday = 4, .mday = 15 };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    const struct route_step *area = step_of(&p, "area");
    assert_non_null(area);
    assert_int_equal(area->nduty, 1);
    assert_string_equal(area->on_duty[0], "D0008");
}

static void test_explicit_deputy_in_text_is_rule_one(void **state)
{
    struct route_input in = { .text = "请转 @d0007 处理，幸福路的事", .weekday = 0, .mday = 1 };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    assert_string_equal(p.steps[0].rule, "bound");
    assert_string_equal(p.steps[0].deputies[0], "D0007");
    assert_string_equal(p.steps[1].rule, "binding");
}

static void test_sms_extension_addresses_a_deputy(void **state)
{
    struct route_input in = { .text = "路灯坏了", .to = "106900010412", .service_number = "10690001" };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    assert_string_equal(p.steps[0].rule, "bound");
    assert_string_equal(p.steps[0].deputies[0], "D0412");

    in.to = "106900019999";   /* no such deputy: no bound step */
    route_plan_build(*state, &in, &p);
    assert_string_equal(p.steps[0].rule, "binding");
}

static void test_topic_group_and_default(void **state)
{
    struct route_input in = { .text = "自来水停了", .category = "water" };
    struct route_plan p;
    route_plan_build(*state, &in, &p);
    assert_null(step_of(&p, "area"));
    const struct route_step *topic = step_of(&p, "topic");
    assert_non_null(topic);
    assert_int_equal(topic->n, 2);
    const struct route_step *def = step_of(&p, "default");
    assert_non_null(def);
    assert_string_equal(def->deputies[0], "D0412");
}

static void test_deputy_in_text_forms(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(route_deputy_in_text("代表D0412你好", buf, sizeof(buf)), "D0412");
    assert_string_equal(route_deputy_in_text("找代表 d12", buf, sizeof(buf)), "D12");
    assert_string_equal(route_deputy_in_text("＠D0007", buf, sizeof(buf)), "D0007");
    assert_null(route_deputy_in_text("代表你好 D0412", buf, sizeof(buf)));
    assert_null(route_deputy_in_text("@D", buf, sizeof(buf)));
    assert_null(route_deputy_in_text("@D123456789", buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_area_keyword_in_text_routes_to_station),
        cmocka_unit_test(test_place_slot_wins_over_text_and_longest_keyword),
        cmocka_unit_test(test_duty_filters_by_weekday_and_day_of_month),
        cmocka_unit_test(test_explicit_deputy_in_text_is_rule_one),
        cmocka_unit_test(test_sms_extension_addresses_a_deputy),
        cmocka_unit_test(test_topic_group_and_default),
        cmocka_unit_test(test_deputy_in_text_forms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
