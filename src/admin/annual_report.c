/* The annual report's figures and its CSV and HTML forms (see
 * annual_report.h).  What a metric means is lib/agg.lua's: every case
 * counts in "received", in "accepted" once taken on, in "solved" while
 * resolved or closed, in "closed" and "withdrawn" while so, in "rating.N"
 * while rated N; all under the day it was opened. */
#include "admin/annual_report.h"

#include "admin/admin_stats.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- range ------------------------------------------------------------- */

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* "YYYY-MM-DD" -> "YYYYMMDD" (a real day of years 2000-2999). */
static int parse_day(const char *s, char out[9])
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    memcpy(out, s, 4);
    memcpy(out + 4, s + 5, 2);
    memcpy(out + 6, s + 8, 2);
    out[8] = '\0';
    return 0;
}

int report_range_parse(const char *year, const char *from, const char *to,
                       struct report_range *out, const char **err)
{
    bool has_year = year && *year, has_range = (from && *from) || (to && *to);
    if (has_year == has_range) {
        *err = "year=YYYY, or from=YYYY-MM-DD and to=YYYY-MM-DD";
        return -1;
    }
    if (has_year) {
        if (strlen(year) != 4 || !all_digits(year, 4) || atoi(year) < 2000) {
            *err = "year: YYYY expected (2000-2999)";
            return -1;
        }
        snprintf(out->from, sizeof(out->from), "%s0101", year);
        snprintf(out->to, sizeof(out->to), "%s1231", year);
        return 0;
    }
    if (parse_day(from, out->from) < 0 || parse_day(to, out->to) < 0) {
        *err = "from, to: YYYY-MM-DD expected, both";
        return -1;
    }
    if (strcmp(out->from, out->to) > 0) {
        *err = "from is after to";
        return -1;
    }
    if (atoi(out->to) / 10000 - atoi(out->from) / 10000 >= 10) {
        *err = "at most ten years";
        return -1;
    }
    return 0;
}

/* ---- figures ----------------------------------------------------------- */

static json_int_t metric(json_t *m, const char *name)
{
    return json_integer_value(json_object_get(m, name));
}

/* A ratio rounded to 4 decimals; null without a denominator. */
static json_t *ratio(double num, double den)
{
    return den > 0 ? json_real(round(num / den * 10000.0) / 10000.0) : json_null();
}

static bool is_rating(const char *name)
{
    return strncmp(name, "rating.", 7) == 0 && name[7] >= '1' && name[7] <= '5' && !name[8];
}

/* "aspect.NAME.S" (S 1-5, lib/agg.lua): the length of NAME, or 0. */
static size_t aspect_name_len(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, "aspect.", 7) != 0 || n < 10 || name[n - 2] != '.' || name[n - 1] < '1' ||
        name[n - 1] > '5')
        return 0;
    return n - 9;
}

/* The metrics a ROW shows as its own figures; the others go to "metrics". */
static bool is_figure(const char *name)
{
    static const char *const own[] = { "received", "accepted", "solved", "closed", "withdrawn",
                                       "revisit.asked", "revisit.answered", "revisit.relapsed" };
    for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
        if (strcmp(name, own[i]) == 0)
            return true;
    return is_rating(name) || aspect_name_len(name) > 0;
}

/* {"态度": mean, …} of the "aspect.NAME.S" metrics of `m`. */
static json_t *aspect_means(json_t *m)
{
    json_t *sums = json_object(), *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        size_t len = aspect_name_len(k);
        if (!len || len >= 64)
            continue;
        char name[64];
        memcpy(name, k + 7, len);
        name[len] = '\0';
        json_t *acc = json_object_get(sums, name);
        if (!acc) {
            acc = json_pack("[I,I]", (json_int_t)0, (json_int_t)0);
            json_object_set_new(sums, name, acc);
        }
        json_int_t n = json_integer_value(v);
        json_array_set_new(acc, 0, json_integer(json_integer_value(json_array_get(acc, 0)) + n));
        json_array_set_new(acc, 1, json_integer(json_integer_value(json_array_get(acc, 1)) +
                                                n * (k[strlen(k) - 1] - '0')));
    }
    json_object_foreach(sums, k, v)
        json_object_set_new(out, k, ratio((double)json_integer_value(json_array_get(v, 1)),
                                          (double)json_integer_value(json_array_get(v, 0))));
    json_decref(sums);
    return out;
}

/* One ROW (annual_report.h) from the metrics `m` of `key`. */
static json_t *row_new(const char *key, const char *name, json_t *m)
{
    json_int_t rated = 0, rating_sum = 0;
    json_t *ratings = json_object(), *other = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        json_int_t n = json_integer_value(v);
        if (is_rating(k)) {
            rated += n;
            rating_sum += n * (k[7] - '0');
        } else if (!is_figure(k)) {
            json_object_set_new(other, k, json_integer(n));
        }
    }
    static const char *const rating[] = { "rating.1", "rating.2", "rating.3", "rating.4", "rating.5" };
    for (int i = 1; i <= 5; i++) {
        char nk[2] = { (char)('0' + i), '\0' };
        json_object_set_new(ratings, nk, json_integer(metric(m, rating[i - 1])));
    }
    json_int_t received = metric(m, "received"), solved = metric(m, "solved");
    json_int_t closed = metric(m, "closed"), withdrawn = metric(m, "withdrawn");
    json_int_t satisfied = metric(m, "rating.4") + metric(m, "rating.5");
    json_t *row = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "key", key, "name", name ? name : "",
                            "received", received, "accepted", metric(m, "accepted"), "solved", solved,
                            "closed", closed, "withdrawn", withdrawn, "open",
                            received - solved - withdrawn, "rated", rated);
    if (!row) {
        json_decref(ratings);
        json_decref(other);
        return NULL;
    }
    json_object_set_new(row, "solve_rate", ratio((double)solved, (double)received));
    json_object_set_new(row, "ratings", ratings);
    json_object_set_new(row, "rating_mean", ratio((double)rating_sum, (double)rated));
    json_object_set_new(row, "satisfaction_rate", ratio((double)satisfied, (double)rated));
    /* 回头看: cases asked whether the fix held, of those solved; relapses of those answered */
    json_int_t asked = metric(m, "revisit.asked"), answered = metric(m, "revisit.answered");
    json_int_t relapsed = metric(m, "revisit.relapsed");
    json_object_set_new(row, "revisited", json_integer(asked));
    json_object_set_new(row, "revisit_rate", ratio((double)asked, (double)solved));
    json_object_set_new(row, "revisit_answered", json_integer(answered));
    json_object_set_new(row, "relapsed", json_integer(relapsed));
    json_object_set_new(row, "relapse_rate", ratio((double)relapsed, (double)answered));
    json_object_set_new(row, "aspect_means", aspect_means(m));
    json_object_set_new(row, "metrics", other);
    return row;
}

static int by_received(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t rx = json_integer_value(json_object_get(x, "received"));
    json_int_t ry = json_integer_value(json_object_get(y, "received"));
    if (rx != ry)
        return rx < ry ? 1 : -1;
    return strcmp(json_string_value(json_object_get(x, "key")), json_string_value(json_object_get(y, "key")));
}

/* The rows of one dimension, most cases first. */
static json_t *rows_of(json_t *by, enum report_dim dim, report_name_fn name, void *ctx)
{
    size_t n = json_object_size(by), i = 0;
    json_t **rows = calloc(n ? n : 1, sizeof(*rows));
    json_t *out = json_array();
    if (!rows || !out)
        goto fail;
    const char *key;
    json_t *m;
    json_object_foreach(by, key, m) {
        rows[i] = row_new(key, name(ctx, dim, key), m);
        if (!rows[i++])
            goto fail;
    }
    qsort(rows, n, sizeof(*rows), by_received);
    for (i = 0; i < n; i++) {
        json_array_append_new(out, rows[i]);
        rows[i] = NULL;
    }
    free(rows);
    return out;
fail:
    for (size_t j = 0; rows && j < n; j++)
        json_decref(rows[j]);
    free(rows);
    json_decref(out);
    return NULL;
}

/* YYYYMMDD -> "YYYY-MM-DD" */
static json_t *iso_day(const char *d)
{
    char s[11];
    snprintf(s, sizeof(s), "%.4s-%.2s-%.2s", d, d + 4, d + 6);
    return json_string(s);
}

/* Key problems (重点问题): the common issues of the range with at least
 * "key_min" residents, most first, as admin.lua's report found them; when
 * there are none, the categories with the most cases, said as such. */
#define KEY_PROBLEMS_MAX 10

static json_t *key_problems(json_t *agg, json_t *out, report_name_fn name, void *ctx)
{
    json_t *commons = json_object_get(agg, "commons");
    json_int_t key_min = json_integer_value(json_object_get(agg, "key_min"));
    char note[160];
    if (json_array_size(commons) > 0) {
        size_t i;
        json_t *c;
        json_array_foreach(commons, i, c) {
            const char *cn = name ? name(ctx, REPORT_CATEGORY, json_string_value(json_object_get(c, "category"))) : NULL;
            const char *sn = name ? name(ctx, REPORT_STATION, json_string_value(json_object_get(c, "station"))) : NULL;
            json_object_set_new(c, "category_name", json_string(cn ? cn : ""));
            json_object_set_new(c, "station_name", json_string(sn ? sn : ""));
        }
        snprintf(note, sizeof(note), "%lld位以上居民反映的共性问题，按反映人数排列（共%lld个）",
                 (long long)key_min, (long long)json_integer_value(json_object_get(agg, "commons_total")));
        return json_pack("{s:s,s:s,s:O}", "source", "common_issues", "note", note, "items", commons);
    }
    json_t *items = json_array(), *cats = json_object_get(out, "categories");
    for (size_t i = 0; items && i < json_array_size(cats) && i < KEY_PROBLEMS_MAX; i++)
        json_array_append(items, json_array_get(cats, i));
    snprintf(note, sizeof(note), "没有%lld位以上居民反映的共性问题，按意见最多的类别列出",
             (long long)(key_min > 0 ? key_min : REPORT_KEY_MIN_DEFAULT));
    return json_pack("{s:s,s:s,s:o}", "source", "categories", "note", note, "items",
                     items ? items : json_array());
}

json_t *report_build(json_t *agg, const struct report_range *range, const char *station,
                     report_name_fn name, void *ctx)
{
    json_t *rows = json_object_get(agg, "rows");
    json_t *total_m = json_object_get(agg, "total");
    json_t *empty = json_object();
    json_t *out = json_object();
    if (!empty || !out)
        goto fail;
    static const char *const dims[] = { "deputy", "station", "category" };
    static const char *const lists[] = { "deputies", "stations", "categories" };
    json_object_set_new(out, "from", iso_day(range->from));
    json_object_set_new(out, "to", iso_day(range->to));
    json_object_set_new(out, "station", station && *station ? json_string(station) : json_null());
    if (station && *station)
        json_object_set_new(out, "station_name", json_string(name(ctx, REPORT_STATION, station)));
    json_t *total = row_new("", "", json_is_object(total_m) ? total_m : empty);
    if (!total)
        goto fail;
    json_object_set_new(out, "total", total);
    for (int d = 0; d < REPORT_DIMS; d++) {
        json_t *by = json_object_get(rows, dims[d]);
        json_t *list = rows_of(json_is_object(by) ? by : empty, (enum report_dim)d, name, ctx);
        if (!list)
            goto fail;
        json_object_set_new(out, lists[d], list);
    }
    json_object_set_new(out, "key_problems", key_problems(agg, out, name, ctx));
    json_decref(empty);
    return out;
fail:
    json_decref(empty);
    json_decref(out);
    return NULL;
}

/* ---- CSV --------------------------------------------------------------- */

static void csv_cell(FILE *f, const char *s)
{
    char *q = csv_quote(s);
    fputs(q ? q : "", f);
    free(q);
    fputc(',', f);
}

/* A number cell: empty for null, integers as such, ratios to 4 decimals. */
static void num_cell(FILE *f, json_t *v, const char *sep)
{
    if (json_is_integer(v))
        fprintf(f, "%lld%s", (long long)json_integer_value(v), sep);
    else if (json_is_real(v))
        fprintf(f, "%.10g%s", json_real_value(v), sep);
    else
        fputs(sep, f);
}

/* One cell of an object's members, "name=value;name=value", then `sep`. */
static void pairs_cell(FILE *f, json_t *o, const char *sep)
{
    char *cell = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&cell, &len);
    if (m) {
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(o, k, v) {
            fprintf(m, "%s%s=", first ? "" : ";", k);
            if (json_is_integer(v))
                fprintf(m, "%lld", (long long)json_integer_value(v));
            else if (json_is_real(v))
                fprintf(m, "%g", json_real_value(v));
            first = false;
        }
        fclose(m);
    }
    char *q = csv_quote(cell ? cell : "");
    fprintf(f, "%s%s", q ? q : "", sep);
    free(q);
    free(cell);
}

static void csv_row(FILE *f, const char *section, json_t *r)
{
    static const char *const nums[] = { "received", "accepted", "solved", "solve_rate", "closed",
                                        "withdrawn", "open", "rated", "rating_mean",
                                        "satisfaction_rate" };
    csv_cell(f, section);
    csv_cell(f, json_string_value(json_object_get(r, "key")));
    csv_cell(f, json_string_value(json_object_get(r, "name")));
    for (size_t i = 0; i < sizeof(nums) / sizeof(*nums); i++)
        num_cell(f, json_object_get(r, nums[i]), ",");
    json_t *ratings = json_object_get(r, "ratings");
    for (int i = 1; i <= 5; i++) {
        char k[2] = { (char)('0' + i), '\0' };
        num_cell(f, json_object_get(ratings, k), ",");
    }
    static const char *const revisits[] = { "revisited", "revisit_rate", "relapsed", "relapse_rate" };
    for (size_t i = 0; i < sizeof(revisits) / sizeof(*revisits); i++)
        num_cell(f, json_object_get(r, revisits[i]), ",");
    pairs_cell(f, json_object_get(r, "aspect_means"), ",");
    /* other metrics (of features the report has no column for) */
    pairs_cell(f, json_object_get(r, "metrics"), "\r\n");
}

/* Closes a memstream: its buffer (*buf, set by fclose) or NULL on error. */
static char *finish(FILE *f, char **buf)
{
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        return NULL;
    }
    return *buf;
}

char *report_csv(const json_t *report)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs("section,key,name,received,accepted,solved,solve_rate,closed,withdrawn,open,rated,"
          "rating_mean,satisfaction_rate,rating_1,rating_2,rating_3,rating_4,rating_5,"
          "revisited,revisit_rate,relapsed,relapse_rate,aspect_means,metrics\r\n",
          f);
    csv_row(f, "total", json_object_get(report, "total"));
    static const char *const lists[] = { "stations", "deputies", "categories" };
    static const char *const sections[] = { "station", "deputy", "category" };
    for (int d = 0; d < 3; d++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(report, lists[d]), i, r)
            csv_row(f, sections[d], r);
    }
    return finish(f, &buf);
}

/* ---- HTML -------------------------------------------------------------- */

static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void html_num(FILE *f, json_t *v)
{
    if (json_is_integer(v))
        fprintf(f, "%lld", (long long)json_integer_value(v));
    else
        fputs("—", f);
}

static void html_pct(FILE *f, json_t *v)
{
    if (json_is_real(v))
        fprintf(f, "%.1f%%", json_real_value(v) * 100.0);
    else
        fputs("—", f);
}

static void html_mean(FILE *f, json_t *v)
{
    if (json_is_real(v))
        fprintf(f, "%.2f", json_real_value(v));
    else
        fputs("—", f);
}

/* The key problems when they are common issues: number, problem, place,
 * residents, and whether it is solved. */
static void html_commons(FILE *f, json_t *items)
{
    fputs("<table><thead><tr><th>编号</th><th>问题</th><th>地点</th><th>反映人数</th><th>办理情况</th>"
          "</tr></thead><tbody>\n", f);
    size_t i;
    json_t *c;
    json_array_foreach(items, i, c) {
        fputs("<tr><td>", f);
        html_text(f, str(c, "id"));
        fputs("</td><td>", f);
        html_text(f, *str(c, "title") ? str(c, "title") : *str(c, "category_name") ? str(c, "category_name")
                                                          : str(c, "category"));
        fputs("</td><td>", f);
        html_text(f, str(c, "place"));
        fputs("</td><td>", f);
        html_num(f, json_object_get(c, "count"));
        fprintf(f, "</td><td>%s</td></tr>\n", json_is_true(json_object_get(c, "solved")) ? "已办结" : "办理中");
    }
    fputs("</tbody></table>\n", f);
}

static void html_table(FILE *f, const char *title, const char *head, json_t *rows)
{
    if (title)
        fprintf(f, "<h2>%s</h2>\n", title);
    if (json_array_size(rows) == 0) {
        fputs("<p>无</p>\n", f);
        return;
    }
    fprintf(f, "<table><thead><tr><th>%s</th><th>收集意见</th><th>已受理</th><th>解决问题</th>"
               "<th>解决率</th><th>办理中</th><th>撤回</th><th>评价数</th><th>平均评分</th>"
               "<th>满意率</th></tr></thead><tbody>\n", head);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        fputs("<tr><td>", f);
        html_text(f, *str(r, "name") ? str(r, "name") : *str(r, "key") ? str(r, "key") : "（未分派）");
        if (*str(r, "name") && *str(r, "key")) {
            fputs(" <span class=\"id\">", f);
            html_text(f, str(r, "key"));
            fputs("</span>", f);
        }
        fputs("</td>", f);
        static const char *const nums[] = { "received", "accepted", "solved" };
        for (size_t k = 0; k < 3; k++) {
            fputs("<td>", f);
            html_num(f, json_object_get(r, nums[k]));
            fputs("</td>", f);
        }
        fputs("<td>", f);
        html_pct(f, json_object_get(r, "solve_rate"));
        fputs("</td><td>", f);
        html_num(f, json_object_get(r, "open"));
        fputs("</td><td>", f);
        html_num(f, json_object_get(r, "withdrawn"));
        fputs("</td><td>", f);
        html_num(f, json_object_get(r, "rated"));
        fputs("</td><td>", f);
        html_mean(f, json_object_get(r, "rating_mean"));
        fputs("</td><td>", f);
        html_pct(f, json_object_get(r, "satisfaction_rate"));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static const char CSS[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"Microsoft YaHei\",sans-serif;"
    "margin:2em auto;max-width:60em;color:#111;line-height:1.5}"
    "h1{text-align:center;font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #999;"
    "margin-top:1.5em}table{border-collapse:collapse;width:100%;font-size:.95em}"
    "th,td{border:1px solid #999;padding:.25em .5em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#eee}"
    ".id{color:#666;font-size:.85em}.meta{text-align:center;color:#444}"
    "dl.summary{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}dl.summary dt{font-weight:bold}"
    "@media print{@page{size:A4;margin:15mm}body{margin:0;max-width:none;font-size:10.5pt}"
    "thead{display:table-header-group}tr{page-break-inside:avoid}h2{page-break-after:avoid}"
    "th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".noprint{display:none}}";

char *report_html(const json_t *report_c)
{
    json_t *report = (json_t *)report_c; /* jansson's getters take non-const */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    json_t *t = json_object_get(report, "total");
    const char *from = str(report, "from"), *to = str(report, "to");
    const char *sname = str(report, "station_name");
    if (!*sname)
        sname = str(report, "station");
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n<title>", f);
    html_text(f, *sname ? sname : "全部联络站");
    fprintf(f, " 意见办理年度报告</title>\n<style>%s</style></head><body>\n<h1>", CSS);
    html_text(f, *sname ? sname : "全部联络站");
    fputs(" 群众意见办理情况报告</h1>\n<p class=\"meta\">统计期间：", f);
    html_text(f, from);
    fputs(" 至 ", f);
    html_text(f, to);
    fputs("（按意见收到的日期统计）</p>\n"
          "<p class=\"noprint\"><button onclick=\"window.print()\">打印</button></p>\n", f);

    fputs("<h2>总体情况</h2>\n<dl class=\"summary\">", f);
    fputs("<dt>收集意见</dt><dd>", f);
    html_num(f, json_object_get(t, "received"));
    fputs(" 件</dd><dt>已受理</dt><dd>", f);
    html_num(f, json_object_get(t, "accepted"));
    fputs(" 件</dd><dt>解决问题</dt><dd>", f);
    html_num(f, json_object_get(t, "solved"));
    fputs(" 件（解决率 ", f);
    html_pct(f, json_object_get(t, "solve_rate"));
    fputs("）</dd><dt>办理中</dt><dd>", f);
    html_num(f, json_object_get(t, "open"));
    fputs(" 件</dd><dt>群众评价</dt><dd>", f);
    html_num(f, json_object_get(t, "rated"));
    fputs(" 件，平均 ", f);
    html_mean(f, json_object_get(t, "rating_mean"));
    fputs(" 分，满意率（4-5分）", f);
    html_pct(f, json_object_get(t, "satisfaction_rate"));
    fputs("</dd></dl>\n", f);

    json_t *means = json_object_get(t, "aspect_means");
    if (json_object_size(means) > 0) {
        fputs("<h2>分项满意度</h2>\n<table><thead><tr><th>方面</th><th>平均分</th></tr></thead><tbody>\n", f);
        const char *k;
        json_t *v;
        json_object_foreach(means, k, v) {
            fputs("<tr><td>", f);
            html_text(f, k);
            fputs("</td><td>", f);
            html_mean(f, v);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }
    if (json_integer_value(json_object_get(t, "revisited")) > 0) {
        fputs("<h2>回头看</h2>\n<dl class=\"summary\"><dt>回访</dt><dd>", f);
        html_num(f, json_object_get(t, "revisited"));
        fputs(" 件（占已解决 ", f);
        html_pct(f, json_object_get(t, "revisit_rate"));
        fputs("）</dd><dt>群众答复</dt><dd>", f);
        html_num(f, json_object_get(t, "revisit_answered"));
        fputs(" 件</dd><dt>问题反复</dt><dd>", f);
        html_num(f, json_object_get(t, "relapsed"));
        fputs(" 件（反复率 ", f);
        html_pct(f, json_object_get(t, "relapse_rate"));
        fputs("）</dd></dl>\n", f);
    }

    fputs("<h2>满意度分布</h2>\n<table><thead><tr><th>评分</th>", f);
    for (int i = 1; i <= 5; i++)
        fprintf(f, "<th>%d分</th>", i);
    fputs("</tr></thead><tbody><tr><td>件数</td>", f);
    for (int i = 1; i <= 5; i++) {
        char k[2] = { (char)('0' + i), '\0' };
        fputs("<td>", f);
        html_num(f, json_object_get(json_object_get(t, "ratings"), k));
        fputs("</td>", f);
    }
    fputs("</tr></tbody></table>\n", f);

    json_t *kp = json_object_get(report, "key_problems");
    fputs("<h2>重点问题</h2>\n<p>", f);
    html_text(f, str(kp, "note"));
    fputs("</p>\n", f);
    if (strcmp(str(kp, "source"), "common_issues") == 0)
        html_commons(f, json_object_get(kp, "items"));
    else
        html_table(f, NULL, "类别", json_object_get(kp, "items"));
    html_table(f, "各联络站", "联络站", json_object_get(report, "stations"));
    html_table(f, "各代表", "代表", json_object_get(report, "deputies"));
    html_table(f, "各类别", "类别", json_object_get(report, "categories"));

    json_t *other = json_object_get(t, "metrics");
    if (json_object_size(other) > 0) {
        fputs("<h2>其他指标</h2>\n<table><tbody>\n", f);
        const char *k;
        json_t *v;
        json_object_foreach(other, k, v) {
            fputs("<tr><td>", f);
            html_text(f, k);
            fprintf(f, "</td><td>%lld</td></tr>\n", (long long)json_integer_value(v));
        }
        fputs("</tbody></table>\n", f);
    }
    fputs("</body></html>\n", f);
    return finish(f, &buf);
}
