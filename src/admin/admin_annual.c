/* Administrators' API: the annual report (GET /admin/report, JSON, CSV or
 * printable HTML) and one step of recounting the statistics' aggregates
 * (POST /admin/stats/rebuild).  admin.lua sums the aggregates
 * (src/store/lua/lib/agg.lua); the figures and their forms are the pure
 * functions of src/admin/annual_report.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "admin/annual_report.h"
#include "base/config.h"
#include "base/log.h"
#include "core/roster.h"
#include "http/reply.h"

enum report_format { FORMAT_JSON = 0, FORMAT_CSV, FORMAT_HTML };

/* Display names under the current roster and config (report_name_fn). */
static const char *display_name(void *ctx, enum report_dim dim, const char *key)
{
    const struct app *app = ctx;
    if (!*key)
        return "";
    if (dim == REPORT_DEPUTY) {
        const struct deputy *d = roster_deputy(app->roster, key);
        return d ? d->name : "";
    }
    if (dim == REPORT_STATION) {
        const struct station *s = roster_station(app->roster, key);
        return s ? s->name : "";
    }
    return config_category_name(app->cfg, key);
}

static void send_text(struct evhttp_request *req, const char *type, const char *body)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    evbuffer_add(buf, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

static void on_report(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (!doc) {
        admin_call_free(call);
        return;
    }
    struct report_range range;
    snprintf(range.from, sizeof(range.from), "%08ld", call->from);
    snprintf(range.to, sizeof(range.to), "%08ld", call->to);
    json_t *rep = report_build(doc, &range, call->station, display_name, call->app);
    char *text = NULL;
    if (rep) {
        json_object_set_new(rep, "rebuilding", json_boolean(json_is_true(json_object_get(doc, "rebuilding"))));
        if (call->mode == FORMAT_CSV)
            text = report_csv(rep);
        else if (call->mode == FORMAT_HTML)
            text = report_html(rep);
    }
    if (!rep || (call->mode != FORMAT_JSON && !text)) {
        http_send_error(call->req, 503, "unavailable", "out of memory");
        json_decref(rep);
    } else if (call->mode == FORMAT_CSV) {
        send_text(call->req, "text/csv; charset=utf-8", text);
        json_decref(rep);
    } else if (call->mode == FORMAT_HTML) {
        send_text(call->req, "text/html; charset=utf-8", text);
        json_decref(rep);
    } else {
        admin_send(call->req, 200, rep);
    }
    log_info("admin_report", "from=%ld to=%ld station=%s buckets=%lld", call->from, call->to,
             LOG_STR(call->station), (long long)json_integer_value(json_object_get(doc, "buckets")));
    free(text);
    json_decref(doc);
    admin_call_free(call);
}

/* Station ids as the roster spells them: letters, digits, - and _. */
static bool station_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 48 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

void admin_report(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "year", "from", "to", "station", "format", "key_min", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *station = evhttp_find_header(&q, "station");
    const char *format = evhttp_find_header(&q, "format");
    struct report_range range;
    const char *bad = NULL;
    enum report_format fmt = FORMAT_JSON;
    const char *key_min_s = evhttp_find_header(&q, "key_min");
    long key_min = REPORT_KEY_MIN_DEFAULT;
    if (key_min_s && admin_parse_long(key_min_s, 2, 100000, &key_min) < 0) {
        bad = "key_min: 2-100000 expected";
    } else if (report_range_parse(evhttp_find_header(&q, "year"), evhttp_find_header(&q, "from"),
                           evhttp_find_header(&q, "to"), &range, &bad) < 0) {
        /* bad is set */
    } else if (station && *station && !station_ok(station)) {
        bad = "station: a station id expected";
    } else if (format && strcmp(format, "csv") == 0) {
        fmt = FORMAT_CSV;
    } else if (format && strcmp(format, "html") == 0) {
        fmt = FORMAT_HTML;
    } else if (format && strcmp(format, "json") != 0) {
        bad = "format: json, csv or html expected";
    }
    struct admin_call *call = admin_call_checked(app, req, &q, bad);
    if (!call)
        return;
    call->mode = (int)fmt;
    call->from = atol(range.from);
    call->to = atol(range.to);
    snprintf(call->station, sizeof(call->station), "%s", station ? station : "");
    evhttp_clear_headers(&q);
    char km[24];
    snprintf(km, sizeof(km), "%ld", key_min);
    const char *argv[] = { "report", range.from, range.to, call->station, km };
    admin_script(call, on_report, 5, argv);
}

/* ---- POST /admin/stats/rebuild ----------------------------------------- */

static void on_rebuild(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        if (json_is_true(json_object_get(doc, "done")))
            log_info("admin_stats_rebuilt", "cases=%lld",
                     (long long)json_integer_value(json_object_get(doc, "walked")));
        admin_send(call->req, 200, doc);
    }
    admin_call_free(call);
}

/* Cases recounted per call when the caller does not say: a few
 * milliseconds of Redis time. */
#define REBUILD_BATCH_DEFAULT 200
#define REBUILD_BATCH_MAX 5000

void admin_stats_rebuild(struct app *app, struct evhttp_request *req)
{
    long batch = REBUILD_BATCH_DEFAULT;
    if (admin_query_long(req, "batch", 1, REBUILD_BATCH_MAX, &batch) < 0)
        return;
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    char now[24], b[24];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(b, sizeof(b), "%ld", batch);
    const char *argv[] = { "agg_rebuild", now, b };
    admin_script(call, on_rebuild, 3, argv);
}
