/* Signed generic webhooks (contract §3): chat relays on /chat/{channel},
 * cloud SMS upstream callbacks on /sms/http, and the signed JSON POST
 * that carries outbound messages to a chat channel's URL.
 *
 * /sms/http is signed with the secret of the chat channel named
 * "sms_http" (channels.chat.sms_http.secret; its url is unused): the
 * configuration has no field of its own for it yet. */
#include "channels/chat/chat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "base/utf8.h"
#include "channels/chat/chat_config.h"
#include "core/app.h"
#include "core/step.h"
#include "core/tenant.h"
#include "http/reply.h"
#include "mashang/signature.h"
#include "store/replay.h"

#define SMS_HTTP_SECRET_CHANNEL "sms_http"

/* ------------------------------------------------------------------ */
/* Pure parts                                                          */

/* A string member, or a number turned into its decimal text (ids and
 * phone numbers arrive either way).  Returns a malloc'd copy or NULL. */
static char *member_text(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        char *s;
        return asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0 ? NULL : s;
    }
    return NULL;
}

void chat_message_clear(struct chat_message *m)
{
    free(m->user);
    free(m->to);
    free(m->text);
    free(m->id);
    memset(m, 0, sizeof(*m));
}

int chat_message_parse(const char *body, size_t len, bool sms, struct chat_message *out,
                       const char **err)
{
    memset(out, 0, sizeof(*out));
    if (!utf8_valid(body, len)) {
        *err = "body is not valid UTF-8";
        return -1;
    }
    /* jansson refuses \u0000 by default, so no text is ever cut short. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        *err = "body is not a JSON object";
        return -1;
    }
    out->user = member_text(root, sms ? "from" : "user");
    out->to = sms ? member_text(root, "to") : NULL;
    json_t *text = json_object_get(root, "text");
    if (json_is_string(text))
        out->text = strndup(json_string_value(text), json_string_length(text));
    out->id = member_text(root, "id");
    json_decref(root);

    if (!out->user || !*out->user)
        *err = sms ? "missing 'from'" : "missing 'user'";
    else if (!out->text || !*out->text)
        *err = "missing 'text'";
    else if (out->id && !*out->id)
        *err = "empty 'id'";
    else if (!id_len_ok(out->user))
        *err = sms ? "'from' is " ID_TOO_LONG_TEXT : "'user' is " ID_TOO_LONG_TEXT;
    else if (!id_len_ok(out->to))
        *err = "'to' is " ID_TOO_LONG_TEXT;
    else if (!id_len_ok(out->id))
        *err = "'id' is " ID_TOO_LONG_TEXT;
    else
        return 0;
    /* Ids become part of key names: refuse before anything is stored. */
    int rc = !id_len_ok(out->user) || !id_len_ok(out->to) || !id_len_ok(out->id) ? -2 : -1;
    chat_message_clear(out);
    return rc;
}

char *chat_outbound_json(const char *user, const char *text, const char *id, const char *case_id)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "user", user ? user : "", "text", text ? text : "",
                          "id", id ? id : "", "case", case_id ? case_id : "");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* ------------------------------------------------------------------ */
/* Inbound                                                             */

struct hook {
    struct app *app;
    struct evhttp_request *req;
    struct chat_message msg;
    char channel[80];
    char sig[SHA256_HEX_LEN + 1];  /* lowercase hex: the replay claim's id */
    char addr[64];                 /* normalized sender (sms) */
    bool sms;
};

static void on_stored(enum step_outcome outcome, const char *action, const char *case_id, void *arg)
{
    struct hook *h = arg;
    /* Nothing stored: the sender's retry of this very request must not
     * be taken for a replay. */
    if (outcome != STEP_STORED && outcome != STEP_DUPLICATE && outcome != STEP_REJECTED)
        replay_release(h->app->store, h->channel, h->sig);
    channel_reply_step(h->req, outcome, action, case_id, "invalid_text", "text rejected");
    chat_message_clear(&h->msg);
    free(h);
}

static void hook_free(struct hook *h)
{
    chat_message_clear(&h->msg);
    free(h);
}

/* The replay window's verdict on an authentic, well-formed webhook. */
static void on_claimed(enum replay_verdict verdict, void *arg)
{
    struct hook *h = arg;
    if (verdict == REPLAY_SAME || verdict == REPLAY_OTHER) {
        /* The same signature again within its timestamp window: a sender's
         * retry or a captured request sent again.  Either way it was taken
         * once; answer as for any duplicate and open nothing. */
        log_warn("webhook_replay", "channel=%s", LOG_STR(h->channel));
        http_send_json(h->req, 200, "{\"status\":\"duplicate\"}");
        hook_free(h);
        return;
    }
    struct inbound in = {
        .channel = h->channel, .addr = h->sms ? h->addr : h->msg.user, .to = h->msg.to,
        .text = h->msg.text, .len = strlen(h->msg.text), .msg_id = h->msg.id,
    };
    step_submit(h->app, &in, on_stored, h);
}

/* Seconds a signature stays acceptable: until its timestamp leaves the
 * window (the timestamp was checked and is plain digits). */
static long replay_ttl(const char *ts_header, int64_t now)
{
    long long ts = strtoll(ts_header, NULL, 10);
    long long ttl = ts - (long long)now + WEBHOOK_MAX_SKEW_S + 1;
    return ttl < 1 ? 1 : ttl > 2 * WEBHOOK_MAX_SKEW_S + 1 ? 2 * WEBHOOK_MAX_SKEW_S + 1 : (long)ttl;
}

/* Authenticates, parses and submits one webhook; answers every error. */
static void inbound(struct app *app, struct evhttp_request *req, const char *secret,
                    const char *channel, bool sms)
{
    struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
    size_t len = 0;
    char *body = http_body(req, &len);
    if (!body) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    const char *sig_header = evhttp_find_header(hdr, "X-Mashang-Signature");
    const char *ts_header = evhttp_find_header(hdr, "X-Mashang-Timestamp");
    int64_t now = (int64_t)time(NULL);
    enum webhook_sig_result sig = webhook_signature_check(secret, sig_header, ts_header, body, len, now);
    if (sig != WEBHOOK_SIG_OK) {
        free(body);
        log_warn("webhook_refused", "channel=%s reason=%s", LOG_STR(channel), webhook_sig_result_str(sig));
        http_send_error(req, 403, "bad_signature", webhook_sig_result_str(sig));
        return;
    }
    struct hook *h = calloc(1, sizeof(*h));
    const char *err = NULL;
    if (!h) {
        free(body);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    int rc = chat_message_parse(body, len, sms, &h->msg, &err);
    free(body);
    if (rc == 0 && sms &&
        phone_normalize(h->msg.user, app->cfg->country_code, h->addr, sizeof(h->addr)) < 0) {
        rc = -1;
        err = "'from' is not a phone number";
    }
    if (rc < 0) {
        log_warn("webhook_rejected", "channel=%s reason=%s", LOG_STR(channel), LOG_STR(err));
        http_send_error(req, 400, rc == -2 ? "id_too_long" : "bad_request", err);
        hook_free(h);
        return;
    }
    /* Which county: the number written to, or the channel's. */
    struct app *tenant = sms ? tenant_by_number(app, h->msg.to)
                             : tenant_by_channel(app, CHAT_SECTION, channel + strlen(CHAT_SECTION ":"));
    if (!tenant) {
        log_warn("webhook_rejected", "channel=%s reason=no_tenant", LOG_STR(channel));
        http_send_error(req, 404, "no_tenant", sms ? "no county serves this service number (to)"
                                                   : "this chat channel belongs to no county");
        hook_free(h);
        return;
    }
    app = tenant;
    h->app = app;
    h->req = req;
    h->sms = sms;
    snprintf(h->channel, sizeof(h->channel), "%s", channel);
    /* The checked signature, in one case: hex digits may arrive in either. */
    const char *hex = sig_header + strlen(WEBHOOK_SIG_PREFIX);
    for (size_t i = 0; i < SHA256_HEX_LEN; i++)
        h->sig[i] = hex[i] >= 'A' && hex[i] <= 'F' ? (char)(hex[i] - 'A' + 'a') : hex[i];
    h->sig[SHA256_HEX_LEN] = '\0';
    replay_claim(app->store, h->channel, h->sig, "1", replay_ttl(ts_header, now), on_claimed, h);
}

void chat_handle(struct app *app, struct evhttp_request *req, const char *name)
{
    if (!id_len_ok(name)) {
        http_send_error(req, 400, "id_too_long", "channel name is " ID_TOO_LONG_TEXT);
        return;
    }
    const struct chat_channel *c = config_chat(app->cfg, name);
    if (!c) {
        http_send_error(req, 404, "unknown_channel", "no such chat channel");
        return;
    }
    char channel[80];
    snprintf(channel, sizeof(channel), CHAT_SECTION ":%s", c->name);
    inbound(app, req, c->secret, channel, false);
}

void sms_http_handle(struct app *app, struct evhttp_request *req)
{
    const struct chat_channel *c = config_chat(app->cfg, SMS_HTTP_SECRET_CHANNEL);
    if (!c) {
        http_send_error(req, 404, "unknown_channel",
                        "the http sms channel is not configured (channels.chat.sms_http)");
        return;
    }
    inbound(app, req, c->secret, "sms", true);
}

/* ------------------------------------------------------------------ */
/* Outbound                                                            */

void chat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    size_t plen = strlen(CHAT_SECTION ":");
    const char *name = strncmp(msg->channel, CHAT_SECTION ":", plen) == 0 ? msg->channel + plen : "";
    const struct chat_channel *c = config_chat(app->cfg, name);
    if (!c || !c->url) {
        done(SEND_PERMANENT, c ? "chat channel has no url" : "no such chat channel", arg);
        return;
    }
    char *body = chat_outbound_json(msg->to, msg->text, msg->id, msg->case_id);
    if (!body) {
        done(SEND_RETRY, "out of memory", arg);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    char sig[WEBHOOK_SIG_HEADER_SIZE];
    char sig_h[WEBHOOK_SIG_HEADER_SIZE + 32], ts_h[64];
    if (webhook_signature_header(c->secret, now, body, strlen(body), sig, sizeof(sig)) < 0) {
        free(body);
        done(SEND_RETRY, "could not sign", arg);
        return;
    }
    snprintf(sig_h, sizeof(sig_h), "X-Mashang-Signature: %s", sig);
    snprintf(ts_h, sizeof(ts_h), "X-Mashang-Timestamp: %lld", (long long)now);
    const char *headers[] = { "Content-Type: application/json", sig_h, ts_h, NULL };
    channel_http(app, "POST", c->url, headers, body, strlen(body), c->timeout_ms, done, arg);
    free(body);
}

/* ------------------------------------------------------------------ */
/* The channel                                                         */

static void route_chat(void *ctx, struct evhttp_request *req, const char *path, const char *rest)
{
    (void)path;
    chat_handle(ctx, req, rest);
}

static void route_sms_http(void *ctx, struct evhttp_request *req, const char *path,
                           const char *rest)
{
    (void)path;
    (void)rest;
    sms_http_handle(ctx, req);
}

static const struct http_route routes[] = {
    { "/chat/", EVHTTP_REQ_POST, "use POST", HTTP_DOOR_PUBLIC, route_chat },
    { "/sms/http", EVHTTP_REQ_POST, "use POST", HTTP_DOOR_INTERNAL, route_sms_http },
};

static bool configured(const struct app *app, const char *key)
{
    return config_chat(app->cfg, key) != NULL && tenant_owns(app, CHAT_SECTION, key);
}

const struct channel_def chat_channel = {
    .name = CHAT_SECTION,
    .named = true,
    .config = { CHAT_SECTION, chat_config_parse, chat_config_free },
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .send = chat_send,
    .configured = configured,
    .sender_kind = ADDRESS_WECHAT,   /* the relay's user id, looked up like a WeChat id */
};
