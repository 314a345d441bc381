#ifndef MASHANG_ANNUAL_REPORT_H
#define MASHANG_ANNUAL_REPORT_H
/* The annual report (GET /admin/report, mashangctl report): the figures a
 * 代表工委 puts in its year's report, from the aggregates admin.lua's
 * "report" operation sums over a range of days (src/store/lua/lib/agg.lua,
 * docs/admin.md "Annual report").  Pure functions over jansson documents:
 * no I/O, unit-tested directly. */
#include <jansson.h>

enum report_dim { REPORT_DEPUTY = 0, REPORT_STATION, REPORT_CATEGORY, REPORT_DIMS };

/* The display name of `key` (a deputy, station or category id); "" when
 * unknown.  Borrowed: valid until report_build returns. */
typedef const char *(*report_name_fn)(void *ctx, enum report_dim dim, const char *key);

/* Key problems (重点问题) are the common issues with at least this many
 * residents unless the request says otherwise (key_min). */
#define REPORT_KEY_MIN_DEFAULT 3

/* A range of whole days, China time, both included: "YYYYMMDD". */
struct report_range {
    char from[9], to[9];
};

/* The range of `year` ("2026"), or of `from`..`to` ("2026-03-01"), one or
 * the other.  Returns 0, or -1 with *err a short English reason. */
int report_range_parse(const char *year, const char *from, const char *to,
                       struct report_range *out, const char **err);

/* Builds the report document from admin.lua's answer `agg` ({rows:
 * {deputy|station|category: {KEY: {metric: n}}}, total: {metric: n}}):
 * {from, to, station, total: ROW, stations: [ROW], deputies: [ROW],
 * categories: [ROW], key_problems: {source, note, items: [ROW]}} where ROW
 * is {key, name, received, accepted, solved, closed, withdrawn, open,
 * solve_rate, rated, ratings: {"1".."5"}, rating_mean, satisfaction_rate,
 * metrics: {other metric: n}}; lists by received, most first.  `station`
 * may be NULL.  Returns a new reference, NULL on OOM. */
json_t *report_build(json_t *agg, const struct report_range *range, const char *station,
                     report_name_fn name, void *ctx);

/* The report as CSV (RFC 4180, CRLF), one line a row, the first column
 * naming its section (total, station, deputy, category).  As HTML: one
 * printable page in Chinese.  malloc'd (caller frees), NULL on OOM. */
char *report_csv(const json_t *report);
char *report_html(const json_t *report);

#endif
