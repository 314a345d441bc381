/* mashangctl cases|deputies|stats|reload|outbox and intents
 * corrections|review: the administrators' commands, each one request to the daemon's admin API (contract §1, §3)
 * printed as a readable table.  Blocking libcurl: fine for a CLI. */
#include "cli/ctl_admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin/admin_stats.h"
#include "base/utf8.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

/* ---- pure helpers ------------------------------------------------------ */

static bool is_wide(unsigned long cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t ctl_display_width(const char *s)
{
    size_t w = 0, len = s ? strlen(s) : 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode_lossy(s + i, len - i, &cp); /* a cut sequence counts as one */
        if (cp >= 0x0300 && cp <= 0x036F)
            continue; /* combining marks take no column */
        w += is_wide(cp) ? 2 : 1;
    }
    return w;
}

const char *ctl_pad(const char *s, size_t width, char *buf, size_t bufsz)
{
    if (!bufsz)
        return buf;
    s = s ? s : "";
    size_t len = strlen(s), w = ctl_display_width(s);
    if (len >= bufsz)
        len = bufsz - 1;
    memcpy(buf, s, len);
    while (w < width && len + 1 < bufsz) {
        buf[len++] = ' ';
        w++;
    }
    buf[len] = '\0';
    return buf;
}

const char *ctl_format_age(long seconds, char *buf, size_t bufsz)
{
    if (seconds < 0)
        snprintf(buf, bufsz, "-");
    else if (seconds < 60)
        snprintf(buf, bufsz, "%lds", seconds);
    else if (seconds < 3600)
        snprintf(buf, bufsz, "%ldm", seconds / 60);
    else if (seconds < 86400)
        snprintf(buf, bufsz, "%ldh", seconds / 3600);
    else if (seconds % 86400 >= 3600)
        snprintf(buf, bufsz, "%ldd%ldh", seconds / 86400, seconds % 86400 / 3600);
    else
        snprintf(buf, bufsz, "%ldd", seconds / 86400);
    return buf;
}

/* ---- tables ------------------------------------------------------------ */

#define TABLE_MAX_COLS 16

/* Rows of owned cell strings, printed with columns padded to fit. */
struct table {
    size_t ncols;
    const char *head[TABLE_MAX_COLS];
    char **cells;          /* nrows * ncols, owned */
    size_t nrows, cap;
};

static int table_add(struct table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
        if (!c)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = strdup(row[i] ? row[i] : "");
    t->nrows++;
    return 0;
}

static void table_print(const struct table *t, FILE *out)
{
    size_t w[TABLE_MAX_COLS];
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = ctl_display_width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = ctl_display_width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    }
    char buf[1024];
    for (size_t c = 0; c < t->ncols; c++)
        fprintf(out, "%s%s", c + 1 < t->ncols ? ctl_pad(t->head[c], w[c] + 2, buf, sizeof(buf)) : t->head[c],
                c + 1 < t->ncols ? "" : "\n");
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fprintf(out, "%s%s", c + 1 < t->ncols ? ctl_pad(cell, w[c] + 2, buf, sizeof(buf)) : cell,
                    c + 1 < t->ncols ? "" : "\n");
        }
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* Prints the array `member` of `doc` as table `t`, one row an element
 * made by `row` (which calls table_add); returns the number of rows. */
static size_t table_show(struct table *t, json_t *doc, const char *member,
                         void (*row)(struct table *t, json_t *elem))
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, member), i, e)
        row(t, e);
    table_print(t, stdout);
    size_t n = t->nrows;
    table_free(t);
    return n;
}

/* ---- HTTP -------------------------------------------------------------- */

struct conn {
    const char *url;
    const char *token;
    const char *tenant;    /* a county of a many-county deployment, or NULL */
};

struct response {
    long status;
    char *body;            /* owned, NUL-terminated */
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct response *r = arg;
    size_t n = size * nmemb;
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, ptr, n);
    r->len += n;
    b[r->len] = '\0';
    r->body = b;
    return n;
}

/* One request; returns 0 with `out` filled (any HTTP status), or -1 after
 * printing why the daemon could not be reached. */
static int request(const struct conn *c, const char *method, const char *path, const char *body,
                   const char *accept, struct response *out)
{
    memset(out, 0, sizeof(*out));
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "mashangctl: cannot initialise libcurl\n");
        return -1;
    }
    /* With a county named, its API is /admin/tenants/<id>/…; the county's
     * own token reaches the same through the plain paths. */
    char scoped[1024];
    if (c->tenant && *c->tenant && strncmp(path, "/admin/", 7) == 0 &&
        strcmp(path, "/admin/reload") != 0 && strncmp(path, "/admin/tenants", 14) != 0) {
        snprintf(scoped, sizeof(scoped), "/admin/tenants/%s/%s", c->tenant, path + 7);
        path = scoped;
    }
    size_t n = strlen(c->url) + strlen(path) + 1;
    char *url = malloc(n);
    char *auth = malloc(strlen(c->token) + 32);
    struct curl_slist *hdr = NULL;
    int rc = -1;
    if (!url || !auth)
        goto done;
    /* the base URL may end with '/': the path starts with one */
    snprintf(url, n, "%.*s%s", (int)(strlen(c->url) - (c->url[strlen(c->url) - 1] == '/')), c->url, path);
    sprintf(auth, "Authorization: Bearer %s", c->token);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, accept ? accept : "Accept: application/json");
    if (body)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cr = curl_easy_perform(h);
    if (cr != CURLE_OK) {
        fprintf(stderr, "mashangctl: %s: %s\n", c->url, curl_easy_strerror(cr));
        free(out->body);
        out->body = NULL;
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body) {
        out->body = strdup("");
        if (!out->body)
            goto done;
    }
    rc = 0;
done:
    curl_slist_free_all(hdr);
    free(auth);
    free(url);
    curl_easy_cleanup(h);
    return rc;
}

/* GET/POST and parse: returns the JSON document of a 2xx answer, or NULL
 * after printing the server's error (or why there was no answer). */
static json_t *call_json(const struct conn *c, const char *method, const char *path, const char *body)
{
    struct response r;
    if (request(c, method, path, body, NULL, &r) < 0)
        return NULL;
    json_t *doc = json_loads(r.body, 0, NULL);
    if (r.status < 200 || r.status >= 300) {
        const char *err = json_string_value(json_object_get(doc, "error"));
        const char *detail = json_string_value(json_object_get(doc, "detail"));
        fprintf(stderr, "mashangctl: HTTP %ld: %s%s%s\n", r.status, err ? err : r.body,
                detail ? ": " : "", detail ? detail : "");
        json_decref(doc);
        doc = NULL;
    } else if (!doc) {
        fprintf(stderr, "mashangctl: HTTP %ld: answer is not JSON\n", r.status);
    }
    free(r.body);
    return doc;
}

static void print_json(json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (s) {
        puts(s);
        free(s);
    }
}

/* ---- query strings ----------------------------------------------------- */

/* A growing "?a=b&c=d" (values escaped by libcurl). */
struct query {
    char s[2048];
    size_t len;
    bool overflow;
};

static void query_add(struct query *q, const char *key, const char *value)
{
    if (!value)
        return;
    char *esc = curl_easy_escape(NULL, value, 0);
    if (!esc) {
        q->overflow = true;
        return;
    }
    int n = snprintf(q->s + q->len, sizeof(q->s) - q->len, "%c%s=%s", q->len ? '&' : '?', key, esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(q->s) - q->len)
        q->overflow = true;
    else
        q->len += (size_t)n;
}

/* ---- options ----------------------------------------------------------- */

/* What the commands accept; each command uses the fields it knows. */
struct opts {
    struct conn conn;
    const char *state, *deputy, *station, *category, *from, *to, *limit, *by, *note, *label;
    const char *year, *batch;
    bool overdue, json, csv, html;
    const char *pos[4];    /* positional arguments after the command name */
    size_t npos;
};

static int usage(void)
{
    fprintf(stderr,
            "usage: mashangctl COMMAND ... [--url URL] [--token TOKEN] [--tenant ID]\n"
            "  cases list [--state S] [--deputy D] [--station S] [--category C] [--from T] [--to T]\n"
            "             [--overdue] [--limit N] [--json]\n"
            "  cases show ID [--json]\n"
            "  cases assign ID DEPUTY [--note TEXT]\n"
            "  cases label ID CATEGORY\n"
            "  cases note ID TEXT\n"
            "  cases withdraw ID REASON\n"
            "  deputies [--json]\n"
            "  common [list] [--station S] [--limit N] [--json] | common split ID | common join ID INTO\n"
            "  stats [--by deputy|station|category] [--from T] [--to T] [--csv|--json]\n"
            "  stats rebuild [--batch N]\n"
            "  report --year YYYY | --from YYYY-MM-DD --to YYYY-MM-DD [--station S] [--csv|--html|--json]\n"
            "  reload\n"
            "  outbox dead [--limit N] [--json] | outbox retry [ID]\n"
            "  outbox uncertain [--limit N] [--json] | outbox uncertain resend|drop ID\n"
            "  intents corrections [--label CATEGORY] [--from T] [--limit N] [--json]\n"
            "  intents review [--limit N] [--json]\n"
            "  tenants [--json]\n"
            "URL defaults to $MASHANG_URL or " DEFAULT_URL "; TOKEN to $MASHANG_ADMIN_TOKEN;\n"
            "ID (a county, with the top-level token) to $MASHANG_TENANT.\n");
    return 2;
}

/* Calls the API; with --json prints the answer itself and returns NULL
 * with *rc = 0, on failure NULL with *rc = 1; else the document to show. */
static json_t *fetch(const struct opts *o, const char *method, const char *path, const char *body,
                     int *rc)
{
    json_t *doc = call_json(&o->conn, method, path, body);
    *rc = doc ? 0 : 1;
    if (doc && o->json) {
        print_json(doc);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* GETs `base` with the query `q` through fetch(): NULL with *rc 2 when
 * the query did not fit, else as fetch(). */
static json_t *fetch_query(const struct opts *o, const char *base, const struct query *q, int *rc)
{
    if (q->overflow) {
        fprintf(stderr, "mashangctl: filter too long\n");
        *rc = 2;
        return NULL;
    }
    char path[2200];
    snprintf(path, sizeof(path), "%s%s", base, q->s);
    return fetch(o, "GET", path, NULL, rc);
}

/* Options and positional arguments from argv[first] on. */
static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->conn.url = getenv("MASHANG_URL");
    if (!o->conn.url || !*o->conn.url)
        o->conn.url = DEFAULT_URL;
    o->conn.token = getenv("MASHANG_ADMIN_TOKEN");
    o->conn.tenant = getenv("MASHANG_TENANT");
    static const struct { const char *name; size_t off; } valued[] = {
        { "--url", offsetof(struct opts, conn.url) },
        { "--token", offsetof(struct opts, conn.token) },
        { "--tenant", offsetof(struct opts, conn.tenant) },
        { "--state", offsetof(struct opts, state) },
        { "--deputy", offsetof(struct opts, deputy) },
        { "--station", offsetof(struct opts, station) },
        { "--category", offsetof(struct opts, category) },
        { "--from", offsetof(struct opts, from) },
        { "--to", offsetof(struct opts, to) },
        { "--limit", offsetof(struct opts, limit) },
        { "--by", offsetof(struct opts, by) },
        { "--note", offsetof(struct opts, note) },
        { "--label", offsetof(struct opts, label) },
        { "--year", offsetof(struct opts, year) },
        { "--batch", offsetof(struct opts, batch) },
    };
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        bool done = false;
        for (size_t k = 0; k < sizeof(valued) / sizeof(*valued) && !done; k++) {
            size_t n = strlen(valued[k].name);
            if (strncmp(a, valued[k].name, n) != 0 || (a[n] != '\0' && a[n] != '='))
                continue;
            const char *v = a[n] == '=' ? a + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "mashangctl: %s needs a value\n", valued[k].name);
                return -1;
            }
            *(const char **)((char *)o + valued[k].off) = v;
            done = true;
        }
        if (done)
            continue;
        if (strcmp(a, "--overdue") == 0)
            o->overdue = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--csv") == 0)
            o->csv = true;
        else if (strcmp(a, "--html") == 0)
            o->html = true;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "mashangctl: unknown option %s\n", a);
            return -1;
        } else if (o->npos < sizeof(o->pos) / sizeof(*o->pos)) {
            o->pos[o->npos++] = a;
        } else {
            fprintf(stderr, "mashangctl: too many arguments\n");
            return -1;
        }
    }
    if (!o->conn.token || !*o->conn.token) {
        fprintf(stderr, "mashangctl: no admin token: use --token or set MASHANG_ADMIN_TOKEN\n");
        return -1;
    }
    return 0;
}

/* ---- cell formatting --------------------------------------------------- */

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *num_of(json_t *o, const char *key, char *buf, size_t bufsz)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, bufsz, "%.2f", json_real_value(v));
    else
        snprintf(buf, bufsz, "-");
    return buf;
}

/* The integer at `key` in *v; false, with "-" in `buf`, when there is none. */
static bool int_of(json_t *o, const char *key, json_int_t *v, char *buf, size_t bufsz)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j)) {
        snprintf(buf, bufsz, "-");
        return false;
    }
    *v = json_integer_value(j);
    return true;
}

static const char *time_of(json_t *o, const char *key, char *buf, size_t bufsz)
{
    json_int_t v;
    if (!int_of(o, key, &v, buf, bufsz))
        return buf;
    time_t t = (time_t)v;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, bufsz, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

static const char *age_of(json_t *o, const char *key, char *buf, size_t bufsz)
{
    json_int_t v;
    if (!int_of(o, key, &v, buf, bufsz))
        return buf;
    return ctl_format_age((long)(time(NULL) - (time_t)v), buf, bufsz);
}

/* "王丽 D0412" or the id alone. */
static const char *who(json_t *o, const char *id_key, const char *name_key, char *buf, size_t bufsz)
{
    const char *id = str_of(o, id_key), *name = str_of(o, name_key);
    snprintf(buf, bufsz, "%s%s%s", name, *name && *id ? " " : "", *id ? id : (*name ? "" : "-"));
    return buf;
}

/* ---- commands ---------------------------------------------------------- */

/* A case's category as people read it: its display name, else its key. */
static const char *category_of(json_t *c)
{
    return *str_of(c, "category_name") ? str_of(c, "category_name") : str_of(c, "category");
}

static void case_row(struct table *t, json_t *c)
{
    char dep[128], age[32];
    const char *row[] = { str_of(c, "id"), str_of(c, "state"), category_of(c),
                          who(c, "deputy", "deputy_name", dep, sizeof(dep)),
                          age_of(c, "created", age, sizeof(age)),
                          json_is_true(json_object_get(c, "overdue")) ? "yes" : "" };
    table_add(t, row);
}

static int cases_list(const struct opts *o)
{
    struct query q = { .len = 0 };
    query_add(&q, "state", o->state);
    query_add(&q, "deputy", o->deputy);
    query_add(&q, "station", o->station);
    query_add(&q, "category", o->category);
    query_add(&q, "from", o->from);
    query_add(&q, "to", o->to);
    query_add(&q, "limit", o->limit);
    if (o->overdue)
        query_add(&q, "overdue", "1");
    int rc;
    json_t *doc = fetch_query(o, "/admin/cases", &q, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 6, .head = { "ID", "STATE", "CATEGORY", "DEPUTY", "AGE", "OVERDUE" } };
    size_t n = table_show(&t, doc, "cases", case_row);
    printf("%zu case(s)%s\n", n, json_is_true(json_object_get(doc, "truncated")) ? " (scan truncated)" : "");
    json_decref(doc);
    return 0;
}

/* The API path of case `id` (URL-escaped) followed by `tail` ("",
 * "/assign"); 0, or -1 when out of memory or too long. */
static int case_path(const char *id, const char *tail, char *path, size_t size)
{
    char *esc = curl_easy_escape(NULL, id, 0);
    if (!esc)
        return -1;
    int n = snprintf(path, size, "/admin/cases/%s%s", esc, tail);
    curl_free(esc);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* POSTs `body` (consumed; NULL when building it failed) as JSON to
 * `tail` of the case named by the first argument; returns the answer
 * (the caller frees it) or NULL, reported. */
static json_t *post_case(const struct opts *o, const char *tail, json_t *body)
{
    char path[256];
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_t *doc = b && case_path(o->pos[1], tail, path, sizeof(path)) == 0
                      ? call_json(&o->conn, "POST", path, b) : NULL;
    free(b);
    return doc;
}

static int cases_show(const struct opts *o)
{
    char path[256];
    if (o->npos != 2)
        return usage();
    if (case_path(o->pos[1], "", path, sizeof(path)) < 0)
        return 1;
    int rc;
    json_t *doc = fetch(o, "GET", path, NULL, &rc);
    if (!doc)
        return rc;
    char a[128], b[64];
    printf("%s  %s\n", str_of(doc, "id"), str_of(doc, "state"));
    printf("category:  %s (%s)\n", str_of(doc, "category_name"), str_of(doc, "category"));
    printf("deputy:    %s\n", who(doc, "deputy", "deputy_name", a, sizeof(a)));
    printf("station:   %s\n", who(doc, "station", "station_name", a, sizeof(a)));
    printf("routed by: %s\n", str_of(doc, "routed_by"));
    printf("resident:  %s via %s\n", str_of(doc, "masked"), str_of(doc, "channel"));
    printf("created:   %s\n", time_of(doc, "created", b, sizeof(b)));
    printf("place:     %s\n", str_of(doc, "place"));
    printf("text:      %s\n", str_of(doc, "text"));
    if (json_object_get(doc, "confidence"))
        printf("confidence: %s\n", num_of(doc, "confidence", b, sizeof(b)));
    if (json_object_get(doc, "rating"))
        printf("rating:    %s\n", num_of(doc, "rating", b, sizeof(b)));
    printf("history:\n");
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(doc, "history"), i, h) {
        printf("  %s  %-8s %-10s %s\n", time_of(h, "ts", b, sizeof(b)), str_of(h, "actor"),
               str_of(h, "event"), str_of(h, "text"));
    }
    json_decref(doc);
    return 0;
}

static int cases_assign(const struct opts *o)
{
    if (o->npos != 3)
        return usage();
    json_t *doc = post_case(o, "/assign", json_pack("{s:s,s:s?}", "deputy", o->pos[2], "note", o->note));
    if (!doc)
        return 1;
    printf("%s %s to %s, now %s\n", str_of(doc, "id"), str_of(doc, "action"), str_of(doc, "deputy"),
           str_of(doc, "state"));
    json_decref(doc);
    return 0;
}

static int cases_label(const struct opts *o)
{
    if (o->npos != 3)
        return usage();
    json_t *doc = post_case(o, "/label", json_pack("{s:s}", "label", o->pos[2]));
    if (!doc)
        return 1;
    const char *prev = str_of(doc, "previous");
    printf("%s category %s (was %s); ", str_of(doc, "id"), str_of(doc, "category"), *prev ? prev : "-");
    if (json_is_true(json_object_get(doc, "moved")))
        printf("moved to %s (%s)\n", str_of(doc, "deputy"), str_of(doc, "routed_by"));
    else if (*str_of(doc, "not_moved"))
        printf("not moved (%s), deputy %s\n", str_of(doc, "not_moved"), str_of(doc, "deputy"));
    else
        printf("deputy %s kept\n", *str_of(doc, "deputy") ? str_of(doc, "deputy") : "-");
    json_decref(doc);
    return 0;
}

/* cases note ID TEXT: an internal note in the case's history. */
static int cases_note(const struct opts *o)
{
    if (o->npos != 3)
        return usage();
    json_t *doc = post_case(o, "/note", json_pack("{s:s}", "text", o->pos[2]));
    if (!doc)
        return 1;
    printf("%s noted\n", str_of(doc, "id"));
    json_decref(doc);
    return 0;
}

/* cases withdraw ID REASON: withdrawn by the station; the resident and
 * the deputy are told the reason. */
static int cases_withdraw(const struct opts *o)
{
    if (o->npos != 3)
        return usage();
    json_t *doc = post_case(o, "/withdraw", json_pack("{s:s}", "note", o->pos[2]));
    if (!doc)
        return 1;
    printf("%s %s\n", str_of(doc, "id"), str_of(doc, "state"));
    json_decref(doc);
    return 0;
}

static int cmd_cases(const struct opts *o)
{
    if (o->npos < 1)
        return usage();
    if (strcmp(o->pos[0], "list") == 0 && o->npos == 1)
        return cases_list(o);
    if (strcmp(o->pos[0], "show") == 0)
        return cases_show(o);
    if (strcmp(o->pos[0], "assign") == 0)
        return cases_assign(o);
    if (strcmp(o->pos[0], "label") == 0)
        return cases_label(o);
    if (strcmp(o->pos[0], "note") == 0)
        return cases_note(o);
    if (strcmp(o->pos[0], "withdraw") == 0)
        return cases_withdraw(o);
    return usage();
}

static void deputy_row(struct table *t, json_t *d)
{
    char st[128], open[24], age[32];
    const char *oldest = str_of(d, "oldest_open_case");
    const char *row[] = { str_of(d, "id"), str_of(d, "name"),
                          who(d, "station", "station_name", st, sizeof(st)),
                          num_of(d, "open", open, sizeof(open)), *oldest ? oldest : "-",
                          age_of(d, "oldest_open_since", age, sizeof(age)) };
    table_add(t, row);
}

static int cmd_deputies(const struct opts *o)
{
    if (o->npos)
        return usage();
    int rc;
    json_t *doc = fetch(o, "GET", "/admin/deputies", NULL, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 6, .head = { "ID", "NAME", "STATION", "OPEN", "OLDEST", "WAITING" } };
    table_show(&t, doc, "deputies", deputy_row);
    json_decref(doc);
    return 0;
}

/* Common issues (docs/admin.md): the open ones, most residents first. */
static void common_row(struct table *t, json_t *m)
{
    char dep[128], n[24], open[24], age[32];
    const char *row[] = { str_of(m, "id"), num_of(m, "residents", n, sizeof(n)),
                          num_of(m, "open", open, sizeof(open)), str_of(m, "place"), category_of(m),
                          who(m, "deputy", "deputy_name", dep, sizeof(dep)),
                          age_of(m, "created", age, sizeof(age)) };
    table_add(t, row);
}

static int common_list(const struct opts *o)
{
    struct query q = { .len = 0 };
    query_add(&q, "station", o->station);
    query_add(&q, "limit", o->limit);
    int rc;
    json_t *doc = fetch_query(o, "/admin/common", &q, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 7,
                       .head = { "ID", "RESIDENTS", "OPEN", "PLACE", "CATEGORY", "DEPUTY", "AGE" } };
    size_t n = table_show(&t, doc, "common", common_row);
    printf("%zu common issue(s)\n", n);
    json_decref(doc);
    return 0;
}

/* common split ID | common join ID INTO */
static int common_move(const struct opts *o, bool join)
{
    if (o->npos != (join ? 3u : 2u))
        return usage();
    json_t *body = json_pack("{s:s,s:s?}", "case", o->pos[1], "into", join ? o->pos[2] : NULL);
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_t *doc = b ? call_json(&o->conn, "POST", join ? "/admin/common/join" : "/admin/common/split", b)
                    : NULL;
    free(b);
    if (!doc)
        return 1;
    printf("%s %s %s\n", str_of(doc, "case"), str_of(doc, "action"), str_of(doc, "common"));
    json_decref(doc);
    return 0;
}

static int cmd_common(const struct opts *o)
{
    if (o->npos == 0 || (o->npos == 1 && strcmp(o->pos[0], "list") == 0))
        return common_list(o);
    if (strcmp(o->pos[0], "split") == 0)
        return common_move(o, false);
    if (strcmp(o->pos[0], "join") == 0)
        return common_move(o, true);
    return usage();
}

static void stats_row(struct table *t, json_t *r)
{
    char c[10][32];
    const char *key = str_of(r, "key");
    const char *row[] = { *key ? key : "(none)", str_of(r, "name"),
                          num_of(r, "received", c[0], 32), num_of(r, "accepted", c[1], 32),
                          num_of(r, "resolved", c[2], 32), num_of(r, "resolution_rate", c[3], 32),
                          num_of(r, "median_hours_to_accept", c[4], 32),
                          num_of(r, "median_hours_to_resolve", c[5], 32),
                          num_of(r, "overdue", c[6], 32), num_of(r, "rating_mean", c[7], 32),
                          num_of(r, "revisit_rate", c[8], 32), num_of(r, "relapse_rate", c[9], 32) };
    table_add(t, row);
}

/* stats rebuild: recounts the statistics' aggregates from the cases, one
 * batch a request (each a few milliseconds of Redis time) until done. */
static int stats_rebuild(const struct opts *o)
{
    long batch = 0;
    if (o->batch && admin_parse_long(o->batch, 1, 5000, &batch) < 0) {
        fprintf(stderr, "mashangctl: --batch 1-5000 expected\n");
        return 2;
    }
    char path[96] = "/admin/stats/rebuild";
    if (batch)
        snprintf(path, sizeof(path), "/admin/stats/rebuild?batch=%ld", batch);
    for (;;) {
        json_t *doc = call_json(&o->conn, "POST", path, NULL);
        if (!doc)
            return 1;
        bool done = json_is_true(json_object_get(doc, "done"));
        long long walked = (long long)json_integer_value(json_object_get(doc, "walked"));
        json_decref(doc);
        if (done) {
            printf("rebuilt from %lld case(s)\n", walked);
            return 0;
        }
    }
}

/* One row of the report (a station, deputy or category) for the text table. */
static void report_row(struct table *t, json_t *r)
{
    char c[6][32];
    const char *key = str_of(r, "key");
    const char *row[] = { *key ? key : "(none)", str_of(r, "name"),
                          num_of(r, "received", c[0], 32), num_of(r, "accepted", c[1], 32),
                          num_of(r, "solved", c[2], 32), num_of(r, "solve_rate", c[3], 32),
                          num_of(r, "rated", c[4], 32), num_of(r, "rating_mean", c[5], 32) };
    table_add(t, row);
}

static int cmd_report(const struct opts *o)
{
    if (o->npos || (o->csv + o->html + o->json) > 1)
        return usage();
    struct query q = { .len = 0 };
    query_add(&q, "year", o->year);
    query_add(&q, "from", o->from);
    query_add(&q, "to", o->to);
    query_add(&q, "station", o->station);
    if (o->csv || o->html) {
        query_add(&q, "format", o->csv ? "csv" : "html");
        if (q.overflow)
            return usage();
        char path[2200];
        snprintf(path, sizeof(path), "/admin/report%s", q.s);
        struct response r;
        if (request(&o->conn, "GET", path, NULL, NULL, &r) < 0)
            return 1;
        int ok = r.status == 200;
        if (ok)
            fputs(r.body, stdout);
        else
            fprintf(stderr, "mashangctl: HTTP %ld: %s", r.status, r.body);
        free(r.body);
        return ok ? 0 : 1;
    }
    int rc;
    json_t *doc = fetch_query(o, "/admin/report", &q, &rc);
    if (!doc)
        return rc;
    json_t *tot = json_object_get(doc, "total");
    char c[6][32];
    printf("%s .. %s%s%s\n", str_of(doc, "from"), str_of(doc, "to"), o->station ? "  station " : "",
           o->station ? o->station : "");
    printf("received %s  accepted %s  solved %s (%s)  rated %s  mean %s\n",
           num_of(tot, "received", c[0], 32), num_of(tot, "accepted", c[1], 32),
           num_of(tot, "solved", c[2], 32), num_of(tot, "solve_rate", c[3], 32),
           num_of(tot, "rated", c[4], 32), num_of(tot, "rating_mean", c[5], 32));
    static const char *const lists[] = { "stations", "deputies", "categories" };
    for (size_t i = 0; i < 3; i++) {
        struct table t = { .ncols = 8, .head = { "KEY", "NAME", "RECEIVED", "ACCEPTED", "SOLVED",
                                                 "RATE", "RATED", "RATING" } };
        printf("\n");
        table_show(&t, doc, lists[i], report_row);
    }
    json_decref(doc);
    return 0;
}

static int cmd_stats(const struct opts *o)
{
    if (o->npos == 1 && strcmp(o->pos[0], "rebuild") == 0)
        return stats_rebuild(o);
    if (o->npos)
        return usage();
    enum stats_by by;
    if (o->by && stats_by_parse(o->by, &by) < 0) {
        fprintf(stderr, "mashangctl: --by deputy, station or category\n");
        return 2;
    }
    struct query q = { .len = 0 };
    query_add(&q, "by", o->by);
    query_add(&q, "from", o->from);
    query_add(&q, "to", o->to);
    char path[2200];
    snprintf(path, sizeof(path), "/admin/stats%s", q.s);
    if (o->csv) {
        struct response r;
        if (request(&o->conn, "GET", path, NULL, "Accept: text/csv", &r) < 0)
            return 1;
        int ok = r.status == 200;
        if (ok)
            fputs(r.body, stdout);
        else
            fprintf(stderr, "mashangctl: HTTP %ld: %s", r.status, r.body);
        free(r.body);
        return ok ? 0 : 1;
    }
    int rc;
    json_t *doc = fetch(o, "GET", path, NULL, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 12, .head = { "KEY", "NAME", "RECEIVED", "ACCEPTED", "RESOLVED",
                                              "RATE", "ACCEPT_H", "RESOLVE_H", "OVERDUE", "RATING",
                                              "REVISIT_RATE", "RELAPSE_RATE" } };
    table_show(&t, doc, "rows", stats_row);
    json_decref(doc);
    return 0;
}

/* The counties the token reaches (docs/admin.md, "Several counties"). */
static void tenant_row(struct table *t, json_t *m)
{
    char numbers[160] = "";
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(m, "numbers"), i, n) {
        size_t used = strlen(numbers);
        snprintf(numbers + used, sizeof(numbers) - used, "%s%s", used ? "," : "", json_string_value(n));
    }
    const char *row[] = { str_of(m, "id"), str_of(m, "name"), str_of(m, "namespace"),
                          str_of(m, "case_prefix"), *numbers ? numbers : "-",
                          json_is_true(json_object_get(m, "redis")) ? "up" : "down" };
    table_add(t, row);
}

static int cmd_tenants(const struct opts *o)
{
    if (o->npos)
        return usage();
    int rc;
    json_t *doc = fetch(o, "GET", "/admin/tenants", NULL, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 6, .head = { "ID", "NAME", "NAMESPACE", "PREFIX", "NUMBERS", "REDIS" } };
    table_show(&t, doc, "tenants", tenant_row);
    json_decref(doc);
    return 0;
}

static int cmd_reload(const struct opts *o)
{
    if (o->npos)
        return usage();
    json_t *doc = call_json(&o->conn, "POST", "/admin/reload", NULL);
    if (!doc)
        return 1;
    printf("%s (see the daemon log for the outcome)\n", str_of(doc, "status"));
    json_decref(doc);
    return 0;
}

/* outbox uncertain resend|drop ID: an administrator's word on a send that
 * went out unanswered (the resident may get a resent one twice). */
static int outbox_settle(const struct opts *o, const char *how, const char *id)
{
    if ((strcmp(how, "resend") != 0 && strcmp(how, "drop") != 0) || !admin_outbox_id_ok(id))
        return usage();
    char path[160];
    snprintf(path, sizeof(path), "/admin/outbox/uncertain/%s/%s", id, how);
    json_t *doc = call_json(&o->conn, "POST", path, NULL);
    if (!doc)
        return 1;
    printf("%s: %s\n", id, str_of(doc, "result"));
    json_decref(doc);
    return 0;
}

static void message_row(struct table *t, json_t *m)
{
    char att[24];
    const char *row[] = { str_of(m, "id"), str_of(m, "channel"), str_of(m, "to"),
                          str_of(m, "case"), num_of(m, "attempts", att, sizeof(att)),
                          str_of(m, "last_error") };
    table_add(t, row);
}

static int cmd_outbox(const struct opts *o)
{
    if (o->npos == 1 && strcmp(o->pos[0], "retry") == 0) {
        json_t *doc = call_json(&o->conn, "POST", "/admin/outbox/retry", NULL);
        if (!doc)
            return 1;
        char a[24], b[24];
        printf("moved %s message(s) back to the ready queue; %s still dead\n",
               num_of(doc, "moved", a, sizeof(a)), num_of(doc, "remaining", b, sizeof(b)));
        json_decref(doc);
        return 0;
    }
    if (o->npos == 2 && strcmp(o->pos[0], "retry") == 0) {
        if (!admin_outbox_id_ok(o->pos[1]))
            return usage();
        char path[160];
        snprintf(path, sizeof(path), "/admin/outbox/dead/%s/retry", o->pos[1]);
        json_t *doc = call_json(&o->conn, "POST", path, NULL);
        if (!doc)
            return 1;
        printf("%s: %s\n", o->pos[1], str_of(doc, "result"));
        json_decref(doc);
        return 0;
    }
    if (o->npos == 3 && strcmp(o->pos[0], "uncertain") == 0)
        return outbox_settle(o, o->pos[1], o->pos[2]);
    if (o->npos != 1 || (strcmp(o->pos[0], "dead") != 0 && strcmp(o->pos[0], "uncertain") != 0))
        return usage();
    const char *list = o->pos[0];
    struct query q = { .len = 0 };
    query_add(&q, "limit", o->limit);
    char base[64];
    snprintf(base, sizeof(base), "/admin/outbox/%s", list);
    int rc;
    json_t *doc = fetch_query(o, base, &q, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 6, .head = { "ID", "CHANNEL", "TO", "CASE", "ATTEMPTS", "LAST_ERROR" } };
    table_show(&t, doc, "messages", message_row);
    char total[24];
    printf("%s %s message(s)\n", num_of(doc, "total", total, sizeof(total)), list);
    json_decref(doc);
    return 0;
}

/* ---- intents corrections | review -------------------------------------- */

char *ctl_training_line(const char *label, const char *text)
{
    char *line;
    if (asprintf(&line, "%s\t%s", label ? label : "", text ? text : "") < 0)
        return NULL;
    /* One example per line, label and text split by the only tab. */
    for (char *p = line + strlen(label ? label : "") + 1; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    return line;
}

static int intents_corrections(const struct opts *o)
{
    struct query q = { .len = 0 };
    query_add(&q, "label", o->label);
    query_add(&q, "limit", o->limit);
    query_add(&q, "from", o->from);
    int rc;
    json_t *doc = fetch_query(o, "/admin/intents/corrections", &q, &rc);
    if (!doc)
        return rc;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "corrections"), i, c) {
        if (!*str_of(c, "label") || !*str_of(c, "text"))
            continue;
        char *line = ctl_training_line(str_of(c, "label"), str_of(c, "text"));
        if (line)
            puts(line);
        free(line);
    }
    json_decref(doc);
    return 0;
}

static void review_row(struct table *t, json_t *c)
{
    char conf[32], age[32];
    const char *row[] = { str_of(c, "id"), num_of(c, "confidence", conf, sizeof(conf)), category_of(c),
                          str_of(c, "state"), age_of(c, "created", age, sizeof(age)),
                          str_of(c, "text") };
    table_add(t, row);
}

static int intents_review(const struct opts *o)
{
    struct query q = { .len = 0 };
    query_add(&q, "limit", o->limit);
    int rc;
    json_t *doc = fetch_query(o, "/admin/intents/review", &q, &rc);
    if (!doc)
        return rc;
    struct table t = { .ncols = 6, .head = { "ID", "CONFIDENCE", "CATEGORY", "STATE", "AGE", "TEXT" } };
    table_show(&t, doc, "cases", review_row);
    char total[24];
    printf("%s case(s) to review\n", num_of(doc, "total", total, sizeof(total)));
    json_decref(doc);
    return 0;
}

int ctl_admin_intents(const char *what, int argc, char **argv)
{
    int (*run)(const struct opts *) = NULL;
    if (strcmp(what, "corrections") == 0)
        run = intents_corrections;
    else if (strcmp(what, "review") == 0)
        run = intents_review;
    if (!run)
        return usage();
    struct opts o;
    if (parse_opts(argc, argv, 0, &o) < 0)
        return 2;
    if (o.npos)
        return usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = run(&o);
    curl_global_cleanup();
    return rc;
}

int ctl_admin_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(const struct opts *o);
    } commands[] = {
        { "cases", cmd_cases }, { "deputies", cmd_deputies }, { "stats", cmd_stats },
        { "common", cmd_common }, { "report", cmd_report },
        { "reload", cmd_reload }, { "outbox", cmd_outbox }, { "tenants", cmd_tenants },
    };
    if (argc < 1)
        return usage();
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
        if (strcmp(argv[0], commands[i].name) != 0)
            continue;
        struct opts o;
        if (parse_opts(argc, argv, 1, &o) < 0)
            return 2;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = commands[i].run(&o);
        curl_global_cleanup();
        return rc;
    }
    return usage();
}
