#ifndef MASHANG_ADMIN_STATS_H
#define MASHANG_ADMIN_STATS_H
/* Pure helpers behind the administrators' API (src/admin*.c): case
 * statistics (grouping, medians, overdue), their CSV form, and the
 * parsing of query parameters and case ids.  No I/O, no libevent, so
 * everything here is unit-tested directly. */
#include <stdbool.h>
#include <stddef.h>

enum stats_by { STATS_BY_DEPUTY = 0, STATS_BY_STATION, STATS_BY_CATEGORY };

/* One case as admin.lua's "stats" operation reports it.  Strings are
 * borrowed from the caller (typically a jansson document). Times are
 * Unix seconds, 0 when absent; rating 0 when unrated. */
/* At most this many rating aspects are counted (config rating.aspects). */
#define STATS_ASPECTS_MAX 5

struct stats_record {
    const char *deputy;
    const char *station;
    const char *category;
    const char *state;
    long created, accepted_at, resolved_at;
    int rating;
    long revisit_asked;                /* 回头看: when asked, 0 never */
    int revisits, relapses;            /* answers, and "not held" answers */
    int aspects[STATS_ASPECTS_MAX];    /* 1-5 per configured aspect, 0 unrated */
};

/* One group of cases.  Medians and rating_mean are NAN when the group has
 * no case to measure (rendered as null / empty CSV cell). */
struct stats_row {
    char *key;             /* owned; "" for cases without one (unassigned) */
    long received, accepted, resolved, overdue;
    double resolution_rate;            /* resolved / received */
    double median_hours_to_accept;
    double median_hours_to_resolve;
    double rating_mean;
    long ratings[5];                   /* ratings[0] counts 1s ... [4] 5s */
    /* 回头看: revisited = cases asked; revisit_rate = revisited / cases
     * ever resolved (resolved_at set); relapsed = cases with a "not held"
     * answer; relapse_rate = relapsed / cases with an answer.  NAN when
     * the denominator is 0. */
    long revisited, revisit_answered, relapsed;
    double revisit_rate, relapse_rate;
    double aspect_mean[STATS_ASPECTS_MAX];   /* NAN when none rated it */
};

struct stats_table {
    struct stats_row *rows;            /* owned; sorted by key */
    size_t n;
    /* The aspects the records' scores stand for, in order (borrowed; set
     * by the caller, used by stats_csv for its column names). */
    const char *const *aspects;
    size_t naspects;
};

/* "deputy" | "station" | "category" -> 0 and *out; -1 otherwise. */
int stats_by_parse(const char *s, enum stats_by *out);
const char *stats_by_name(enum stats_by by);

/* Open (new/assigned/accepted/in_progress) and past its deadline:
 * `accept_s` after creation while not yet accepted (new/assigned),
 * `resolve_s` after creation while not yet resolved. */
bool stats_case_overdue(const char *state, long created, long now, long accept_s, long resolve_s);

/* Median of `v` (sorted in place); NAN when n == 0. */
double stats_median(double *v, size_t n);

/* Groups `recs` by `by` into `out` (caller frees with stats_table_free).
 * Returns 0, or -1 on OOM with `out` empty. */
int stats_aggregate(const struct stats_record *recs, size_t n, enum stats_by by, long now,
                    long accept_s, long resolve_s, struct stats_table *out);
void stats_table_free(struct stats_table *t);

/* The counts of one group as the statistics' aggregates keep them
 * (src/store/lua/lib/agg.lua): exact however many cases there are. */
struct stats_counts {
    const char *key;                   /* borrowed */
    long received, accepted, resolved;
    long ratings[5];
};

/* Takes the counts of `t`'s rows (received, accepted, resolved, ratings,
 * and from them resolution_rate and rating_mean) from the `n` groups of
 * `c`, adding a row for a key `t` lacks (its medians NAN, overdue 0: the
 * walk did not reach its cases); rows stay sorted by key, rows without a
 * group keep their own counts.  Returns 0, or -1 on OOM (then `t` has the
 * groups taken so far, still consistent). */
int stats_table_counts(struct stats_table *t, const struct stats_counts *c, size_t n);

/* The table as CSV (RFC 4180, CRLF line ends) with a header line:
 * key,name,received,accepted,resolved,resolution_rate,
 * median_hours_to_accept,median_hours_to_resolve,overdue,rating_mean,
 * rating_1..rating_5,revisited,revisit_rate,relapsed,relapse_rate, then
 * aspect_<name> (the mean) for each of t->aspects.  `names[i]` (may be NULL, or have NULL entries) is
 * the display name of row i.  Returns a malloc'd string (caller frees),
 * NULL on OOM. */
char *stats_csv(const struct stats_table *t, const char *const *names);

/* `field` as one CSV cell, quoted when it holds a comma, quote, CR
 * or LF.  Returns a malloc'd string (caller frees), NULL on OOM. */
char *csv_quote(const char *field);

/* Strict decimal integer in [min, max]; returns 0 and *out, or -1. */
int admin_parse_long(const char *s, long min, long max, long *out);
/* "1"/"true"/"yes" -> 1, "0"/"false"/"no"/"" -> 0, else -1. */
int admin_parse_flag(const char *s);
/* Whether `id` may name an outbox message in the admin API (the daemon
 * checks it, mashangctl too before asking): 1-64 characters of A-Z a-z
 * 0-9 - _ : . */
bool admin_outbox_id_ok(const char *id);
#define ADMIN_OUTBOX_ID_RULE "1-64 characters of A-Z a-z 0-9 - _ : ."

#endif
