/* Administrators' API for common issues (共性问题, docs/admin.md): the
 * open ones ranked by residents affected (admin.lua common_list), and a
 * case split out of or joined into one by hand (the step's mode
 * "common", step_common: atomic with the case work it causes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "base/log.h"
#include "core/step.h"
#include "http/reply.h"

/* ---- GET /admin/common ------------------------------------------------- */

static void on_list(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        json_t *list = admin_list_member(doc, "common");
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
            admin_add_names(call->app, m);
            /* cjson writes an empty array as {} */
            if (!json_is_array(json_object_get(m, "cases")))
                json_object_set_new(m, "cases", json_array());
        }
        admin_send(call->req, 200, json_pack("{s:o}", "common", list));
        json_decref(doc);
    }
    admin_call_free(call);
}

void admin_common_list(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "station", "limit", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *station = evhttp_find_header(&q, "station");
    const char *limit_s = evhttp_find_header(&q, "limit");
    long limit = ADMIN_LIST_DEFAULT;
    if (limit_s && admin_parse_long(limit_s, 1, ADMIN_LIST_MAX, &limit) < 0) {
        evhttp_clear_headers(&q);
        http_send_error(req, 400, "bad_query", "limit: 1-1000 expected");
        return;
    }
    char st[64], lim[24];
    snprintf(st, sizeof(st), "%s", station ? station : "");
    snprintf(lim, sizeof(lim), "%ld", limit);
    evhttp_clear_headers(&q);
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    const char *argv[] = { "common_list", st, lim };
    admin_script(call, on_list, 3, argv);
}

/* ---- POST /admin/common/split, /admin/common/join ----------------------- */

static void on_done(enum step_outcome outcome, const char *action, const char *common, void *arg)
{
    struct admin_call *call = arg;
    if (outcome == STEP_STORED) {
        log_info("admin_common", "case=%s action=%s common=%s", LOG_STR(call->id), LOG_STR(action),
                 LOG_STR(common ? common : "-"));
        admin_send(call->req, 200, json_pack("{s:s,s:s,s:s}", "case", call->id, "action", action,
                                             "common", common ? common : ""));
    } else if (outcome == STEP_UNAVAILABLE) {
        http_send_error(call->req, 503, "redis_unavailable", "Redis cannot be reached");
    } else if (action && (strcmp(action, "unknown_case") == 0 || strcmp(action, "unknown_target") == 0 ||
                          strcmp(action, "unknown_common") == 0 || strcmp(action, "unknown_deputy") == 0)) {
        http_send_error(call->req, 404, action, "no such case or common issue");
    } else {
        /* not_common, already_common, bad_state, same_deputy: the data
         * does not allow it now */
        http_send_error(call->req, 409, action ? action : "rejected",
                        "the case cannot be moved so in its present state");
    }
    admin_call_free(call);
}

/* Both take {"case": "M1002"}; join also "into": a common issue's number
 * or a case. */
static void by_hand(struct app *app, struct evhttp_request *req, const char *op)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    json_t *jc = json_object_get(body, "case"), *ji = json_object_get(body, "into");
    bool join = strcmp(op, "join") == 0;
    if (!json_is_string(jc) || json_string_length(jc) == 0 || json_string_length(jc) >= 48 ||
        (join && (!json_is_string(ji) || json_string_length(ji) == 0))) {
        json_decref(body);
        http_send_error(req, 400, "bad_request",
                        join ? "\"case\" and \"into\" (strings) are required" : "\"case\" (string) is required");
        return;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (!call) {
        json_decref(body);
        return;
    }
    snprintf(call->id, sizeof(call->id), "%s", json_string_value(jc));
    step_common(app, op, json_string_value(jc), join ? json_string_value(ji) : NULL, "admin", on_done, call);
    json_decref(body);
}

void admin_common_split(struct app *app, struct evhttp_request *req)
{
    by_hand(app, req, "split");
}

void admin_common_join(struct app *app, struct evhttp_request *req)
{
    by_hand(app, req, "join");
}
