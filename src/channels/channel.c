/* What the channels share: classifying plain HTTP sends, and answering a
 * webhook with its step's outcome. */
#include "channels/channel.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http_client.h"
#include "http/reply.h"

struct http_send {
    send_done_fn done;
    void *arg;
};

static void on_http_done(const struct http_response *res, void *arg)
{
    struct http_send *hs = arg;
    char detail[160];
    enum send_result r;

    if (res->status)
        snprintf(detail, sizeof(detail), "http %ld", res->status);
    else
        snprintf(detail, sizeof(detail), "%s", res->error ? res->error : "transport error");
    if (res->curl_code == 0 && res->status >= 200 && res->status < 300)
        r = SEND_OK;
    else if (res->curl_code == 0 && res->status >= 400 && res->status < 500 &&
             res->status != 408 && res->status != 429)
        r = SEND_PERMANENT;
    else if (res->curl_code != 0 && res->written)
        r = SEND_UNCERTAIN;   /* sent, unanswered: a blind retry could send it twice */
    else
        r = SEND_RETRY;
    hs->done(r, detail, hs->arg);
    free(hs);
}

void channel_http(struct app *app, const char *method, const char *url,
                  const char *const *headers, const char *body, size_t body_len,
                  long timeout_ms, send_done_fn done, void *arg)
{
    struct http_send *hs = malloc(sizeof(*hs));
    if (!hs) {
        done(SEND_RETRY, "out of memory", arg);
        return;
    }
    hs->done = done;
    hs->arg = arg;
    struct http_request req = {
        .method = method, .url = url, .headers = headers,
        .body = body, .body_len = body_len,
        .timeout_ms = timeout_ms > 0 ? timeout_ms : CHANNEL_TIMEOUT_MS,
    };
    if (http_client_request(app->http, &req, on_http_done, hs) < 0) {
        free(hs);
        done(SEND_RETRY, "could not start request", arg);
    }
}

void channel_reply_step(struct evhttp_request *req, enum step_outcome outcome, const char *action,
                        const char *case_id, const char *rejected_error,
                        const char *rejected_detail)
{
    switch (outcome) {
    case STEP_STORED: {
        json_t *o = json_pack("{s:s, s:s, s:s}", "status", "stored", "action", action ? action : "",
                              "case", case_id ? case_id : "");
        char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        http_send_json(req, 200, body ? body : "{\"status\":\"stored\"}");
        free(body);
        break;
    }
    case STEP_DUPLICATE:
        http_send_json(req, 200, "{\"status\":\"duplicate\"}");
        break;
    case STEP_REJECTED:
        http_send_error(req, 400, rejected_error, rejected_detail);
        break;
    default:
        http_send_error(req, 503, "unavailable", "message store unreachable, retry later");
        break;
    }
}
