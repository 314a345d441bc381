/* The small endpoints the web console needs beside the others:
 * POST /admin/cases/{id}/note, an administrator's internal note, kept in
 * the case's history ({"actor": "admin", "event": "note"}) and sent to
 * nobody; GET /admin/categories, the labels a case may be corrected to;
 * POST /admin/cases/{id}/withdraw, an administrator's withdrawal;
 * POST /admin/outbox/dead/{id}/retry, one dead letter sent again. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "base/case_id.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "core/step.h"
#include "base/utf8.h"
#include "http/reply.h"

/* A note is for staff to read in the timeline, not a document. */
#define NOTE_MAX_BYTES 2000

static void on_note(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        if (!json_is_true(json_object_get(doc, "found"))) {
            http_send_error(call->req, 404, "unknown_case", "no such case");
        } else {
            log_info("admin_note", "case=%s", LOG_STR(call->id));
            admin_send(call->req, 200, json_pack("{s:s,s:s}", "id", call->id, "result", "noted"));
        }
        json_decref(doc);
    }
    admin_call_free(call);
}

/* Field `name` of `body`: 1-NOTE_MAX_BYTES bytes of UTF-8 text without a
 * NUL, borrowed from `body`; else answers 400 with `why` and returns NULL. */
static const char *note_field(struct evhttp_request *req, json_t *body, const char *name,
                              const char *why)
{
    json_t *j = json_object_get(body, name);
    const char *text = json_string_value(j);
    size_t len = json_string_length(j);
    if (!text || len == 0 || len > NOTE_MAX_BYTES || strlen(text) != len || !utf8_valid(text, len)) {
        http_send_error(req, 400, "bad_request", why);
        return NULL;
    }
    return text;
}

/* The call about case `id` (its canonical id in call->id); NULL when `id`
 * is no case id (answered 404) or memory ran out. */
static struct admin_call *case_call(struct app *app, struct evhttp_request *req, const char *id)
{
    char idbuf[48];
    const char *cid = case_id_parse(id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    if (!cid) {
        http_send_error(req, 404, "unknown_case", "no such case");
        return NULL;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (call)
        snprintf(call->id, sizeof(call->id), "%s", cid);
    return call;
}

void admin_case_note(struct app *app, struct evhttp_request *req, const char *id)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    const char *text = note_field(req, body, "text", "\"text\": 1-2000 bytes of text");
    struct admin_call *call = text ? case_call(app, req, id) : NULL;
    if (call) {
        char now[24];
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        const char *argv[] = { "note", call->id, now, text };
        admin_script(call, on_note, 4, argv);
    }
    json_decref(body);
}

void admin_categories(struct app *app, struct evhttp_request *req)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < app->cfg->ncategories; i++)
        json_array_append_new(list, json_pack("{s:s,s:s}", "label", app->cfg->categories[i].key,
                                              "name", app->cfg->categories[i].text));
    admin_send(req, 200, list ? json_pack("{s:o}", "categories", list) : NULL);
}

static void on_retried(redisReply *r, void *arg)
{
    struct admin_call *call = arg;
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        const char *result = json_string_value(json_object_get(doc, "result"));
        if (!result || strcmp(result, "unknown") == 0) {
            http_send_error(call->req, 404, "not_found", "no such dead letter");
            json_decref(doc);
        } else {
            log_info("admin_outbox_retry", "id=%s result=%s", LOG_STR(call->id), LOG_STR(result));
            admin_send(call->req, 200, doc);
        }
    }
    admin_call_free(call);
}

void admin_outbox_dead_retry(struct app *app, struct evhttp_request *req, const char *id)
{
    if (!admin_outbox_id_ok(id)) {
        http_send_error(req, 400, "bad_id", "outbox id: " ADMIN_OUTBOX_ID_RULE);
        return;
    }
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    snprintf(call->id, sizeof(call->id), "%s", id); /* for the log; may be cut */
    char now[24];
    snprintf(now, sizeof(now), "%lld", wall_ms());
    const char *argv[] = { "outbox_retry_one", id, now };
    admin_script(call, on_retried, 3, argv);
}

static void on_withdrawn(enum step_outcome outcome, const char *action, const char *case_id,
                         void *arg)
{
    struct admin_call *call = arg;
    (void)case_id;
    if (outcome == STEP_STORED) {
        log_info("admin_withdraw", "case=%s", LOG_STR(call->id));
        admin_send(call->req, 200, json_pack("{s:s,s:s,s:s}", "id", call->id, "action", "withdrawn",
                                             "state", "withdrawn"));
    } else if (outcome == STEP_UNAVAILABLE) {
        http_send_error(call->req, 503, "redis_unavailable", "Redis cannot be reached");
    } else if (action && strcmp(action, "unknown_case") == 0) {
        http_send_error(call->req, 404, "unknown_case", "no such case");
    } else if (action && strcmp(action, "bad_state") == 0) {
        http_send_error(call->req, 409, "bad_state", "the case cannot be withdrawn in its state");
    } else {
        http_send_error(call->req, 400, "rejected", action ? action : "rejected");
    }
    admin_call_free(call);
}

void admin_case_withdraw(struct app *app, struct evhttp_request *req, const char *id)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    const char *note = note_field(req, body, "note", "\"note\": why, 1-2000 bytes (the resident is told)");
    struct admin_call *call = note ? case_call(app, req, id) : NULL;
    if (call)
        step_withdraw(app, call->id, "admin", note, on_withdrawn, call);
    json_decref(body);
}
