/* config/deputies.json: validation paths, lookups and duty days.
 * Fixtures live in tests/unit/fixtures/config (tests run from the repo
 * root, like `make unit`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/config.h"
#include "core/roster.h"
#include "daemon/channels.h"

#define FIXTURES "tests/unit/fixtures/config/"

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static void expect_problem(const struct diag *d, const char *file, const char *path, const char *msg)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s: %s: ", file, path);
    for (size_t i = 0; i < d->n; i++)
        if (strncmp(d->items[i], prefix, strlen(prefix)) == 0 && strstr(d->items[i], msg))
            return;
    diag_print(d, stderr);
    fail_msg("no problem \"%s%s\"", prefix, msg);
}

static void assert_zeroed(const struct roster *r)
{
    static const struct roster zero;
    assert_memory_equal(r, &zero, sizeof(zero));
}

static void test_demo_roster(void **state)
{
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);
    int rc = roster_load("config/deputies.json", "86", &r, &d);
    if (rc)
        diag_print(&d, stderr);
    assert_int_equal(rc, 0);
    assert_string_equal(r.default_station, "S01");
    assert_string_equal(r.committee.name, "县人大常委会代表工委");
    assert_string_equal(r.committee.phone, "+8613900000099");
    assert_null(r.committee.wechat);

    const struct station *s01 = roster_station(&r, "S01");
    assert_non_null(s01);
    assert_string_equal(s01->name, "幸福社区代表联络站");
    assert_string_equal(s01->liaison, "D0412");
    assert_int_equal(s01->nareas, 3);
    assert_string_equal(s01->areas[0], "幸福路");

    /* "幸福路12号的路灯坏了三天了" names S01's area and no other station's,
     * and 王丽 is S01's only deputy, so she gets it whatever the day. */
    const char *msg = "幸福路12号的路灯坏了三天了";
    for (size_t i = 0; i < r.nstations; i++) {
        bool hit = false;
        for (size_t j = 0; j < r.stations[i].nareas; j++)
            hit = hit || strstr(msg, r.stations[i].areas[j]) != NULL;
        assert_int_equal(hit, &r.stations[i] == s01);
    }
    size_t in_s01 = 0;
    for (size_t i = 0; i < r.ndeputies; i++)
        in_s01 += strcmp(r.deputies[i].station, "S01") == 0;
    assert_int_equal(in_s01, 1);

    const struct deputy *wang = roster_deputy(&r, "D0412");
    assert_non_null(wang);
    assert_string_equal(wang->name, "王丽");
    assert_string_equal(wang->station, "S01");
    assert_string_equal(wang->phone, "+8613900000001");
    assert_int_equal(wang->level, LEVEL_COUNTY);
    assert_true(deputy_has_topic(wang, "facilities"));
    assert_false(deputy_has_topic(wang, "roads"));
    assert_true(deputy_on_duty(wang, TUE, 3));
    assert_true(deputy_on_duty(wang, WED, 20));
    assert_false(deputy_on_duty(wang, WED, 19));

    const struct deputy *d7 = roster_deputy(&r, "D0007");
    assert_non_null(d7);
    const struct station *s = roster_station(&r, d7->station);
    assert_non_null(s);
    assert_non_null(strstr(s->name, "光明村"));
    assert_int_equal(s->level, LEVEL_VILLAGE);

    /* Any form of a deputy's number finds the deputy. */
    static const char *const forms[] = {
        "+8613900000001", "13900000001", "8613900000001", "008613900000001", "139 0000 0001",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        assert_ptr_equal(roster_deputy_by_phone(&r, forms[i]), wang);
    assert_null(roster_deputy_by_phone(&r, "+8613900000098"));
    assert_null(roster_deputy_by_phone(&r, "not a phone"));
    assert_null(roster_deputy_by_phone(&r, NULL));

    /* Ids match case-insensitively; unknown ones are NULL. */
    assert_ptr_equal(roster_deputy(&r, "d0412"), wang);
    assert_null(roster_deputy(&r, "D412"));
    assert_null(roster_deputy(&r, NULL));
    assert_ptr_equal(roster_station(&r, "s01"), s01);
    assert_null(roster_station(&r, "S99"));
    assert_null(roster_deputy_by_wechat(&r, "oNobody"));

    roster_free(&r);
    assert_zeroed(&r);
    diag_free(&d);
}

static void test_every_problem_reported(void **state)
{
    const char *f = FIXTURES "roster_bad.json";
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(roster_load(f, "86", &r, &d), -1);
    assert_zeroed(&r);

    expect_problem(&d, f, "$.extra", "unknown field");
    expect_problem(&d, f, "$.default_station", "unknown station \"S99\"");
    expect_problem(&d, f, "$.committee.fax", "unknown field");
    expect_problem(&d, f, "$.committee.phone", "not a valid phone number");

    expect_problem(&d, f, "$.stations[0].parent", "unknown station \"S77\"");
    expect_problem(&d, f, "$.stations[0].liaison", "unknown deputy \"D9999\"");
    expect_problem(&d, f, "$.stations[0].areas[1]", "non-empty string");
    expect_problem(&d, f, "$.stations[1].id", "duplicate station id");
    expect_problem(&d, f, "$.stations[1].level", "unknown level \"province\"");
    expect_problem(&d, f, "$.stations[1].areas", "expected an array");
    expect_problem(&d, f, "$.stations[2].parnet", "unknown field");
    expect_problem(&d, f, "$.stations[3]", "expected an object");

    expect_problem(&d, f, "$.deputies[1].id", "duplicate deputy id");
    expect_problem(&d, f, "$.deputies[1].id", "bad deputy id \"d0412\"");
    expect_problem(&d, f, "$.deputies[1].phone", "duplicate phone 139****0001");
    expect_problem(&d, f, "$.deputies[1].topics[0]", "unknown category label \"streetlights\"");
    expect_problem(&d, f, "$.deputies[1].duty[0]", "bad duty entry");
    expect_problem(&d, f, "$.deputies[1].duty[1]", "bad duty entry");
    expect_problem(&d, f, "$.deputies[1].duty[2]", "bad duty entry");
    expect_problem(&d, f, "$.deputies[1].duty[3]", "bad duty entry");
    expect_problem(&d, f, "$.deputies[2].id", "bad deputy id \"X12\"");
    expect_problem(&d, f, "$.deputies[2].level", "unknown level \"mayor\"");
    expect_problem(&d, f, "$.deputies[2].station", "unknown station \"S09\"");
    expect_problem(&d, f, "$.deputies[2].phone", "not a valid phone number");
    expect_problem(&d, f, "$.deputies[2].topics", "expected an array");
    expect_problem(&d, f, "$.deputies[2].duty", "expected an array");
    expect_problem(&d, f, "$.deputies[2].email", "unknown field");
    expect_problem(&d, f, "$.deputies[3].id", "bad deputy id \"D123456789\"");
    expect_problem(&d, f, "$.deputies[3].name", "required field missing");
    expect_problem(&d, f, "$.deputies[3].wechat", "must not be empty");
    expect_problem(&d, f, "$.deputies[5].wechat", "duplicate wechat id");
    assert_int_equal(d.n, 31);

    /* Full phone numbers never reach the report. */
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.items[i], "13900000001"));
    diag_free(&d);
}

static void test_structure_problems(void **state)
{
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);

    const char *f = FIXTURES "roster_loop.json";
    assert_int_equal(roster_load(f, "86", &r, &d), -1);
    expect_problem(&d, f, "$.stations[0].parent", "loops");
    expect_problem(&d, f, "$.stations[1].parent", "loops");
    expect_problem(&d, f, "$.stations[2].parent", "loops");
    assert_int_equal(d.n, 3);
    diag_free(&d);

    f = FIXTURES "roster_empty.json";
    assert_int_equal(roster_load(f, "86", &r, &d), -1);
    expect_problem(&d, f, "$.stations", "must not be empty");
    expect_problem(&d, f, "$.deputies", "required field missing");
    expect_problem(&d, f, "$.default_station", "required field missing");
    expect_problem(&d, f, "$.committee", "expected an object");
    assert_int_equal(d.n, 4);
    diag_free(&d);

    assert_int_equal(roster_load(FIXTURES "does_not_exist.json", "86", &r, &d), -1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0], "does_not_exist.json"));
    assert_zeroed(&r);
    diag_free(&d);
}

static void test_duty_and_custom_topics(void **state)
{
    const char *f = FIXTURES "roster_custom_topic.json";
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);

    /* "pets" is not built in: only a config that adds it allows it. */
    assert_int_equal(roster_load(f, "86", &r, &d), -1);
    expect_problem(&d, f, "$.deputies[0].topics[0]", "unknown category label \"pets\"");
    assert_int_equal(d.n, 1);
    diag_free(&d);

    struct config c;
    assert_int_equal(config_load(FIXTURES "config_pets.json", &channels_config, &c, &d), 0);
    assert_string_equal(c.roster_path, FIXTURES "roster_custom_topic.json");
    int rc = roster_load_cfg(c.roster_path, &c, &r, &d);
    if (rc)
        diag_print(&d, stderr);
    assert_int_equal(rc, 0);
    assert_null(r.committee.name);

    const struct deputy *d1 = roster_deputy(&r, "D1");
    assert_non_null(d1);
    assert_string_equal(d1->phone, "+8613900000001");
    assert_ptr_equal(roster_deputy_by_wechat(&r, "oDeputy1"), d1);
    assert_true(deputy_has_topic(d1, "pets"));
    /* 周三, 星期日, days 1 and 31. */
    assert_true(deputy_on_duty(d1, WED, 10));
    assert_true(deputy_on_duty(d1, SUN, 10));
    assert_true(deputy_on_duty(d1, MON, 1));
    assert_true(deputy_on_duty(d1, MON, 31));
    assert_false(deputy_on_duty(d1, MON, 30));
    assert_false(deputy_on_duty(d1, SAT, 2));
    assert_false(deputy_on_duty(d1, -1, 0));
    assert_false(deputy_on_duty(d1, 7, 32));
    assert_false(deputy_on_duty(NULL, WED, 1));

    const struct deputy *d2 = roster_deputy(&r, "d2");
    assert_non_null(d2);
    assert_null(d2->phone);
    assert_int_equal(d2->ntopics, 0);
    assert_false(deputy_has_topic(d2, "roads"));
    for (int w = SUN; w <= SAT; w++)
        assert_true(deputy_on_duty(d2, w, 15));

    roster_free(&r);
    config_free(&c);
    diag_free(&d);
}

static void test_country_code(void **state)
{
    const char *f = FIXTURES "roster_custom_topic.json";
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);
    /* The roster's country code decides what a national number means,
     * both when loading and when looking up. */
    struct config c;
    assert_int_equal(config_load(FIXTURES "config_pets.json", &channels_config, &c, &d), 0);
    free(c.country_code);
    c.country_code = strdup("44");
    assert_int_equal(roster_load_cfg(f, &c, &r, &d), 0);
    assert_string_equal(roster_deputy(&r, "D1")->phone, "+4413900000001");
    assert_non_null(roster_deputy_by_phone(&r, "13900000001"));
    assert_null(roster_deputy_by_phone(&r, "+8613900000001"));
    roster_free(&r);
    config_free(&c);
    diag_free(&d);
}

static void test_reception(void **state)
{
    const char *f = FIXTURES "roster_reception.json";
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);

    /* Every bad entry is named by its path; nothing is loaded. */
    assert_int_equal(roster_load(f, "86", &r, &d), -1);
    expect_problem(&d, f, "$.stations[1].reception[0].day", "bad reception day \"daily\"");
    expect_problem(&d, f, "$.stations[1].reception[0].time", "bad reception time \"9:00\"");
    expect_problem(&d, f, "$.stations[1].reception[0].place", "must not be empty");
    expect_problem(&d, f, "$.stations[1].reception[1].day", "bad reception day \"32\"");
    expect_problem(&d, f, "$.stations[1].reception[1].time", "the end after the start");
    expect_problem(&d, f, "$.stations[1].reception[1].place", "required field missing");
    expect_problem(&d, f, "$.stations[1].reception[2].time", "bad reception time \"25:00\"");
    expect_problem(&d, f, "$.stations[1].reception[2].room", "unknown field");
    expect_problem(&d, f, "$.stations[1].reception[3]", "expected an object");
    expect_problem(&d, f, "$.stations[2].reception", "expected an array");
    assert_int_equal(d.n, 10);
    diag_free(&d);
}

static void test_reception_loaded(void **state)
{
    struct roster r;
    struct diag d;
    (void)state;
    diag_init(&d);
    /* Stations without "reception" have none. */
    assert_int_equal(roster_load(FIXTURES "roster_reception_ok.json", "86", &r, &d), 0);
    const struct station *s = roster_station(&r, "S1");
    assert_int_equal(s->nreception, 3);
    assert_int_equal(s->reception[0].weekday, TUE);
    assert_int_equal(s->reception[0].mday, 0);
    assert_string_equal(s->reception[0].from, "09:00");
    assert_string_equal(s->reception[0].to, "11:30");
    assert_string_equal(s->reception[0].place, "服务中心二楼");
    assert_int_equal(s->reception[1].weekday, -1);
    assert_int_equal(s->reception[1].mday, 10);
    assert_string_equal(s->reception[1].to, "");
    assert_int_equal(s->reception[2].weekday, SAT);
    assert_int_equal(roster_station(&r, "S2")->nreception, 0);
    roster_free(&r);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_roster),
        cmocka_unit_test(test_every_problem_reported),
        cmocka_unit_test(test_structure_problems),
        cmocka_unit_test(test_duty_and_custom_topics),
        cmocka_unit_test(test_country_code),
        cmocka_unit_test(test_reception),
        cmocka_unit_test(test_reception_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
