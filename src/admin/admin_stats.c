/* Case statistics and the small parsers of the administrators' API.
 * Pure functions: the HTTP side lives in src/admin/admin_report.c. */
#include "admin/admin_stats.h"

#include "core/lifecycle.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const by_names[] = { "deputy", "station", "category" };

int stats_by_parse(const char *s, enum stats_by *out)
{
    for (size_t i = 0; s && i < sizeof(by_names) / sizeof(*by_names); i++) {
        if (strcmp(s, by_names[i]) == 0) {
            *out = (enum stats_by)i;
            return 0;
        }
    }
    return -1;
}

const char *stats_by_name(enum stats_by by)
{
    return (unsigned)by < sizeof(by_names) / sizeof(*by_names) ? by_names[by] : "?";
}

static bool state_in(const char *state, const char *const *set)
{
    for (; state && *set; set++)
        if (strcmp(state, *set) == 0)
            return true;
    return false;
}

static const char *const accepted_states[] = { "accepted", "in_progress", "resolved", "closed", NULL };
static const char *const resolved_states[] = { "resolved", "closed", NULL };

/* The one "overdue" (src/core/schema.def, "deadline"): lifecycle.c's
 * case_overdue.  The deadlines use only the accept and resolve windows;
 * a deadline that named another would need it passed here. */
bool stats_case_overdue(const char *state, long created, long now, long accept_s, long resolve_s)
{
    int s = case_state_parse(state);
    long timers[CASE_TIMER_COUNT];
    for (int t = 0; t < CASE_TIMER_COUNT; t++)
        timers[t] = LONG_MAX;
    timers[CASE_TIMER_ACCEPT] = accept_s;
    timers[CASE_TIMER_RESOLVE] = resolve_s;
    return s >= 0 && case_overdue((enum case_state)s, created, now, timers);
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof(*v), double_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static const char *record_key(const struct stats_record *r, enum stats_by by)
{
    const char *k = by == STATS_BY_DEPUTY ? r->deputy : by == STATS_BY_STATION ? r->station : r->category;
    return k ? k : "";
}

/* qsort over pointers to records needs the grouping field: carried in a
 * small pair rather than a global. */
struct keyed {
    const char *key;
    const struct stats_record *rec;
};

static int keyed_cmp(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Fills `row` from the run `k[0..n)` of records sharing one key.
 * `scratch` has room for n doubles. */
static void fill_row(struct stats_row *row, const struct keyed *k, size_t n, long now,
                     long accept_s, long resolve_s, double *scratch)
{
    size_t nacc = 0, nres = 0, nrated = 0;
    long rating_sum = 0, ever_resolved = 0;
    long aspect_sum[STATS_ASPECTS_MAX] = { 0 }, aspect_n[STATS_ASPECTS_MAX] = { 0 };
    for (size_t i = 0; i < n; i++) {
        const struct stats_record *r = k[i].rec;
        ever_resolved += r->resolved_at > 0;
        row->revisited += r->revisit_asked > 0;
        row->revisit_answered += r->revisits > 0;
        row->relapsed += r->relapses > 0;
        for (int a = 0; a < STATS_ASPECTS_MAX; a++) {
            if (r->aspects[a] >= 1 && r->aspects[a] <= 5) {
                aspect_sum[a] += r->aspects[a];
                aspect_n[a]++;
            }
        }
        row->received++;
        if (r->accepted_at > 0 || state_in(r->state, accepted_states))
            row->accepted++;
        if (state_in(r->state, resolved_states))
            row->resolved++;
        if (stats_case_overdue(r->state, r->created, now, accept_s, resolve_s))
            row->overdue++;
        if (r->rating >= 1 && r->rating <= 5) {
            row->ratings[r->rating - 1]++;
            rating_sum += r->rating;
            nrated++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct stats_record *r = k[i].rec;
        if (r->accepted_at > 0 && r->created > 0 && r->accepted_at >= r->created)
            scratch[nacc++] = (double)(r->accepted_at - r->created) / 3600.0;
    }
    row->median_hours_to_accept = stats_median(scratch, nacc);
    for (size_t i = 0; i < n; i++) {
        const struct stats_record *r = k[i].rec;
        if (state_in(r->state, resolved_states) && r->resolved_at > 0 && r->created > 0 &&
            r->resolved_at >= r->created)
            scratch[nres++] = (double)(r->resolved_at - r->created) / 3600.0;
    }
    row->median_hours_to_resolve = stats_median(scratch, nres);
    row->resolution_rate = row->received ? (double)row->resolved / (double)row->received : 0.0;
    row->rating_mean = nrated ? (double)rating_sum / (double)nrated : NAN;
    row->revisit_rate = ever_resolved ? (double)row->revisited / (double)ever_resolved : NAN;
    row->relapse_rate = row->revisit_answered ? (double)row->relapsed / (double)row->revisit_answered : NAN;
    for (int a = 0; a < STATS_ASPECTS_MAX; a++)
        row->aspect_mean[a] = aspect_n[a] ? (double)aspect_sum[a] / (double)aspect_n[a] : NAN;
}

int stats_aggregate(const struct stats_record *recs, size_t n, enum stats_by by, long now,
                    long accept_s, long resolve_s, struct stats_table *out)
{
    out->rows = NULL;
    out->n = 0;
    out->aspects = NULL;
    out->naspects = 0;
    if (n == 0)
        return 0;
    struct keyed *k = malloc(n * sizeof(*k));
    double *scratch = malloc(n * sizeof(*scratch));
    if (!k || !scratch)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        k[i].key = record_key(&recs[i], by);
        k[i].rec = &recs[i];
    }
    qsort(k, n, sizeof(*k), keyed_cmp);

    size_t groups = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(k[i].key, k[i - 1].key) != 0)
            groups++;
    out->rows = calloc(groups, sizeof(*out->rows));
    if (!out->rows)
        goto oom;
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && strcmp(k[end].key, k[start].key) == 0; end++)
            ;
        struct stats_row *row = &out->rows[out->n];
        row->key = strdup(k[start].key);
        if (!row->key)
            goto oom;
        out->n++;
        fill_row(row, k + start, end - start, now, accept_s, resolve_s, scratch);
    }
    free(k);
    free(scratch);
    return 0;
oom:
    free(k);
    free(scratch);
    stats_table_free(out);
    return -1;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct stats_row *)a)->key, ((const struct stats_row *)b)->key);
}

int stats_table_counts(struct stats_table *t, const struct stats_counts *c, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = c[i].key ? c[i].key : "";
        struct stats_row *row = NULL;
        for (size_t j = 0; j < t->n && !row; j++)
            if (strcmp(t->rows[j].key, key) == 0)
                row = &t->rows[j];
        if (!row) {
            char *k = strdup(key);
            struct stats_row *rows = k ? realloc(t->rows, (t->n + 1) * sizeof(*rows)) : NULL;
            if (!rows) {
                free(k);
                rc = -1;
                break;
            }
            t->rows = rows;
            row = &t->rows[t->n++];
            *row = (struct stats_row){ .key = k, .median_hours_to_accept = NAN,
                                       .median_hours_to_resolve = NAN };
        }
        row->received = c[i].received;
        row->accepted = c[i].accepted;
        row->resolved = c[i].resolved;
        long rated = 0, sum = 0;
        for (int r = 0; r < 5; r++) {
            row->ratings[r] = c[i].ratings[r];
            rated += c[i].ratings[r];
            sum += c[i].ratings[r] * (r + 1);
        }
        row->resolution_rate = row->received ? (double)row->resolved / (double)row->received : 0.0;
        row->rating_mean = rated ? (double)sum / (double)rated : NAN;
    }
    if (t->n > 1)
        qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
    return rc;
}

void stats_table_free(struct stats_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].key);
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

/* A growing string; `failed` latches the first OOM so callers check once. */
struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

char *csv_quote(const char *field)
{
    if (!field)
        field = "";
    if (!strpbrk(field, ",\"\r\n"))
        return strdup(field);
    size_t quotes = 0;
    for (const char *p = field; *p; p++)
        quotes += *p == '"';
    size_t n = strlen(field);
    char *out = malloc(n + quotes + 3);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '"';
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            *o++ = '"';
        *o++ = *p;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static void sb_field(struct sbuf *b, const char *field)
{
    char *q = csv_quote(field);
    if (!q) {
        b->failed = true;
        return;
    }
    sb_add(b, "%s,", q);
    free(q);
}

/* A number cell: empty for NAN, otherwise up to 4 decimals without
 * trailing zeros, so spreadsheets and tests read the same value. */
static void sb_number(struct sbuf *b, double v, const char *sep)
{
    if (isnan(v))
        sb_add(b, "%s", sep);
    else
        sb_add(b, "%.10g%s", round(v * 10000.0) / 10000.0, sep);
}

char *stats_csv(const struct stats_table *t, const char *const *names)
{
    struct sbuf b = { 0 };
    sb_add(&b, "key,name,received,accepted,resolved,resolution_rate,median_hours_to_accept,"
               "median_hours_to_resolve,overdue,rating_mean,rating_1,rating_2,rating_3,"
               "rating_4,rating_5,revisited,revisit_rate,relapsed,relapse_rate");
    for (size_t a = 0; a < t->naspects && a < STATS_ASPECTS_MAX; a++) {
        char head[64];
        snprintf(head, sizeof(head), "aspect_%s", t->aspects[a]);
        char *q = csv_quote(head);
        if (!q)
            b.failed = true;
        sb_add(&b, ",%s", q ? q : "");
        free(q);
    }
    sb_add(&b, "\r\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct stats_row *r = &t->rows[i];
        sb_field(&b, r->key);
        sb_field(&b, names && names[i] ? names[i] : "");
        sb_add(&b, "%ld,%ld,%ld,", r->received, r->accepted, r->resolved);
        sb_number(&b, r->resolution_rate, ",");
        sb_number(&b, r->median_hours_to_accept, ",");
        sb_number(&b, r->median_hours_to_resolve, ",");
        sb_add(&b, "%ld,", r->overdue);
        sb_number(&b, r->rating_mean, ",");
        sb_add(&b, "%ld,%ld,%ld,%ld,%ld,", r->ratings[0], r->ratings[1], r->ratings[2],
               r->ratings[3], r->ratings[4]);
        sb_add(&b, "%ld,", r->revisited);
        sb_number(&b, r->revisit_rate, ",");
        sb_add(&b, "%ld,", r->relapsed);
        sb_number(&b, r->relapse_rate, "");
        for (size_t a = 0; a < t->naspects && a < STATS_ASPECTS_MAX; a++) {
            sb_add(&b, ",");
            sb_number(&b, r->aspect_mean[a], "");
        }
        sb_add(&b, "\r\n");
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int admin_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int admin_parse_flag(const char *s)
{
    if (!s || !*s || strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
        return 0;
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
        return 1;
    return -1;
}

bool admin_outbox_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= 64 &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:.") == n;
}
