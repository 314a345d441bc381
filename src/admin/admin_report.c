/* Administrators' API: statistics (JSON or CSV) and the outbox's
 * dead-letter list.  admin.lua gathers compact per-case records, and the
 * aggregates' counts when the window allows (exact beyond the walk's
 * bound); the grouping, medians and overdue judgement are the pure
 * functions of src/admin/admin_stats.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "base/config.h"
#include "base/log.h"
#include "core/roster.h"
#include "http/reply.h"
#include "base/util.h"

/* ---- GET /admin/stats -------------------------------------------------- */

/* Display name of a row key under the current roster and config. */
static const char *row_name(const struct app *app, enum stats_by by, const char *key)
{
    if (!*key)
        return "";
    if (by == STATS_BY_DEPUTY) {
        const struct deputy *d = roster_deputy(app->roster, key);
        return d ? d->name : "";
    }
    if (by == STATS_BY_STATION) {
        const struct station *s = roster_station(app->roster, key);
        return s ? s->name : "";
    }
    return config_category_name(app->cfg, key);
}

/* NAN -> null; otherwise rounded to 4 decimals like the CSV. */
static json_t *number_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(round(v * 10000.0) / 10000.0);
}

static json_t *row_json(const struct stats_row *r, const char *name, const struct config *cfg)
{
    json_t *ratings = json_object();
    for (int i = 0; i < 5; i++) {
        char k[2] = { (char)('1' + i), '\0' };
        json_object_set_new(ratings, k, json_integer(r->ratings[i]));
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "key", r->key, "name", name, "received",
                          (json_int_t)r->received, "accepted", (json_int_t)r->accepted,
                          "resolved", (json_int_t)r->resolved, "overdue", (json_int_t)r->overdue);
    json_object_set_new(o, "resolution_rate", number_or_null(r->resolution_rate));
    json_object_set_new(o, "median_hours_to_accept", number_or_null(r->median_hours_to_accept));
    json_object_set_new(o, "median_hours_to_resolve", number_or_null(r->median_hours_to_resolve));
    json_object_set_new(o, "rating_mean", number_or_null(r->rating_mean));
    json_object_set_new(o, "ratings", ratings);
    json_object_set_new(o, "revisited", json_integer(r->revisited));
    json_object_set_new(o, "revisit_rate", number_or_null(r->revisit_rate));
    json_object_set_new(o, "relapsed", json_integer(r->relapsed));
    json_object_set_new(o, "relapse_rate", number_or_null(r->relapse_rate));
    json_t *aspects = json_object();
    for (size_t a = 0; a < cfg->n_rating_aspects && a < STATS_ASPECTS_MAX; a++)
        json_object_set_new(aspects, cfg->rating_aspects[a], number_or_null(r->aspect_mean[a]));
    json_object_set_new(o, "aspect_means", aspects);
    return o;
}

static void send_csv(struct evhttp_request *req, const char *csv)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    evbuffer_add(buf, csv, strlen(csv));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/csv; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

/* The aggregates' counts of each group ({KEY: {metric: n}}, lib/agg.lua's
 * metrics) over the walk's (admin.lua "stats" sends them when it can). */
static int apply_counts(struct stats_table *t, json_t *agg)
{
    size_t n = json_object_size(agg), i = 0;
    struct stats_counts *c = calloc(n ? n : 1, sizeof(*c));
    if (!c)
        return -1;
    const char *key;
    json_t *m;
    json_object_foreach(agg, key, m) {
        c[i].key = key;
        c[i].received = (long)json_integer_value(json_object_get(m, "received"));
        c[i].accepted = (long)json_integer_value(json_object_get(m, "accepted"));
        c[i].resolved = (long)json_integer_value(json_object_get(m, "solved"));
        static const char *const rating[] = { "rating.1", "rating.2", "rating.3", "rating.4",
                                              "rating.5" };
        for (int k = 0; k < 5; k++)
            c[i].ratings[k] = (long)json_integer_value(json_object_get(m, rating[k]));
        i++;
    }
    int rc = stats_table_counts(t, c, n);
    free(c);
    return rc;
}

static void on_stats(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    struct app *app = call->app;
    enum stats_by by = (enum stats_by)call->mode;
    json_t *doc = admin_script_json(r, call->req);
    if (!doc) {
        admin_call_free(call);
        return;
    }
    json_t *list = json_object_get(doc, "records");
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    struct stats_record *recs = calloc(n ? n : 1, sizeof(*recs));
    struct stats_table t = { 0 };
    const char **names = NULL;
    if (!recs)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(list, i);
        recs[i].deputy = json_string_value(json_array_get(a, 0));
        recs[i].station = json_string_value(json_array_get(a, 1));
        recs[i].category = json_string_value(json_array_get(a, 2));
        recs[i].state = json_string_value(json_array_get(a, 3));
        recs[i].created = (long)json_number_value(json_array_get(a, 4));
        recs[i].accepted_at = (long)json_number_value(json_array_get(a, 5));
        recs[i].resolved_at = (long)json_number_value(json_array_get(a, 6));
        recs[i].rating = (int)json_number_value(json_array_get(a, 7));
        recs[i].revisit_asked = (long)json_number_value(json_array_get(a, 8));
        recs[i].revisits = (int)json_number_value(json_array_get(a, 9));
        recs[i].relapses = (int)json_number_value(json_array_get(a, 10));
        for (size_t k = 0; k < STATS_ASPECTS_MAX; k++)
            recs[i].aspects[k] = (int)json_number_value(json_array_get(a, 11 + k));
    }
    if (stats_aggregate(recs, n, by, (long)time(NULL), app->cfg->timers.accept_s,
                        app->cfg->timers.resolve_s, &t) < 0)
        goto oom;
    json_t *agg = json_object_get(doc, "counts");
    if (json_is_object(agg) && apply_counts(&t, agg) < 0)
        goto oom;
    t.aspects = (const char *const *)app->cfg->rating_aspects;
    t.naspects = app->cfg->n_rating_aspects;
    names = calloc(t.n ? t.n : 1, sizeof(*names));
    if (!names)
        goto oom;
    for (size_t i = 0; i < t.n; i++)
        names[i] = row_name(app, by, t.rows[i].key);

    if (call->csv) {
        char *csv = stats_csv(&t, names);
        if (!csv)
            goto oom;
        send_csv(call->req, csv);
        free(csv);
    } else {
        json_t *rows = json_array();
        for (size_t i = 0; i < t.n; i++)
            json_array_append_new(rows, row_json(&t.rows[i], names[i], app->cfg));
        json_t *out = json_pack("{s:s,s:o,s:o,s:o,s:b}", "by", stats_by_name(by),
                                "from", call->from >= 0 ? json_integer(call->from) : json_null(),
                                "to", call->to >= 0 ? json_integer(call->to) : json_null(),
                                "rows", rows, "truncated",
                                json_is_true(json_object_get(doc, "truncated")));
        /* where received/accepted/resolved/ratings came from */
        json_object_set_new(out, "counts", json_string(json_is_object(agg) ? "aggregates" : "cases"));
        admin_send(call->req, 200, out);
    }
    goto done;
oom:
    http_send_error(call->req, 503, "unavailable", "out of memory");
done:
    free(names);
    stats_table_free(&t);
    free(recs);
    json_decref(doc);
    admin_call_free(call);
}

/* Accept: text/csv (or ?format=csv) asks for CSV. */
static int wants_csv(struct evhttp_request *req, const char *format)
{
    if (format)
        return strcmp(format, "csv") == 0;
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

void admin_stats(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "by", "from", "to", "format", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *by_s = evhttp_find_header(&q, "by");
    const char *from_s = evhttp_find_header(&q, "from");
    const char *to_s = evhttp_find_header(&q, "to");
    const char *format = evhttp_find_header(&q, "format");
    enum stats_by by = STATS_BY_DEPUTY;
    long from = -1, to = -1;
    const char *bad = NULL;
    if (by_s && stats_by_parse(by_s, &by) < 0)
        bad = "by: deputy, station or category expected";
    else if (from_s && *from_s && admin_parse_long(from_s, 0, 1L << 40, &from) < 0)
        bad = "from: Unix seconds expected";
    else if (to_s && *to_s && admin_parse_long(to_s, 0, 1L << 40, &to) < 0)
        bad = "to: Unix seconds expected";
    else if (from >= 0 && to >= 0 && from > to)
        bad = "from is after to";
    else if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        bad = "format: csv or json expected";
    struct admin_call *call = admin_call_checked(app, req, &q, bad);
    if (!call)
        return;
    call->mode = (int)by;
    call->csv = wants_csv(req, format) != 0;
    call->from = from;
    call->to = to;
    evhttp_clear_headers(&q);
    char lo[24] = "", hi[24] = "";
    if (from >= 0)
        snprintf(lo, sizeof(lo), "%ld", from);
    if (to >= 0)
        snprintf(hi, sizeof(hi), "%ld", to);
    /* then the configured aspects, whose scores the records carry in order */
    const char *argv[4 + STATS_ASPECTS_MAX] = { "stats", lo, hi, stats_by_name(by) };
    int argc = 4;
    for (size_t a = 0; a < app->cfg->n_rating_aspects && a < STATS_ASPECTS_MAX; a++)
        argv[argc++] = app->cfg->rating_aspects[a];
    admin_script(call, on_stats, argc, argv);
}

/* ---- GET /admin/outbox/dead, POST /admin/outbox/retry ------------------ */

static void on_dead(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        json_t *msgs = json_object_get(doc, "messages");
        json_t *out = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) {
            /* never hand out a full phone number or openid */
            const char *to = json_string_value(json_object_get(m, "to"));
            if (to) {
                char masked[64];
                address_mask(to, masked, sizeof(masked));
                json_object_set_new(m, "to", json_string(masked));
            }
            json_array_append(out, m);
        }
        admin_send(call->req, 200, json_pack("{s:o,s:I}", "messages", out, "total",
                                             json_integer_value(json_object_get(doc, "total"))));
        json_decref(doc);
    }
    admin_call_free(call);
}

/* GET of one outbox list: admin.lua `op` ("outbox_dead", "outbox_uncertain"). */
static void outbox_list(struct app *app, struct evhttp_request *req, const char *op)
{
    long limit = ADMIN_LIST_DEFAULT;
    if (admin_query_long(req, "limit", 1, ADMIN_LIST_MAX, &limit) < 0)
        return;
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    char lim[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    const char *argv[] = { op, lim };
    admin_script(call, on_dead, 2, argv);
}

void admin_outbox_dead(struct app *app, struct evhttp_request *req)
{
    outbox_list(app, req, "outbox_dead");
}

void admin_outbox_uncertain(struct app *app, struct evhttp_request *req)
{
    outbox_list(app, req, "outbox_uncertain");
}

static void on_retry(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        log_info("admin_outbox_retry", "moved=%lld remaining=%lld",
                 (long long)json_integer_value(json_object_get(doc, "moved")),
                 (long long)json_integer_value(json_object_get(doc, "remaining")));
        admin_send(call->req, 200, doc);
    }
    admin_call_free(call);
}

void admin_outbox_retry(struct app *app, struct evhttp_request *req)
{
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    char now[24];
    snprintf(now, sizeof(now), "%lld", wall_ms());
    const char *argv[] = { "outbox_retry", now, "10000" };
    admin_script(call, on_retry, 3, argv);
}

/* ---- POST /admin/outbox/uncertain/{id}/resend|drop ---------------------- */

static void on_settled(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        const char *result = json_string_value(json_object_get(doc, "result"));
        if (result && strcmp(result, "unknown") == 0) {
            http_send_error(call->req, 404, "not_found", "no such uncertain message");
            json_decref(doc);
        } else {
            log_info("admin_outbox_uncertain", "result=%s", result ? result : "-");
            admin_send(call->req, 200, doc);
        }
    }
    admin_call_free(call);
}

/* Outbox ids are ours (step.lua): short, of letters, digits and - _ : . */
void admin_outbox_uncertain_settle(struct app *app, struct evhttp_request *req, const char *id,
                                   const char *how)
{
    if (!admin_outbox_id_ok(id)) {
        http_send_error(req, 400, "bad_id", "outbox id: " ADMIN_OUTBOX_ID_RULE);
        return;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    char now[24];
    snprintf(now, sizeof(now), "%lld", wall_ms());
    const char *argv[] = { "outbox_uncertain_settle", id, how, now };
    admin_script(call, on_settled, 4, argv);
}
