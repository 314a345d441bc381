/* Administrators' API: cases (list, detail, reassignment) and deputies'
 * queues.  Reads go through admin.lua (read-only, bounded); reassignment
 * is the same atomic step as a deputy's transfer (step_assign). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "base/case_id.h"
#include "base/config.h"
#include "core/lifecycle.h"
#include "core/schema.h"
#include "base/log.h"
#include "core/roster.h"
#include "http/reply.h"
#include "core/step.h"
#include "store/store.h"

/* Adds display names the roster and config know (looked up now: a reload
 * may have replaced the roster while Redis was answering). */
void admin_add_names(const struct app *app, json_t *c)
{
    const char *dep = json_string_value(json_object_get(c, "deputy"));
    const struct deputy *d = dep ? roster_deputy(app->roster, dep) : NULL;
    if (d)
        json_object_set_new(c, "deputy_name", json_string(d->name));
    const char *st = json_string_value(json_object_get(c, "station"));
    const struct station *s = st ? roster_station(app->roster, st) : NULL;
    if (s)
        json_object_set_new(c, "station_name", json_string(s->name));
    const char *cat = json_string_value(json_object_get(c, "category"));
    if (cat)
        json_object_set_new(c, "category_name", json_string(config_category_name(app->cfg, cat)));
}

/* ---- GET /admin/cases -------------------------------------------------- */

static void on_list(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        json_t *cases = admin_list_member(doc, "cases");
        size_t i;
        json_t *c;
        json_array_foreach(cases, i, c)
            admin_add_names(call->app, c);
        admin_send(call->req, 200, json_pack("{s:o,s:O}", "cases", cases, "truncated",
                                             json_object_get(doc, "truncated") ? json_object_get(doc, "truncated") : json_false()));
        json_decref(doc);
    }
    admin_call_free(call);
}

/* Deputy ids are stored as the roster spells them ("D0412"). */
static const char *canonical_deputy(const struct app *app, const char *id)
{
    const struct deputy *d = roster_deputy(app->roster, id);
    return d ? d->id : id;
}

void admin_cases_list(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "state", "deputy", "station", "category", "from",
                                           "to", "overdue", "limit", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *state = evhttp_find_header(&q, "state");
    const char *deputy = evhttp_find_header(&q, "deputy");
    const char *station = evhttp_find_header(&q, "station");
    const char *category = evhttp_find_header(&q, "category");
    const char *from_s = evhttp_find_header(&q, "from");
    const char *to_s = evhttp_find_header(&q, "to");
    long from = 0, to = 0, limit = ADMIN_LIST_DEFAULT;
    int overdue = admin_parse_flag(evhttp_find_header(&q, "overdue"));
    const char *bad = NULL;
    if (state && *state && case_state_parse(state) < 0)
        bad = "state: unknown state";
    else if (from_s && *from_s && admin_parse_long(from_s, 0, 1L << 40, &from) < 0)
        bad = "from: Unix seconds expected";
    else if (to_s && *to_s && admin_parse_long(to_s, 0, 1L << 40, &to) < 0)
        bad = "to: Unix seconds expected";
    else if (from_s && *from_s && to_s && *to_s && from > to)
        bad = "from is after to";
    else if (overdue < 0)
        bad = "overdue: 1 or 0 expected";
    else if (evhttp_find_header(&q, "limit") &&
             admin_parse_long(evhttp_find_header(&q, "limit"), 1, ADMIN_LIST_MAX, &limit) < 0)
        bad = "limit: 1-1000 expected";
    if (bad) {
        evhttp_clear_headers(&q);
        http_send_error(req, 400, "bad_query", bad);
        return;
    }

    json_t *f = json_object();
    if (state && *state)
        json_object_set_new(f, "state", json_string(state));
    if (deputy && *deputy)
        json_object_set_new(f, "deputy", json_string(canonical_deputy(app, deputy)));
    if (station && *station)
        json_object_set_new(f, "station", json_string(station));
    if (category && *category)
        json_object_set_new(f, "category", json_string(category));
    if (from_s && *from_s)
        json_object_set_new(f, "from", json_integer(from));
    if (to_s && *to_s)
        json_object_set_new(f, "to", json_integer(to));
    if (overdue)
        json_object_set_new(f, "overdue", json_true());
    json_object_set_new(f, "limit", json_integer(limit));
    json_object_set_new(f, "now", json_integer((json_int_t)time(NULL)));
    json_object_set_new(f, "accept_s", json_integer(app->cfg->timers.accept_s));
    json_object_set_new(f, "resolve_s", json_integer(app->cfg->timers.resolve_s));
    evhttp_clear_headers(&q);
    char *filter = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    struct admin_call *call = filter ? admin_call_new(app, req) : NULL;
    if (!call) {
        if (!filter)
            http_send_error(req, 503, "unavailable", "out of memory");
        free(filter);
        return;
    }
    const char *argv[] = { "list", filter };
    admin_script(call, on_list, 2, argv);
    free(filter);
}

/* ---- GET /admin/cases/{id} --------------------------------------------- */

static void on_show(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        if (!json_is_true(json_object_get(doc, "found"))) {
            http_send_error(call->req, 404, "unknown_case", "no such case");
        } else {
            json_t *c = json_incref(json_object_get(doc, "case"));
            if (!json_is_object(c)) {
                json_decref(c);
                c = json_object();
            }
            /* the resident appears masked only; the raw address never */
            json_object_del(c, "addr");
            admin_add_names(call->app, c);
            json_object_set_new(c, "history", admin_list_member(doc, "history"));
            admin_send(call->req, 200, c);
        }
        json_decref(doc);
    }
    admin_call_free(call);
}

void admin_case_show(struct app *app, struct evhttp_request *req, const char *id)
{
    char idbuf[48];
    const char *cid = case_id_parse(id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    if (!cid) {
        http_send_error(req, 404, "unknown_case", "no such case");
        return;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    snprintf(call->id, sizeof(call->id), "%s", cid);
    const char *argv[] = { "show", call->id, "1000" };
    admin_script(call, on_show, 3, argv);
}

/* ---- POST /admin/cases/{id}/assign ------------------------------------- */

static void on_assigned_state(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    const char *state = NULL, *deputy = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        if (r->element[0]->type == REDIS_REPLY_STRING)
            state = r->element[0]->str;
        if (r->element[1]->type == REDIS_REPLY_STRING)
            deputy = r->element[1]->str;
    }
    /* The transfer is stored; only the read-back may have failed. */
    json_t *out = json_pack("{s:s,s:s,s:s?,s:s?}", "id", call->id, "action", "transferred",
                            "state", state, "deputy", deputy);
    admin_send(call->req, 200, out);
    admin_call_free(call);
}

static void on_assign(enum step_outcome outcome, const char *action, const char *case_id, void *arg)
{
    struct admin_call *call = arg;
    (void)case_id;
    if (outcome == STEP_STORED) {
        char key[128];
        snprintf(key, sizeof(key), "%s" SCHEMA_KEY_CASE "%s", store_prefix(call->app->store), call->id);
        const char *argv[] = { "HMGET", key, "state", "deputy" };
        log_info("admin_assign", "case=%s deputy=%s", LOG_STR(call->id), LOG_STR(call->deputy));
        if (store_command(call->app->store, on_assigned_state, call, 4, argv, NULL) < 0)
            on_assigned_state(NULL, call);
        return;
    }
    if (outcome == STEP_UNAVAILABLE) {
        http_send_error(call->req, 503, "redis_unavailable", "Redis cannot be reached");
    } else if (action && strcmp(action, "unknown_case") == 0) {
        http_send_error(call->req, 404, "unknown_case", "no such case");
    } else if (action && strcmp(action, "unknown_deputy") == 0) {
        http_send_error(call->req, 404, "unknown_deputy", "no such deputy");
    } else if (action && strcmp(action, "bad_state") == 0) {
        http_send_error(call->req, 409, "bad_state", "the case cannot be reassigned in its state");
    } else {
        http_send_error(call->req, 400, "rejected", action ? action : "rejected");
    }
    admin_call_free(call);
}

void admin_case_assign(struct app *app, struct evhttp_request *req, const char *id)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    json_t *jd = json_object_get(body, "deputy");
    json_t *jn = json_object_get(body, "note");
    if (!json_is_string(jd) || json_string_length(jd) == 0 || (jn && !json_is_null(jn) && !json_is_string(jn))) {
        json_decref(body);
        http_send_error(req, 400, "bad_request", "\"deputy\" (string) is required; \"note\" is a string");
        return;
    }
    char idbuf[48];
    const char *cid = case_id_parse(id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    const struct deputy *d = roster_deputy(app->roster, json_string_value(jd));
    if (!cid || !d) {
        json_decref(body);
        http_send_error(req, 404, cid ? "unknown_deputy" : "unknown_case",
                        cid ? "no such deputy in the roster" : "no such case");
        return;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (!call) {
        json_decref(body);
        return;
    }
    snprintf(call->id, sizeof(call->id), "%s", cid);
    snprintf(call->deputy, sizeof(call->deputy), "%s", d->id);
    const char *note = json_is_string(jn) ? json_string_value(jn) : NULL;
    step_assign(app, call->id, call->deputy, "admin", note, on_assign, call);
    json_decref(body);
}

/* ---- GET /admin/deputies ----------------------------------------------- */

static void on_deputies(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        json_t *out = json_array();
        json_t *rows = admin_list_member(doc, "deputies");
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            const char *id = json_string_value(json_array_get(row, 0));
            const struct deputy *d = id ? roster_deputy(call->app->roster, id) : NULL;
            if (!d)
                continue; /* removed by a reload meanwhile */
            const struct station *st = roster_station(call->app->roster, d->station);
            const char *oldest = json_string_value(json_array_get(row, 2));
            json_int_t since = json_integer_value(json_array_get(row, 3));
            json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:I}", "id", d->id, "name", d->name,
                                  "station", d->station, "station_name", st ? st->name : NULL,
                                  "open", json_integer_value(json_array_get(row, 1)));
            json_object_set_new(o, "oldest_open_case",
                                oldest && *oldest ? json_string(oldest) : json_null());
            json_object_set_new(o, "oldest_open_since",
                                oldest && *oldest ? json_integer(since) : json_null());
            json_array_append_new(out, o);
        }
        json_decref(rows);
        admin_send(call->req, 200, json_pack("{s:o}", "deputies", out));
        json_decref(doc);
    }
    admin_call_free(call);
}

void admin_deputies(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    evhttp_clear_headers(&q);
    const struct roster *ro = app->roster;
    const char **argv = malloc((ro->ndeputies + 1) * sizeof(*argv));
    struct admin_call *call = argv ? admin_call_new(app, req) : NULL;
    if (!call) {
        if (!argv)
            http_send_error(req, 503, "unavailable", "out of memory");
        free(argv);
        return;
    }
    argv[0] = "deputies";
    for (size_t i = 0; i < ro->ndeputies; i++)
        argv[i + 1] = ro->deputies[i].id;
    admin_script(call, on_deputies, (int)ro->ndeputies + 1, argv);
    free(argv); /* the store copied the arguments */
}
