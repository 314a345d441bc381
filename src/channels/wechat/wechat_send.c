/* Outbound WeChat messages for channels "wechat:<account>".
 *
 * One attempt, as a small state machine on the loop:
 *   prep (Redis: cached token, the resident's window counters, phone)
 *   -> [token refresh under a Redis lock, if none is cached]
 *   -> OA: customer-service message while the 48 h window and the 5
 *      message quota allow it, else (or on 45015/45047) the fallback
 *      chain: template message -> SMS -> held for the next passive reply
 *   -> WeCom: message/send with the app's agentid.
 * Token errors (40001/40014/42001) drop the cached token and report
 * SEND_RETRY: the outbox's next attempt fetches a fresh one.  The outbox
 * owns retries and backoff; this file only classifies.  docs/wechat.md. */
#include "channels/wechat/wechat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/form.h"
#include "http/http_client.h"
#include "base/log.h"
#include "store/store.h"
#include "base/util.h"

/* The channel the fallback chain sends by SMS on (through the channel
 * table, which knows whether it is configured). */
#define SMS_FALLBACK "sms"

#define TOKEN_LOCK_MS 15000
#define HELD_MAX 20

/* curl codes after which the request surely never reached WeChat. */
#define CURLE_UNSUPPORTED_PROTOCOL 1
#define CURLE_COULDNT_RESOLVE_PROXY 5
#define CURLE_COULDNT_RESOLVE_HOST 6
#define CURLE_COULDNT_CONNECT 7

enum stage { STAGE_CUSTOM, STAGE_TEMPLATE, STAGE_WECOM };

/* One attempt; owns its copies of the message. */
struct wxsend {
    struct app *app;
    const struct wechat_account *acct;
    send_done_fn done;
    void *arg;
    char *id, *channel, *to, *text, *case_id;
    int attempt;
    char *res;                 /* "<channel>:<to>", the resident in Redis */
    char masked[64];
    char *token;               /* access token in use, or NULL */
    char *bad_token;           /* the last one WeChat refused */
    char *phone;               /* resident's phone, for the SMS fallback */
    long long last_seen, cs_since, cs_count;
    enum stage stage;          /* what the token is for */
    bool forced;               /* force_refresh already asked for */
    bool template_tried;
};

static void wxsend_free(struct wxsend *s)
{
    free(s->id);
    free(s->channel);
    free(s->to);
    free(s->text);
    free(s->case_id);
    free(s->res);
    free(s->token);
    free(s->bad_token);
    free(s->phone);
    free(s);
}

static void finish(struct wxsend *s, enum send_result r, const char *detail)
{
    s->done(r, detail, s->arg);
    wxsend_free(s);
}

static void ignore_reply(redisReply *r, void *arg)
{
    (void)arg;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("wechat_store_failed", "error=%s", LOG_STR(r->str));
}

/* Fire-and-forget bookkeeping: losing one only costs accuracy. */
static void script_quiet(struct wxsend *s, int argc, const char **argv)
{
    store_script(s->app->store, SCRIPT_WECHAT, ignore_reply, NULL, argc, argv, NULL);
}

static void fallback(struct wxsend *s, const char *why);
static void run_stage(struct wxsend *s);

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

typedef void (*api_fn)(struct wxsend *s, const struct http_response *res, long errcode, bool parsed);

struct api_call {
    struct wxsend *s;
    api_fn fn;
};

static void on_api_done(const struct http_response *res, void *arg)
{
    struct api_call *c = arg;
    long errcode = 0;
    bool parsed = res->curl_code == 0 && res->status == 200 &&
                  wechat_api_parse(res->body, res->body_len, &errcode, NULL, NULL) == 0;
    c->fn(c->s, res, errcode, parsed);
    free(c);
}

/* POSTs JSON `body` (or GETs when NULL) to api_base + `path_query`. */
static void api_call(struct wxsend *s, const char *path_query, const char *body, api_fn fn)
{
    char *url = NULL;
    struct api_call *c = malloc(sizeof(*c));
    if (!c || asprintf(&url, "%s%s", s->acct->api_base, path_query) < 0) {
        free(c);
        finish(s, SEND_RETRY, "out of memory");
        return;
    }
    c->s = s;
    c->fn = fn;
    static const char *const json_headers[] = { "Content-Type: application/json; charset=utf-8", NULL };
    struct http_request req = {
        .method = body ? "POST" : "GET", .url = url, .headers = body ? json_headers : NULL,
        .body = body, .body_len = body ? strlen(body) : 0, .timeout_ms = s->acct->timeout_ms,
    };
    int rc = http_client_request(s->app->http, &req, on_api_done, c);
    free(url);   /* it carries the token or the secret: never logged */
    if (rc < 0) {
        free(c);
        finish(s, SEND_RETRY, "could not start request");
    }
}

/* Whether a request without an answer may have reached WeChat. */
static bool maybe_delivered(const struct http_response *res)
{
    if (res->status != 0)
        return true;
    switch (res->curl_code) {
    case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
        return false;
    default:
        return true;
    }
}

/* A send that got no usable answer.  Template messages (client_msg_id)
 * and WeCom messages (duplicate check) are idempotent, so they are
 * retried; an OA customer-service message that may have been delivered
 * is NOT resent blindly: it is set aside as uncertain for an administrator
 * (`mashangctl outbox uncertain`).  See docs/wechat.md. */
static void no_answer(struct wxsend *s, const struct http_response *res, bool idempotent)
{
    char detail[160];
    if (res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429) {
        snprintf(detail, sizeof(detail), "http %ld", res->status);
        finish(s, SEND_PERMANENT, detail);
        return;
    }
    if (res->status >= 500 || res->status == 408 || res->status == 429 || idempotent ||
        !maybe_delivered(res)) {
        if (res->status)
            snprintf(detail, sizeof(detail), "http %ld", res->status);
        else
            snprintf(detail, sizeof(detail), "%s", res->error ? res->error : "transport error");
        finish(s, SEND_RETRY, detail);
        return;
    }
    snprintf(detail, sizeof(detail), "delivery unknown (%s); not resent",
             res->error ? res->error : "no answer");
    log_warn("wechat_delivery_unknown", "id=%s account=%s to=%s", LOG_STR(s->id), s->acct->name,
             LOG_STR(s->masked));
    finish(s, SEND_UNCERTAIN, detail);   /* set aside in outbox:uncertain */
}

static void token_refused(struct wxsend *s, long errcode)
{
    char detail[64];
    const char *argv[] = { "tok_bad", s->acct->name, s->token ? s->token : "" };
    script_quiet(s, 3, argv);
    log_info("wechat_token_refused", "account=%s errcode=%ld", s->acct->name, errcode);
    snprintf(detail, sizeof(detail), "errcode %ld: token refreshed on retry", errcode);
    finish(s, SEND_RETRY, detail);
}

/* ------------------------------------------------------------------ */
/* Sends                                                                */

static void on_custom(struct wxsend *s, const struct http_response *res, long errcode, bool parsed)
{
    char detail[64];
    if (!parsed) {
        no_answer(s, res, false);
        return;
    }
    snprintf(detail, sizeof(detail), "custom errcode %ld", errcode);
    switch (wechat_errcode_class(errcode)) {
    case WXERR_OK: {
        const char *argv[] = { "cs_sent", s->res };
        script_quiet(s, 2, argv);
        finish(s, SEND_OK, "custom");
        return;
    }
    case WXERR_TOKEN:
        token_refused(s, errcode);
        return;
    case WXERR_WINDOW: {
        /* Remember it: later updates skip straight to the fallback until
         * the resident writes again. */
        char limit[16];
        snprintf(limit, sizeof(limit), "%d", WECHAT_CS_QUOTA);
        const char *argv[] = { "cs_closed", s->res, limit };
        script_quiet(s, 3, argv);
        fallback(s, detail);
        return;
    }
    case WXERR_UNREACHABLE:
        fallback(s, detail);
        return;
    case WXERR_TRANSIENT:
        finish(s, SEND_RETRY, detail);
        return;
    default:
        finish(s, SEND_PERMANENT, detail);
        return;
    }
}

/* Template and WeCom answers.  `kind` names the send in outcomes; a
 * template refused for good falls back to the next way of reaching the
 * resident, a WeCom message has none. */
static void on_platform_send(struct wxsend *s, const struct http_response *res, long errcode,
                             bool parsed, const char *kind, bool can_fall_back)
{
    char detail[64];
    if (!parsed) {
        no_answer(s, res, true);
        return;
    }
    snprintf(detail, sizeof(detail), "%s errcode %ld", kind, errcode);
    switch (wechat_errcode_class(errcode)) {
    case WXERR_OK:
        finish(s, SEND_OK, kind);
        return;
    case WXERR_TOKEN:
        token_refused(s, errcode);
        return;
    case WXERR_TRANSIENT:
        finish(s, SEND_RETRY, detail);
        return;
    default:
        if (can_fall_back) {
            s->template_tried = true;
            fallback(s, detail);
        } else {
            finish(s, SEND_PERMANENT, detail);
        }
        return;
    }
}

static void on_template(struct wxsend *s, const struct http_response *res, long errcode, bool parsed)
{
    on_platform_send(s, res, errcode, parsed, "template", true);
}

static void on_wecom(struct wxsend *s, const struct http_response *res, long errcode, bool parsed)
{
    on_platform_send(s, res, errcode, parsed, "wecom", false);
}

static void send_json(struct wxsend *s, const char *path, char *body_owned, api_fn fn)
{
    char *etok = url_encode(s->token, strlen(s->token));
    char *pq = NULL;
    if (!body_owned || !etok || asprintf(&pq, "%s?access_token=%s", path, etok) < 0) {
        /* No body: the text is not valid UTF-8 (or the agentid not a
         * number), which no retry will change. */
        enum send_result r = body_owned ? SEND_RETRY : SEND_PERMANENT;
        free(body_owned);
        free(etok);
        finish(s, r, "could not build the request");
        return;
    }
    api_call(s, pq, body_owned, fn);
    free(pq);
    free(etok);
    free(body_owned);
}

static void run_stage(struct wxsend *s)
{
    switch (s->stage) {
    case STAGE_CUSTOM:
        send_json(s, "/cgi-bin/message/custom/send", wechat_custom_json(s->to, s->text), on_custom);
        break;
    case STAGE_WECOM:
        send_json(s, "/cgi-bin/message/send", wechat_wecom_json(s->to, s->acct->agentid, s->text),
                  on_wecom);
        break;
    case STAGE_TEMPLATE: {
        char when[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        s->template_tried = true;
        send_json(s, "/cgi-bin/message/template/send",
                  wechat_template_json(s->to, s->acct->template_id, s->id, s->case_id, s->text, when,
                                       config_template(s->app->cfg, "wechat_remark")),
                  on_template);
        break;
    }
    }
}

/* ------------------------------------------------------------------ */
/* Access token                                                         */

static void fetch_token(struct wxsend *s);

static void release_lock(struct wxsend *s)
{
    const char *argv[] = { "unlock", s->acct->name, s->app->instance };
    script_quiet(s, 3, argv);
}

static void on_token(const struct http_response *res, void *arg)
{
    struct wxsend *s = arg;
    long errcode = 0, expires_in = 0;
    char *token = NULL;
    char detail[96];

    if (res->curl_code != 0 || res->status != 200 ||
        wechat_api_parse(res->body, res->body_len, &errcode, &token, &expires_in) < 0 || !token) {
        release_lock(s);
        if (res->status == 200)
            snprintf(detail, sizeof(detail), "token fetch errcode %ld", errcode);
        else
            snprintf(detail, sizeof(detail), "token fetch failed: %s",
                     res->status ? "bad http status" : (res->error ? res->error : "transport error"));
        log_warn("wechat_token_failed", "account=%s detail=%s", s->acct->name, LOG_STR(detail));
        free(token);
        finish(s, SEND_RETRY, detail);
        return;
    }
    /* stable_token in normal mode hands back the same token while it is
     * valid; if WeChat just refused that very token, force a new one. */
    if (!s->acct->wecom && !s->forced && s->bad_token && strcmp(token, s->bad_token) == 0) {
        free(token);
        s->forced = true;
        fetch_token(s);
        return;
    }
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", wechat_token_ttl(expires_in));
    const char *argv[] = { "store_token", s->acct->name, s->app->instance, token, ttl };
    script_quiet(s, 5, argv);
    log_info("wechat_token_refreshed", "account=%s ttl_s=%s forced=%d", s->acct->name, ttl, s->forced);
    free(s->token);
    s->token = token;
    run_stage(s);
}

static void fetch_token(struct wxsend *s)
{
    const struct wechat_account *a = s->acct;
    char *url = NULL, *body = NULL;
    int n;
    if (a->wecom) {
        char *id = url_encode(a->appid, strlen(a->appid));
        char *sec = url_encode(a->secret, strlen(a->secret));
        n = id && sec ? asprintf(&url, "%s/cgi-bin/gettoken?corpid=%s&corpsecret=%s", a->api_base, id, sec) : -1;
        free(id);
        free(sec);
    } else {
        n = asprintf(&url, "%s/cgi-bin/stable_token", a->api_base);
    }
    if (n < 0) {
        release_lock(s);
        finish(s, SEND_RETRY, "out of memory");
        return;
    }
    if (!a->wecom) {
        body = wechat_stable_token_json(a->appid, a->secret, s->forced);
        if (!body) {
            free(url);
            release_lock(s);
            finish(s, SEND_RETRY, "out of memory");
            return;
        }
    }
    static const char *const json_headers[] = { "Content-Type: application/json; charset=utf-8", NULL };
    struct http_request req = {
        .method = body ? "POST" : "GET", .url = url, .headers = body ? json_headers : NULL,
        .body = body, .body_len = body ? strlen(body) : 0, .timeout_ms = s->acct->timeout_ms,
    };
    int rc = http_client_request(s->app->http, &req, on_token, s);
    free(url);
    free(body);
    if (rc < 0) {
        release_lock(s);
        finish(s, SEND_RETRY, "could not start token request");
    }
}

static void on_lock(redisReply *r, void *arg)
{
    struct wxsend *s = arg;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        finish(s, SEND_RETRY, "redis unavailable");
        return;
    }
    if (r->integer != 1) {
        /* Another instance is refreshing: only one may (notes pitfall 15). */
        finish(s, SEND_RETRY, "token refresh in progress");
        return;
    }
    fetch_token(s);
}

/* Runs s->stage with a token, fetching one first if none is cached. */
static void with_token(struct wxsend *s, enum stage stage)
{
    s->stage = stage;
    if (s->token && *s->token) {
        run_stage(s);
        return;
    }
    char px[16];
    snprintf(px, sizeof(px), "%d", TOKEN_LOCK_MS);
    const char *argv[] = { "lock", s->acct->name, s->app->instance, px };
    if (store_script(s->app->store, SCRIPT_WECHAT, on_lock, s, 4, argv, NULL) < 0)
        finish(s, SEND_RETRY, "redis unavailable");
}

/* ------------------------------------------------------------------ */
/* Fallbacks                                                            */

static void on_sms_done(enum send_result r, const char *detail, void *arg)
{
    struct wxsend *s = arg;
    char d[160];
    snprintf(d, sizeof(d), "sms fallback: %s", detail ? detail : "");
    finish(s, r, d);
}

static void on_held(redisReply *r, void *arg)
{
    struct wxsend *s = arg;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        finish(s, SEND_RETRY, "redis unavailable");
        return;
    }
    finish(s, SEND_HELD, "held for the next passive reply");
}

static void fallback(struct wxsend *s, const char *why)
{
    const char *via;
    if (s->acct->template_id && !s->template_tried)
        via = "template";
    else if (s->phone && *s->phone && s->app->channels->configured(s->app, SMS_FALLBACK))
        via = "sms";
    else
        via = "held";
    log_info("wechat_fallback", "id=%s account=%s to=%s reason=%s via=%s", LOG_STR(s->id), s->acct->name,
             LOG_STR(s->masked), LOG_STR(why), via);
    if (strcmp(via, "template") == 0) {
        with_token(s, STAGE_TEMPLATE);
    } else if (strcmp(via, "sms") == 0) {
        struct outbound sms = {
            .id = s->id, .channel = SMS_FALLBACK, .to = s->phone, .text = s->text,
            .case_id = s->case_id, .attempt = s->attempt,
        };
        s->app->channels->send(s->app, &sms, on_sms_done, s);
    } else {
        char cap[16];
        snprintf(cap, sizeof(cap), "%d", HELD_MAX);
        const char *argv[] = { "hold", s->res, s->text, cap };
        if (store_script(s->app->store, SCRIPT_WECHAT, on_held, s, 4, argv, NULL) < 0)
            finish(s, SEND_RETRY, "redis unavailable");
    }
}

/* ------------------------------------------------------------------ */
/* Start                                                                */

static long long reply_ll(const redisReply *r, long long dflt)
{
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return dflt;
    return strtoll(r->str, NULL, 10);
}

static char *reply_dup(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING && r->len ? strndup(r->str, r->len) : NULL;
}

static void on_prep(redisReply *r, void *arg)
{
    struct wxsend *s = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 6) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("wechat_store_failed", "error=%s", LOG_STR(r->str));
        finish(s, SEND_RETRY, "redis unavailable");
        return;
    }
    s->token = reply_dup(r->element[0]);
    s->bad_token = reply_dup(r->element[1]);
    s->last_seen = reply_ll(r->element[2], 0);
    s->cs_since = reply_ll(r->element[3], -1);
    s->cs_count = reply_ll(r->element[4], 0);
    s->phone = reply_dup(r->element[5]);
    if (s->acct->wecom) {
        with_token(s, STAGE_WECOM);
        return;
    }
    enum wechat_window w = wechat_window_check((long long)time(NULL), s->last_seen, s->cs_since,
                                               s->cs_count);
    if (w == WX_WINDOW_OPEN)
        with_token(s, STAGE_CUSTOM);
    else
        fallback(s, w == WX_WINDOW_EXPIRED ? "48 h window expired" : "customer-service quota used");
}

void wechat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    size_t plen = strlen(WECHAT_SECTION ":");
    const char *name = strncmp(msg->channel, WECHAT_SECTION ":", plen) == 0 ? msg->channel + plen : "";
    const struct wechat_account *a = config_wechat(app->cfg, name);
    if (!a) {
        done(SEND_PERMANENT, "no such wechat account", arg);
        return;
    }
    struct wxsend *s = calloc(1, sizeof(*s));
    if (!s) {
        done(SEND_RETRY, "out of memory", arg);
        return;
    }
    s->app = app;
    s->acct = a;
    s->done = done;
    s->arg = arg;
    s->attempt = msg->attempt;
    s->id = strdup(msg->id);
    s->channel = strdup(msg->channel);
    s->to = strdup(msg->to);
    s->text = strdup(msg->text);
    s->case_id = strdup(msg->case_id ? msg->case_id : "");
    if (asprintf(&s->res, "%s:%s", msg->channel, msg->to) < 0)
        s->res = NULL;
    if (!s->id || !s->channel || !s->to || !s->text || !s->case_id || !s->res) {
        finish(s, SEND_RETRY, "out of memory");
        return;
    }
    address_mask(s->to, s->masked, sizeof(s->masked));
    const char *argv[] = { "prep", a->name, s->res };
    if (store_script(app->store, SCRIPT_WECHAT, on_prep, s, 3, argv, NULL) < 0)
        finish(s, SEND_RETRY, "redis unavailable");
}
