/* Statistics behind GET /admin/stats (grouping, counts, medians, overdue,
 * CSV) and the admin API's small parsers; mashangctl's table helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/admin_stats.h"
#include "cli/ctl_admin.h"

#define H 3600L
#define DAY 86400L
#define NOW (1800000000L)
#define ACCEPT_S DAY
#define RESOLVE_S (15 * DAY)

static void test_median(void **state)
{
    (void)state;
    double none[1];
    assert_true(isnan(stats_median(none, 0)));
    double one[] = { 7 };
    assert_true(stats_median(one, 1) == 7);
    double odd[] = { 9, 1, 5 };
    assert_true(stats_median(odd, 3) == 5);
    double even[] = { 4, 1, 10, 2 };
    assert_true(stats_median(even, 4) == 3); /* (2 + 4) / 2 */
}

static void test_overdue(void **state)
{
    (void)state;
    /* waiting for the deputy: the accept deadline counts */
    assert_false(stats_case_overdue("assigned", NOW - ACCEPT_S + 10, NOW, ACCEPT_S, RESOLVE_S));
    assert_true(stats_case_overdue("assigned", NOW - ACCEPT_S - 10, NOW, ACCEPT_S, RESOLVE_S));
    assert_true(stats_case_overdue("new", NOW - 2 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    /* accepted: only the resolve deadline */
    assert_false(stats_case_overdue("accepted", NOW - 2 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_false(stats_case_overdue("in_progress", NOW - 14 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_true(stats_case_overdue("in_progress", NOW - 16 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    /* done or withdrawn cases are never overdue */
    assert_false(stats_case_overdue("resolved", NOW - 30 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_false(stats_case_overdue("closed", NOW - 30 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_false(stats_case_overdue("withdrawn", NOW - 30 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_false(stats_case_overdue(NULL, NOW - 30 * DAY, NOW, ACCEPT_S, RESOLVE_S));
    assert_false(stats_case_overdue("assigned", 0, NOW, ACCEPT_S, RESOLVE_S));
}

/* Two deputies, one unassigned case; created an hour apart. */
static const struct stats_record recs[] = {
    /* D0412: accepted after 2h, resolved after 10h, rated 5 */
    { "D0412", "S01", "facilities", "closed", NOW - 100 * H, NOW - 98 * H, NOW - 90 * H, 5, 0, 0, 0, { 0 } },
    /* D0412: accepted after 4h, resolved after 20h, rated 2 and reopened */
    { "D0412", "S01", "facilities", "assigned", NOW - 50 * H, NOW - 46 * H, NOW - 30 * H, 2, 0, 0, 0, { 0 } },
    /* D0412: resolved after 6h (accept implied by progress), unrated */
    { "D0412", "S01", "roads", "resolved", NOW - 10 * H, NOW - 9 * H, NOW - 4 * H, 0, 0, 0, 0, { 0 } },
    /* D0007: still waiting for acceptance, overdue */
    { "D0007", "S02", "water", "assigned", NOW - 30 * H, 0, 0, 0, 0, 0, 0, { 0 } },
    /* D0007: accepted state without accepted_at (older data) */
    { "D0007", "S02", "water", "in_progress", NOW - 5 * H, 0, 0, 0, 0, 0, 0, { 0 } },
    /* unassigned */
    { "", "", "suggestion", "new", NOW - 1 * H, 0, 0, 0, 0, 0, 0, { 0 } },
};
#define NRECS (sizeof(recs) / sizeof(recs[0]))

static const struct stats_row *row(const struct stats_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].key, key) == 0)
            return &t->rows[i];
    fail_msg("no row %s", key);
    return NULL;
}

static void test_aggregate_by_deputy(void **state)
{
    (void)state;
    struct stats_table t;
    assert_int_equal(stats_aggregate(recs, NRECS, STATS_BY_DEPUTY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    assert_int_equal(t.n, 3);
    /* sorted by key: "" < "D0007" < "D0412" */
    assert_string_equal(t.rows[0].key, "");
    assert_string_equal(t.rows[1].key, "D0007");
    assert_string_equal(t.rows[2].key, "D0412");

    const struct stats_row *w = row(&t, "D0412");
    assert_int_equal(w->received, 3);
    assert_int_equal(w->accepted, 3);
    assert_int_equal(w->resolved, 2); /* the reopened one is not resolved now */
    assert_true(fabs(w->resolution_rate - 2.0 / 3.0) < 1e-9);
    assert_true(w->median_hours_to_accept == 2); /* 2, 4, 1 -> 2 */
    assert_true(w->median_hours_to_resolve == 8); /* resolved ones: 10, 6 -> 8 */
    assert_int_equal(w->overdue, 1);              /* reopened, assigned for 50h */
    assert_true(fabs(w->rating_mean - 3.5) < 1e-9);
    assert_int_equal(w->ratings[4], 1);
    assert_int_equal(w->ratings[1], 1);
    assert_int_equal(w->ratings[0] + w->ratings[2] + w->ratings[3], 0);

    const struct stats_row *l = row(&t, "D0007");
    assert_int_equal(l->received, 2);
    assert_int_equal(l->accepted, 1); /* in_progress counts without accepted_at */
    assert_int_equal(l->resolved, 0);
    assert_int_equal(l->overdue, 1);
    assert_true(isnan(l->median_hours_to_accept));
    assert_true(isnan(l->median_hours_to_resolve));
    assert_true(isnan(l->rating_mean));
    assert_true(l->resolution_rate == 0);

    const struct stats_row *u = row(&t, "");
    assert_int_equal(u->received, 1);
    assert_int_equal(u->overdue, 0);
    stats_table_free(&t);
}

static void test_aggregate_by_category_and_empty(void **state)
{
    (void)state;
    struct stats_table t;
    assert_int_equal(stats_aggregate(recs, NRECS, STATS_BY_CATEGORY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    assert_int_equal(t.n, 4);
    assert_int_equal(row(&t, "facilities")->received, 2);
    assert_int_equal(row(&t, "water")->received, 2);
    assert_int_equal(row(&t, "roads")->resolved, 1);
    stats_table_free(&t);

    assert_int_equal(stats_aggregate(recs, NRECS, STATS_BY_STATION, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    assert_int_equal(row(&t, "S01")->received, 3);
    stats_table_free(&t);

    assert_int_equal(stats_aggregate(NULL, 0, STATS_BY_DEPUTY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    assert_int_equal(t.n, 0);
    assert_null(t.rows);
    stats_table_free(&t);
}

static void test_csv(void **state)
{
    (void)state;
    struct stats_table t;
    assert_int_equal(stats_aggregate(recs, NRECS, STATS_BY_DEPUTY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    const char *names[] = { NULL, "李建国", "王丽, \"代表\"" };
    char *csv = stats_csv(&t, names);
    assert_non_null(csv);
    const char *want =
        "key,name,received,accepted,resolved,resolution_rate,median_hours_to_accept,"
        "median_hours_to_resolve,overdue,rating_mean,rating_1,rating_2,rating_3,rating_4,rating_5,"
        "revisited,revisit_rate,relapsed,relapse_rate\r\n"
        ",,1,0,0,0,,,0,,0,0,0,0,0,0,,0,\r\n"
        "D0007,李建国,2,1,0,0,,,1,,0,0,0,0,0,0,,0,\r\n"
        "D0412,\"王丽, \"\"代表\"\"\",3,3,2,0.6667,2,8,1,3.5,0,1,0,0,1,0,0,0,\r\n";
    assert_string_equal(csv, want);
    free(csv);
    stats_table_free(&t);

    struct stats_table empty = { 0 };
    csv = stats_csv(&empty, NULL);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "key,name,"));
    assert_int_equal(strchr(csv, '\n')[1], '\0'); /* header only */
    free(csv);
}

/* 回头看 and aspect scores: rates per group and the mean per aspect. */
static void test_revisits_and_aspects(void **state)
{
    (void)state;
    static const struct stats_record rv[] = {
        /* looked back at, held; rated 5/4/5 */
        { "D1", "S01", "roads", "closed", NOW - 90 * DAY, NOW - 89 * DAY, NOW - 80 * DAY, 5,
          NOW - 50 * DAY, 1, 0, { 5, 4, 5 } },
        /* looked back at twice: relapsed once, then held; rated 3/2/2 */
        { "D1", "S01", "roads", "closed", NOW - 90 * DAY, NOW - 89 * DAY, NOW - 80 * DAY, 2,
          NOW - 10 * DAY, 2, 1, { 3, 2, 2 } },
        /* asked, no answer yet; a single overall digit */
        { "D1", "S01", "roads", "closed", NOW - 60 * DAY, NOW - 59 * DAY, NOW - 50 * DAY, 4,
          NOW - 5 * DAY, 0, 0, { 0 } },
        /* resolved, not yet looked back at */
        { "D1", "S01", "roads", "resolved", NOW - 3 * DAY, NOW - 3 * DAY, NOW - 1 * DAY, 0, 0, 0, 0, { 0 } },
        /* never resolved */
        { "D2", "S02", "water", "assigned", NOW - 1 * H, 0, 0, 0, 0, 0, 0, { 0 } },
    };
    struct stats_table t;
    assert_int_equal(stats_aggregate(rv, 5, STATS_BY_DEPUTY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    const struct stats_row *d1 = row(&t, "D1");
    assert_int_equal(d1->revisited, 3);
    assert_true(fabs(d1->revisit_rate - 0.75) < 1e-9);      /* 3 of 4 resolved */
    assert_int_equal(d1->revisit_answered, 2);
    assert_int_equal(d1->relapsed, 1);
    assert_true(fabs(d1->relapse_rate - 0.5) < 1e-9);       /* 1 of 2 answered */
    assert_true(fabs(d1->aspect_mean[0] - 4.0) < 1e-9);
    assert_true(fabs(d1->aspect_mean[1] - 3.0) < 1e-9);
    assert_true(fabs(d1->aspect_mean[2] - 3.5) < 1e-9);
    assert_true(isnan(d1->aspect_mean[3]));
    const struct stats_row *d2 = row(&t, "D2");
    assert_true(isnan(d2->revisit_rate));
    assert_true(isnan(d2->relapse_rate));

    static const char *const aspects[] = { "态度", "速度", "结果" };
    t.aspects = aspects;
    t.naspects = 3;
    char *csv = stats_csv(&t, NULL);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "relapse_rate,aspect_态度,aspect_速度,aspect_结果\r\n"));
    assert_non_null(strstr(csv, "D1,,4,4,4,1,24,240,0,3.6667,0,1,0,1,1,3,0.75,1,0.5,4,3,3.5\r\n"));
    assert_non_null(strstr(csv, "D2,,1,0,0,0,,,0,,0,0,0,0,0,0,,0,,,,\r\n"));
    free(csv);
    stats_table_free(&t);
}

static void test_csv_quote(void **state)
{
    (void)state;
    char *s = csv_quote("plain");
    assert_string_equal(s, "plain");
    free(s);
    s = csv_quote("a,b");
    assert_string_equal(s, "\"a,b\"");
    free(s);
    s = csv_quote("say \"hi\"");
    assert_string_equal(s, "\"say \"\"hi\"\"\"");
    free(s);
    s = csv_quote("two\nlines");
    assert_string_equal(s, "\"two\nlines\"");
    free(s);
    s = csv_quote(NULL);
    assert_string_equal(s, "");
    free(s);
}

static void test_parsers(void **state)
{
    (void)state;
    enum stats_by by;
    assert_int_equal(stats_by_parse("station", &by), 0);
    assert_int_equal(by, STATS_BY_STATION);
    assert_string_equal(stats_by_name(by), "station");
    assert_int_equal(stats_by_parse("Station", &by), -1);
    assert_int_equal(stats_by_parse(NULL, &by), -1);

    long v;
    assert_int_equal(admin_parse_long("100", 1, 1000, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(admin_parse_long("0", 1, 1000, &v), -1);
    assert_int_equal(admin_parse_long("1001", 1, 1000, &v), -1);
    assert_int_equal(admin_parse_long("12x", 0, 1000, &v), -1);
    assert_int_equal(admin_parse_long(" 12", 0, 1000, &v), -1);
    assert_int_equal(admin_parse_long("+12", 0, 1000, &v), -1);
    assert_int_equal(admin_parse_long("", 0, 1000, &v), -1);
    assert_int_equal(admin_parse_long("99999999999999999999999", 0, 1000, &v), -1);
    assert_int_equal(admin_parse_long("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);

    assert_int_equal(admin_parse_flag("1"), 1);
    assert_int_equal(admin_parse_flag("true"), 1);
    assert_int_equal(admin_parse_flag("0"), 0);
    assert_int_equal(admin_parse_flag(NULL), 0);
    assert_int_equal(admin_parse_flag("maybe"), -1);
}

static void test_ctl_table_helpers(void **state)
{
    (void)state;
    assert_int_equal(ctl_display_width("M1001"), 5);
    assert_int_equal(ctl_display_width("王丽"), 4);
    assert_int_equal(ctl_display_width("王丽 D0412"), 10);
    assert_int_equal(ctl_display_width("（市政）"), 8); /* full-width brackets */
    assert_int_equal(ctl_display_width(""), 0);
    assert_int_equal(ctl_display_width(NULL), 0);

    char buf[64];
    assert_string_equal(ctl_pad("王丽", 6, buf, sizeof(buf)), "王丽  ");
    assert_string_equal(ctl_pad("abc", 2, buf, sizeof(buf)), "abc");
    assert_string_equal(ctl_pad("abcdef", 10, buf, 4), "abc");

    assert_string_equal(ctl_format_age(42, buf, sizeof(buf)), "42s");
    assert_string_equal(ctl_format_age(125, buf, sizeof(buf)), "2m");
    assert_string_equal(ctl_format_age(5 * 3600 + 59, buf, sizeof(buf)), "5h");
    assert_string_equal(ctl_format_age(3 * 86400 + 4 * 3600, buf, sizeof(buf)), "3d4h");
    assert_string_equal(ctl_format_age(2 * 86400 + 10, buf, sizeof(buf)), "2d");
    assert_string_equal(ctl_format_age(-1, buf, sizeof(buf)), "-");
}

/* The aggregates' counts replace the walk's, add the groups it missed,
 * and leave its medians and overdue. */
static void test_table_counts(void **state)
{
    (void)state;
    struct stats_record recs[] = {
        { "D2", "S1", "water", "closed", NOW - 10 * H, NOW - 9 * H, NOW - 5 * H, 4, 0, 0, 0, { 0 } },
        { "D3", "S1", "water", "assigned", NOW - 40 * H, 0, 0, 0, 0, 0, 0, { 0 } },
    };
    struct stats_table t;
    assert_int_equal(stats_aggregate(recs, 2, STATS_BY_DEPUTY, NOW, ACCEPT_S, RESOLVE_S, &t), 0);
    struct stats_counts c[] = {
        { .key = "D3", .received = 7, .accepted = 5, .resolved = 4, .ratings = { 1, 0, 0, 1, 2 } },
        { .key = "D1", .received = 2, .accepted = 0, .resolved = 0 },
    };
    assert_int_equal(stats_table_counts(&t, c, 2), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(t.rows[0].key, "D1");
    assert_int_equal(t.rows[0].received, 2);
    assert_true(isnan(t.rows[0].median_hours_to_accept));
    assert_true(isnan(t.rows[0].rating_mean));
    assert_int_equal(t.rows[0].overdue, 0);
    /* D2: the walk's own */
    assert_string_equal(t.rows[1].key, "D2");
    assert_int_equal(t.rows[1].received, 1);
    assert_true(t.rows[1].median_hours_to_accept == 1.0);
    /* D3: the counts, the walk's overdue */
    assert_string_equal(t.rows[2].key, "D3");
    assert_int_equal(t.rows[2].received, 7);
    assert_int_equal(t.rows[2].accepted, 5);
    assert_int_equal(t.rows[2].resolved, 4);
    assert_int_equal(t.rows[2].ratings[4], 2);
    assert_true(t.rows[2].resolution_rate == 4.0 / 7.0);
    assert_true(t.rows[2].rating_mean == (1.0 + 4 + 10) / 4.0);
    assert_int_equal(t.rows[2].overdue, 1);
    stats_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_overdue),
        cmocka_unit_test(test_aggregate_by_deputy),
        cmocka_unit_test(test_aggregate_by_category_and_empty),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_table_counts),
        cmocka_unit_test(test_revisits_and_aspects),
        cmocka_unit_test(test_csv_quote),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_ctl_table_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
