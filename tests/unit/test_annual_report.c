/* The annual report's figures, ranges, CSV and HTML (src/admin/annual_report.c)
 * from an aggregate document shaped like admin.lua's "report" answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/annual_report.h"

static const char *names(void *ctx, enum report_dim dim, const char *key)
{
    (void)ctx;
    if (dim == REPORT_DEPUTY && strcmp(key, "D1") == 0)
        return "王丽";
    if (dim == REPORT_STATION && strcmp(key, "S01") == 0)
        return "幸福路<联络站>";
    if (dim == REPORT_CATEGORY && strcmp(key, "infra.streetlight") == 0)
        return "路灯";
    return "";
}

/* D1 (S01): 3 cases of street lights — 1 closed rated 5, 1 closed rated
 * 2 then 4 (so one rating.4), 1 resolved unrated; both closed asked
 * whether the fix held, one answered that it did not; their aspect 态度
 * rated 5 and 4; D2 (S02): 1 water case withdrawn, 1 still assigned; plus
 * a metric of a feature the report has no column for. */
#define D1 "{\"received\":3,\"solved\":3,\"closed\":2,\"accepted\":3,\"rating.5\":1," \
           "\"rating.4\":1,\"revisit.asked\":2,\"revisit.answered\":1,\"revisit.relapsed\":1," \
           "\"aspect.态度.5\":1,\"aspect.态度.4\":1,\"other.thing\":7}"
#define D2 "{\"received\":2,\"withdrawn\":1}"
static const char AGG[] =
    "{\"rows\":{\"deputy\":{\"D1\":" D1 ",\"D2\":" D2 "},"
    "\"station\":{\"S01\":" D1 ",\"S02\":" D2 "},"
    "\"category\":{\"infra.streetlight\":" D1 ",\"water\":" D2 "}},"
    "\"total\":{\"received\":5,\"solved\":3,\"closed\":2,\"withdrawn\":1,\"accepted\":3,"
    "\"rating.5\":1,\"rating.4\":1,\"revisit.asked\":2,\"revisit.answered\":1,"
    "\"revisit.relapsed\":1,\"aspect.态度.5\":1,\"aspect.态度.4\":1,\"other.thing\":7},"
    "\"buckets\":12}";

static json_t *build(void)
{
    json_t *agg = json_loads(AGG, 0, NULL);
    assert_non_null(agg);
    struct report_range r;
    const char *err;
    assert_int_equal(report_range_parse("2026", NULL, NULL, &r, &err), 0);
    json_t *rep = report_build(agg, &r, NULL, names, NULL);
    json_decref(agg);
    assert_non_null(rep);
    return rep;
}

static json_int_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void test_ranges(void **state)
{
    (void)state;
    struct report_range r;
    const char *err = NULL;
    assert_int_equal(report_range_parse("2026", "", NULL, &r, &err), 0);
    assert_string_equal(r.from, "20260101");
    assert_string_equal(r.to, "20261231");
    assert_int_equal(report_range_parse(NULL, "2024-02-01", "2024-02-29", &r, &err), 0);
    assert_string_equal(r.from, "20240201");
    assert_string_equal(r.to, "20240229");
    /* not a day, both, neither, reversed, too long, a bad year */
    const char *bad[][3] = { { NULL, "2025-02-01", "2025-02-29" }, { "2026", "2026-01-01", "2026-01-02" },
                             { NULL, NULL, NULL }, { NULL, "2026-03-01", "2026-02-01" },
                             { NULL, "2010-01-01", "2026-01-01" }, { "26", NULL, NULL },
                             { "20x6", NULL, NULL }, { NULL, "2026-1-01", "2026-01-02" },
                             { NULL, "2026-01-01", NULL } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err = NULL;
        assert_int_equal(report_range_parse(bad[i][0], bad[i][1], bad[i][2], &r, &err), -1);
        assert_non_null(err);
    }
}

static void test_figures(void **state)
{
    (void)state;
    json_t *rep = build();
    json_t *t = json_object_get(rep, "total");
    assert_int_equal(num(t, "received"), 5);
    assert_int_equal(num(t, "accepted"), 3);
    assert_int_equal(num(t, "solved"), 3);
    assert_int_equal(num(t, "closed"), 2);
    assert_int_equal(num(t, "withdrawn"), 1);
    assert_int_equal(num(t, "open"), 1);
    assert_int_equal(num(t, "rated"), 2);
    assert_true(json_real_value(json_object_get(t, "rating_mean")) == 4.5);
    assert_true(json_real_value(json_object_get(t, "solve_rate")) == 0.6);
    assert_true(json_real_value(json_object_get(t, "satisfaction_rate")) == 1.0);
    assert_int_equal(num(json_object_get(t, "ratings"), "4"), 1);
    assert_int_equal(num(json_object_get(t, "ratings"), "1"), 0);
    /* 回头看 and the aspects are figures; other metrics stay as they are */
    assert_int_equal(num(t, "revisited"), 2);
    assert_int_equal(num(t, "relapsed"), 1);
    assert_true(json_real_value(json_object_get(t, "relapse_rate")) == 1.0);
    assert_true(json_real_value(json_object_get(json_object_get(t, "aspect_means"), "态度")) == 4.5);
    assert_int_equal(num(json_object_get(t, "metrics"), "other.thing"), 7);
    assert_null(json_object_get(json_object_get(t, "metrics"), "revisit.asked"));
    assert_null(json_object_get(json_object_get(t, "metrics"), "accepted"));
    assert_string_equal(json_string_value(json_object_get(rep, "from")), "2026-01-01");
    /* rows most cases first, with names */
    json_t *deps = json_object_get(rep, "deputies");
    assert_int_equal(json_array_size(deps), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(deps, 0), "key")), "D1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(deps, 0), "name")), "王丽");
    json_t *d2 = json_array_get(deps, 1);
    assert_true(json_is_null(json_object_get(d2, "rating_mean")));
    assert_true(json_real_value(json_object_get(d2, "solve_rate")) == 0.0);
    /* key problems: the categories, said to be so */
    json_t *kp = json_object_get(rep, "key_problems");
    assert_string_equal(json_string_value(json_object_get(kp, "source")), "categories");
    assert_int_equal(json_array_size(json_object_get(kp, "items")), 2);
    json_decref(rep);
}

static void test_csv(void **state)
{
    (void)state;
    json_t *rep = build();
    char *csv = report_csv(rep);
    assert_non_null(csv);
    const char *want =
        "section,key,name,received,accepted,solved,solve_rate,closed,withdrawn,open,rated,"
        "rating_mean,satisfaction_rate,rating_1,rating_2,rating_3,rating_4,rating_5,"
        "revisited,revisit_rate,relapsed,relapse_rate,aspect_means,metrics\r\n"
        "total,,,5,3,3,0.6,2,1,1,2,4.5,1,0,0,0,1,1,2,0.6667,1,1,态度=4.5,other.thing=7\r\n"
        "station,S01,幸福路<联络站>,3,3,3,1,2,0,0,2,4.5,1,0,0,0,1,1,2,0.6667,1,1,态度=4.5,"
        "other.thing=7\r\n"
        "station,S02,,2,0,0,0,0,1,1,0,,,0,0,0,0,0,0,,0,,,\r\n";
    assert_memory_equal(csv, want, strlen(want));
    assert_non_null(strstr(csv, "deputy,D1,王丽,3,"));
    assert_non_null(strstr(csv, "category,water,,2,"));
    free(csv);
    json_decref(rep);
}

static void test_html(void **state)
{
    (void)state;
    json_t *agg = json_loads(AGG, 0, NULL);
    struct report_range r;
    const char *err;
    assert_int_equal(report_range_parse("2026", NULL, NULL, &r, &err), 0);
    json_t *rep = report_build(agg, &r, "S01", names, NULL);
    json_decref(agg);
    char *html = report_html(rep);
    assert_non_null(html);
    assert_non_null(strstr(html, "<html lang=\"zh-CN\">"));
    assert_non_null(strstr(html, "@media print"));
    /* names are escaped */
    assert_non_null(strstr(html, "幸福路&lt;联络站&gt;"));
    assert_null(strstr(html, "<联络站>"));
    assert_non_null(strstr(html, "2026-01-01 至 2026-12-31"));
    assert_non_null(strstr(html, "<dt>收集意见</dt><dd>5 件"));
    assert_non_null(strstr(html, "解决问题</dt><dd>3 件（解决率 60.0%）"));
    assert_non_null(strstr(html, "平均 4.50 分"));
    assert_non_null(strstr(html, "<h2>分项满意度</h2>"));
    assert_non_null(strstr(html, "<tr><td>态度</td><td>4.50</td></tr>"));
    assert_non_null(strstr(html, "<dt>回访</dt><dd>2 件（占已解决 66.7%）"));
    assert_non_null(strstr(html, "问题反复</dt><dd>1 件（反复率 100.0%）"));
    assert_non_null(strstr(html, "other.thing"));
    free(html);
    json_decref(rep);
}

/* With common issues of at least key_min residents, they are the key
 * problems, named and shown in their own table; without, the categories. */
static void test_key_problems_are_common_issues(void **state)
{
    (void)state;
    json_t *agg = json_loads(AGG, 0, NULL);
    assert_non_null(agg);
    json_object_set_new(agg, "key_min", json_integer(3));
    json_object_set_new(agg, "commons_total", json_integer(1));
    json_object_set_new(agg, "commons", json_loads(
        "[{\"id\":\"R1001\",\"station\":\"S01\",\"category\":\"infra.streetlight\","
        "\"title\":\"\",\"place\":\"幸福路12号\",\"count\":5,\"solved\":true}]", 0, NULL));
    struct report_range r;
    const char *err;
    assert_int_equal(report_range_parse("2026", NULL, NULL, &r, &err), 0);
    json_t *rep = report_build(agg, &r, NULL, names, NULL);
    json_decref(agg);
    json_t *kp = json_object_get(rep, "key_problems");
    assert_string_equal(json_string_value(json_object_get(kp, "source")), "common_issues");
    assert_non_null(strstr(json_string_value(json_object_get(kp, "note")), "3位以上"));
    json_t *item = json_array_get(json_object_get(kp, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "category_name")), "路灯");
    assert_string_equal(json_string_value(json_object_get(item, "station_name")), "幸福路<联络站>");
    char *html = report_html(rep);
    assert_non_null(html);
    assert_non_null(strstr(html, "<tr><td>R1001</td><td>路灯</td><td>幸福路12号</td><td>5</td><td>已办结</td></tr>"));
    free(html);
    json_decref(rep);

    rep = build();
    kp = json_object_get(rep, "key_problems");
    assert_string_equal(json_string_value(json_object_get(kp, "source")), "categories");
    json_decref(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_key_problems_are_common_issues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
