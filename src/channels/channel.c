/* Dispatches outbound messages to their channel's sender. */
#include "channels/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/chat/chat.h"
#include "base/config.h"
#include "http/http_client.h"
#include "channels/kannel/sms_kannel.h"
#include "channels/wechat/wechat.h"

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

static void send_sms(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    const struct config *cfg = app->cfg;
    if (!cfg->sms.enabled) {
        done(SEND_PERMANENT, "sms channel not configured", arg);
        return;
    }
    char *url = sms_kannel_sendsms_url(&cfg->sms, msg->to, msg->text, msg->id, msg->dlr_token);
    if (!url) {
        done(SEND_RETRY, "out of memory", arg);
        return;
    }
    channel_http(app, "GET", url, NULL, NULL, 0, cfg->sms.timeout_ms, done, arg);
    free(url);
}

void channel_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    if (strcmp(msg->channel, "sms") == 0) {
        send_sms(app, msg, done, arg);
        return;
    }
    if (strncmp(msg->channel, "wechat:", 7) == 0) {
        wechat_send(app, msg, done, arg);
        return;
    }
    if (strncmp(msg->channel, "chat:", 5) == 0) {
        chat_send(app, msg, done, arg);
        return;
    }
    done(SEND_PERMANENT, "no such channel", arg);
}
