/* WeChat Official Account / WeCom callbacks on /wechat/{account}: URL
 * verification (GET) and pushes (POST) in plain and safe mode.  Text goes
 * to the atomic step and the HTTP answer is the passive reply it returns;
 * 代表码 scans bind the resident to a deputy.  Facts: shared/notes/wechat.md;
 * behaviour: docs/wechat.md. */
#include "channels/wechat/wechat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/config.h"
#include "base/log.h"
#include "store/replay.h"
#include "core/tenant.h"
#include "core/roster.h"
#include "core/schema.h"
#include "http/reply.h"
#include "mashang/signature.h"
#include "core/step.h"
#include "store/store.h"
#include "base/util.h"
#include "base/utf8.h"
#include "channels/wechat/wechat_crypto.h"
#include "channels/wechat/wechat_xml.h"

/* One push being answered.  Owns everything it points to except `req`
 * (evhttp's) and `acct` (the immutable config's). */
struct push {
    struct app *app;
    struct evhttp_request *req;
    const struct wechat_account *acct;
    struct wechat_msg msg;
    char channel[80];              /* "wechat:<account>" */
    char masked[64];               /* sender, for logs */
    char *timestamp;               /* the request's, echoed in an encrypted reply */
    char *nonce;
    bool encrypt_reply;
    char *passive;                 /* set by the step (malloc'd) */
    char *msg_id;                  /* "<openid>:<MsgId>" */
    char *replay_id;               /* "<timestamp>:<nonce>", the replay claim */
    char deputy[16];               /* deputy a scan binds, or "" */
    char event[16];                /* subscribe | scan | unsubscribe */
};

static void push_free(struct push *p)
{
    wechat_msg_clear(&p->msg);
    free(p->timestamp);
    free(p->nonce);
    free(p->passive);
    free(p->msg_id);
    free(p->replay_id);
    free(p);
}

static void send_body(struct evhttp_request *req, const char *ctype, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf && len)
        evbuffer_add(buf, body, len);
    if (ctype)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, 200, "OK", buf);
    if (buf)
        evbuffer_free(buf);
}

/* Answers with a passive text reply (encrypted when the push was), or
 * with an empty body when there is nothing to say. */
static void reply_text(struct push *p, const char *text)
{
    const struct wechat_account *a = p->acct;
    size_t len = text ? utf8_cut(text, strlen(text), WECHAT_PASSIVE_MAX) : 0;
    char *content = len ? strndup(text, len) : NULL;
    char *xml = NULL, *env_xml = NULL;
    size_t xml_len = 0, env_len = 0;

    if (content)
        xml = wechat_xml_text_reply(p->msg.from_user_name, p->msg.to_user_name ? p->msg.to_user_name : "",
                                    (int64_t)time(NULL), content, &xml_len);
    if (xml && p->encrypt_reply) {
        unsigned char key[WECHAT_AES_KEY_LEN];
        struct wechat_envelope env = { 0 };
        char ts[24], nonce[24];
        /* Echo the request's timestamp and nonce (WeChat's advice) when
         * they are usable, else our own. */
        const char *t = p->timestamp, *n = p->nonce;
        if (!t || !*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 12) {
            snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
            t = ts;
        }
        if (!n || !*n) {
            snprintf(nonce, sizeof(nonce), "%lld", (long long)time(NULL));
            n = nonce;
        }
        if (wechat_aes_key_decode(a->aes_key, key) == WXC_OK &&
            wechat_envelope_build(key, a->token, a->appid, xml, xml_len, t, n, NULL, &env) == WXC_OK)
            env_xml = wechat_xml_envelope(env.encrypt, env.msg_signature, env.timestamp, env.nonce,
                                          &env_len);
        wechat_envelope_clear(&env);
        if (!env_xml)
            log_error("wechat_reply_failed", "account=%s to=%s reason=encrypt", a->name,
                      LOG_STR(p->masked));
        free(xml);
        xml = env_xml;
        xml_len = env_len;
    }
    if (xml)
        send_body(p->req, "application/xml; charset=utf-8", xml, xml_len);
    else
        send_body(p->req, NULL, "", 0);
    free(xml);
    free(content);
}

/* ------------------------------------------------------------------ */
/* Text messages                                                       */

static void ignore_reply(redisReply *r, void *arg)
{
    (void)arg;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("wechat_store_failed", "error=%s", LOG_STR(r->str));
}

/* The customer-service window opens with every message the person sends.
 * step.lua records residents' last_seen; deputies write too, and their
 * window matters as much for the cases pushed to them. */
static void note_last_seen(struct push *p)
{
    char *key = NULL, now[24];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    if (asprintf(&key, "%s" SCHEMA_KEY_RES "%s:%s", store_prefix(p->app->store), p->channel,
                 p->msg.from_user_name) < 0)
        return;
    const char *argv[] = { "HSET", key, "last_seen", now };
    store_command(p->app->store, ignore_reply, NULL, 4, argv, NULL);
    free(key);
}

static void on_text_stored(enum step_outcome outcome, const char *action, const char *case_id, void *arg)
{
    struct push *p = arg;
    switch (outcome) {
    case STEP_STORED:
        note_last_seen(p);
        reply_text(p, p->passive);
        break;
    case STEP_DUPLICATE:
        reply_text(p, p->passive);
        break;
    default:
        /* Rejected (400) or not stored (503): WeChat retries on anything
         * but 200, and a retry of a push not stored must not be taken for
         * a replay. */
        if (outcome != STEP_REJECTED)
            replay_release(p->app->store, p->channel, p->replay_id);
        channel_reply_step(p->req, outcome, action, case_id, "bad_request", "message text rejected");
        break;
    }
    push_free(p);
}

static void submit_text(struct push *p, const char *text)
{
    const struct wechat_msg *m = &p->msg;
    if (m->msg_id && *m->msg_id &&
        asprintf(&p->msg_id, "%s:%s", m->from_user_name, m->msg_id) < 0)
        p->msg_id = NULL;
    struct inbound in = {
        .channel = p->channel, .addr = m->from_user_name, .to = NULL,
        .text = text, .len = strlen(text), .msg_id = p->msg_id, .passive = &p->passive,
    };
    step_submit(p->app, &in, on_text_stored, p);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

static void on_event_stored(redisReply *r, void *arg)
{
    struct push *p = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            log_error("wechat_event_failed", "error=%s", LOG_STR(r->str));
        replay_release(p->app->store, p->channel, p->replay_id);
        http_send_error(p->req, 503, "unavailable", "message store unreachable, retry later");
        push_free(p);
        return;
    }
    /* { "new" | "duplicate", the welcome text rendered by wechat.lua } */
    const redisReply *status = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0] : NULL;
    const redisReply *welcome = status ? r->element[1] : NULL;
    bool dup = status && status->type == REDIS_REPLY_STRING && strcmp(status->str, "duplicate") == 0;
    log_info("wechat_event", "account=%s from=%s event=%s deputy=%s outcome=%s", p->acct->name,
             LOG_STR(p->masked), LOG_STR(p->event), p->deputy[0] ? p->deputy : "-", dup ? "duplicate" : "stored");
    if (strcmp(p->event, "unsubscribe") == 0) {
        send_body(p->req, NULL, "", 0);
        push_free(p);
        return;
    }
    reply_text(p, welcome && welcome->type == REDIS_REPLY_STRING ? welcome->str : NULL);
    push_free(p);
}

static void handle_event(struct push *p)
{
    const struct wechat_msg *m = &p->msg;
    const char *ev = m->event ? m->event : "";
    char buf[16];

    if (strcmp(ev, "subscribe") != 0 && strcmp(ev, "scan") != 0 && strcmp(ev, "unsubscribe") != 0) {
        /* LOCATION, CLICK, VIEW, TEMPLATESENDJOBFINISH ...: acknowledged. */
        log_debug("wechat_event", "account=%s from=%s event=%s outcome=ignored", p->acct->name,
                  LOG_STR(p->masked), LOG_STR(ev));
        send_body(p->req, NULL, "", 0);
        push_free(p);
        return;
    }
    snprintf(p->event, sizeof(p->event), "%s", ev);
    const char *scene = strcmp(ev, "unsubscribe") != 0 ? wechat_scene_deputy(m->event_key, buf, sizeof(buf)) : NULL;
    const struct deputy *d = scene ? roster_deputy(p->app->roster, scene) : NULL;
    if (d)
        snprintf(p->deputy, sizeof(p->deputy), "%s", d->id);
    else if (scene)
        log_warn("wechat_unknown_scene", "account=%s from=%s scene=%s", p->acct->name,
                 LOG_STR(p->masked), LOG_STR(scene));

    char *res = NULL, *suffix = NULL, ttl[24], now[24];
    snprintf(ttl, sizeof(ttl), "%ld", p->app->cfg->timers.dedupe_s);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    if (asprintf(&res, "%s:%s", p->channel, m->from_user_name) < 0)
        res = NULL;
    if (asprintf(&suffix, "%s:%s:%s:%s", p->channel, m->from_user_name,
                 m->create_time ? m->create_time : "", ev) < 0)
        suffix = NULL;
    /* The welcome: for a scan that binds a deputy, else for a subscribe;
     * wechat.lua renders it (the one renderer of replies). */
    const struct config *cfg = p->app->cfg;
    const char *tpl = "";
    const struct station *st = d ? roster_station(p->app->roster, d->station) : NULL;
    if (d)
        tpl = config_template(cfg, "welcome_deputy");
    else if (strcmp(ev, "subscribe") == 0)
        tpl = config_template(cfg, "welcome");
    int rc = -1;
    if (res && suffix) {
        const char *argv[] = { "event", res, suffix, ttl, ev, p->deputy, now, tpl ? tpl : "",
                               "deputy", d ? d->name : "", "case", "", "station", st ? st->name : "" };
        rc = store_script(p->app->store, SCRIPT_WECHAT, on_event_stored, p, 14, argv, NULL);
    }
    free(res);
    free(suffix);
    if (rc < 0) {
        http_send_error(p->req, 503, "unavailable", "message store unreachable, retry later");
        push_free(p);
    }
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

static void handle_message(struct push *p)
{
    const struct wechat_msg *m = &p->msg;
    const char *type = m->msg_type;

    if (strcmp(type, "event") == 0) {
        handle_event(p);
        return;
    }
    const char *text = NULL;
    if (strcmp(type, "text") == 0)
        text = m->content;
    else if (strcmp(type, "voice") == 0)
        text = m->recognition;          /* speech-to-text, when enabled */
    else if (strcmp(type, "location") == 0)
        text = m->label;                /* the address answers "where?" */
    if (text && *text) {
        submit_text(p, text);
        return;
    }
    log_info("wechat_unsupported", "account=%s from=%s type=%s", p->acct->name, LOG_STR(p->masked),
             LOG_STR(type));
    /* a text without placeholders (config.c checks it): sent as it is */
    reply_text(p, config_template(p->app->cfg, "unsupported"));
    push_free(p);
}

/* The replay window's verdict on an authentic push.  The same query
 * string with the same body is WeChat retrying a push (or someone
 * sending it again): the message dedupe answers it as a retry.  The same
 * query string with another body is a forgery riding a captured
 * signature (plaintext mode does not sign the body). */
static void on_claimed(enum replay_verdict verdict, void *arg)
{
    struct push *p = arg;
    if (verdict == REPLAY_OTHER) {
        log_warn("wechat_refused", "account=%s reason=replayed_nonce status=403", p->acct->name);
        http_send_error(p->req, 403, "replayed", "timestamp and nonce were already used");
        push_free(p);
        return;
    }
    handle_message(p);
}

/* Checks msg_signature over `encrypt`, then decrypts it for our AppID /
 * CorpID.  Returns the HTTP status to answer (0 = ok, *out malloc'd). */
static int open_envelope(const struct wechat_account *a, const char *timestamp, const char *nonce,
                         const char *msg_signature, const char *encrypt, char **out, size_t *out_len,
                         const char **why)
{
    unsigned char key[WECHAT_AES_KEY_LEN];
    *out = NULL;
    if (!a->aes_key) {
        *why = "encrypted push but the account has no aes_key";
        return 400;
    }
    if (!encrypt || !*encrypt) {
        *why = "missing Encrypt";
        return 400;
    }
    /* Authenticate before touching the ciphertext: no padding oracle. */
    if (!wechat_check_msg_signature(a->token, timestamp, nonce, encrypt, msg_signature)) {
        *why = "msg_signature mismatch";
        return 403;
    }
    if (wechat_aes_key_decode(a->aes_key, key) != WXC_OK) {
        *why = "bad aes_key in configuration";
        return 500;
    }
    int rc = wechat_decrypt(key, encrypt, a->appid, out, out_len);
    if (rc == WXC_OK)
        return 0;
    *why = wechat_crypto_strerror(rc);
    return rc == WXC_ERECEIVER ? 403 : 400;
}

/* WeChat signs only token, timestamp and nonce (plaintext mode: not the
 * body), so a signed query string must not outlive its timestamp: one
 * more than WEBHOOK_MAX_SKEW_S seconds from now is refused. */
static bool timestamp_fresh(const char *ts)
{
    size_t n = strlen(ts);
    if (n == 0 || n > 18 || strspn(ts, "0123456789") != n)
        return false;
    long long t = strtoll(ts, NULL, 10), now = (long long)time(NULL);
    return (now > t ? now - t : t - now) <= WEBHOOK_MAX_SKEW_S;
}

/* Refuses (and answers) a query whose timestamp or nonce cannot be
 * trusted or remembered, or whose OA signature is wrong (a WeCom query is
 * signed with msg_signature over its payload, checked when it is opened);
 * returns false when it did. */
static bool query_usable(struct evhttp_request *req, const struct wechat_account *a,
                         const struct evkeyvalq *q, const char *ts, const char *nonce,
                         const char *refused_event)
{
    if (!id_len_ok(nonce) || strlen(ts) > 18) {
        http_send_error(req, 400, "id_too_long", "nonce or timestamp is " ID_TOO_LONG_TEXT);
        return false;
    }
    if (!timestamp_fresh(ts)) {
        log_warn("wechat_refused", "account=%s reason=stale_timestamp timestamp=%s", a->name,
                 LOG_STR(ts));
        http_send_error(req, 403, "stale_timestamp", "timestamp is outside the signature window");
        return false;
    }
    if (!a->wecom && !wechat_check_signature(a->token, ts, nonce, evhttp_find_header(q, "signature"))) {
        log_warn(refused_event, "account=%s reason=signature", a->name);
        http_send_error(req, 403, "bad_signature", "signature mismatch");
        return false;
    }
    return true;
}

/* A URL verification being answered: WeChat signs its timestamp and nonce
 * exactly as it signs a push's (plaintext mode signs no body), so the
 * verification claims them in the same replay window; a push riding a
 * captured verification's signature is then refused as a replay.  Owns
 * everything but `req` and `acct`. */
struct verification {
    struct evhttp_request *req;
    const struct wechat_account *acct;
    char *replay_id;               /* "<timestamp>:<nonce>" */
    char *echo;                    /* the answer: echostr, or WeCom's plaintext */
    size_t echo_len;
};

static void on_verification_claimed(enum replay_verdict verdict, void *arg)
{
    struct verification *v = arg;
    if (verdict == REPLAY_OTHER) {
        log_warn("wechat_verify_refused", "account=%s reason=replayed_nonce status=403",
                 v->acct->name);
        http_send_error(v->req, 403, "replayed", "timestamp and nonce were already used");
    } else {
        /* REPLAY_SAME: WeChat asking again with the very same query. */
        log_info("wechat_verified", "account=%s", v->acct->name);
        send_body(v->req, "text/plain; charset=utf-8", v->echo, v->echo_len);
    }
    free(v->replay_id);
    free(v->echo);
    free(v);
}

static void handle_get(struct app *app, struct evhttp_request *req, const struct wechat_account *a,
                       const struct evkeyvalq *q)
{
    const char *ts = evhttp_find_header(q, "timestamp"), *nonce = evhttp_find_header(q, "nonce");
    const char *echostr = evhttp_find_header(q, "echostr");
    if (!ts || !nonce || !echostr) {
        http_send_error(req, 400, "bad_request", "expected timestamp, nonce and echostr");
        return;
    }
    if (!query_usable(req, a, q, ts, nonce, "wechat_verify_refused"))
        return;
    char *plain = NULL;
    size_t plain_len = 0;
    if (!a->wecom) {
        /* OA: echostr is plaintext in every mode; return it unchanged. */
        plain = strdup(echostr);
        plain_len = plain ? strlen(plain) : 0;
    } else {
        /* WeCom: echostr is encrypted and signed; answer its plaintext. */
        const char *why = NULL;
        int code = open_envelope(a, ts, nonce, evhttp_find_header(q, "msg_signature"), echostr,
                                 &plain, &plain_len, &why);
        if (code) {
            log_warn("wechat_verify_refused", "account=%s reason=%s", a->name, LOG_STR(why));
            http_send_error(req, code, code == 403 ? "bad_signature" : "bad_request", why);
            return;
        }
    }
    struct verification *v = calloc(1, sizeof(*v));
    char digest[SHA1_HEX_LEN + 1], channel[80];
    if (!plain || !v || asprintf(&v->replay_id, "%s:%s", ts, nonce) < 0) {
        free(plain);
        free(v);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    v->req = req;
    v->acct = a;
    v->echo = plain;
    v->echo_len = plain_len;
    /* The claim's digest cannot equal a push's: a push body is XML. */
    sha1_hex(echostr, strlen(echostr), digest);
    digest[0] = 'v';
    snprintf(channel, sizeof(channel), WECHAT_SECTION ":%s", a->name);
    replay_claim(app->store, channel, v->replay_id, digest, WEBHOOK_MAX_SKEW_S * 2 + 1,
                 on_verification_claimed, v);
}

static void handle_post(struct app *app, struct evhttp_request *req, const struct wechat_account *a,
                        const struct evkeyvalq *q)
{
    const char *ts = evhttp_find_header(q, "timestamp"), *nonce = evhttp_find_header(q, "nonce");
    const char *enc_type = evhttp_find_header(q, "encrypt_type");
    bool safe = a->wecom || (enc_type && strcmp(enc_type, "aes") == 0);
    const char *why = NULL, *error = NULL;

    if (!ts || !nonce) {
        http_send_error(req, 400, "bad_request", "expected timestamp and nonce");
        return;
    }
    if (!query_usable(req, a, q, ts, nonce, "wechat_refused"))
        return;
    /* An account given an aes_key takes encrypted pushes only (safe and
     * compatible mode both say encrypt_type=aes): a plaintext one rides a
     * signature that does not cover its body. */
    if (!safe && a->aes_key && !a->accept_plaintext) {
        log_warn("wechat_refused", "account=%s reason=plaintext_push status=403", a->name);
        http_send_error(req, 403, "encryption_required",
                        "this account takes encrypted pushes only (encrypt_type=aes)");
        return;
    }
    struct push *p = calloc(1, sizeof(*p));
    size_t body_len = 0;
    char *body = p ? http_body(req, &body_len) : NULL;
    if (!p || !body) {
        free(p);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    p->app = app;
    p->req = req;
    p->acct = a;
    snprintf(p->channel, sizeof(p->channel), WECHAT_SECTION ":%s", a->name);
    p->timestamp = strdup(ts);
    p->nonce = strdup(nonce);
    char digest[SHA1_HEX_LEN + 1];
    sha1_hex(body, body_len, digest);

    int code = 0;
    int xrc = wechat_xml_parse(body, body_len, &p->msg);
    if (xrc != WXML_OK) {
        code = 400;
        why = wechat_xml_strerror(xrc);
    } else if (safe) {
        /* Compatible mode also carries plaintext fields: only the
         * authenticated, decrypted copy counts (notes pitfall 17). */
        char *inner = NULL;
        size_t inner_len = 0;
        char *encrypt = p->msg.encrypt ? strdup(p->msg.encrypt) : NULL;
        wechat_msg_clear(&p->msg);
        code = open_envelope(a, ts, nonce, evhttp_find_header(q, "msg_signature"), encrypt,
                             &inner, &inner_len, &why);
        if (code == 0 && (xrc = wechat_xml_parse(inner, inner_len, &p->msg)) != WXML_OK) {
            code = 400;
            why = wechat_xml_strerror(xrc);
        }
        free(inner);
        free(encrypt);
        p->encrypt_reply = a->encrypt_reply || a->wecom;
    }
    free(body);
    if (code == 0 && (!p->msg.from_user_name || !*p->msg.from_user_name || !p->msg.msg_type)) {
        code = 400;
        why = "missing FromUserName or MsgType";
    }
    /* These become key names ({ns}:seen:…, {ns}:res:…, {ns}:wxev:…). */
    if (code == 0 && (!id_len_ok(p->msg.from_user_name) || !id_len_ok(p->msg.msg_id) ||
                      !id_len_ok(p->msg.create_time))) {
        code = 400;
        why = "FromUserName, MsgId or CreateTime is " ID_TOO_LONG_TEXT;
        error = "id_too_long";
    }
    if (code == 0 && asprintf(&p->replay_id, "%s:%s", ts, nonce) < 0) {
        p->replay_id = NULL;
        code = 503;
        why = "out of memory";
    }
    if (code) {
        log_warn("wechat_refused", "account=%s reason=%s status=%d", a->name, LOG_STR(why), code);
        if (!error)
            error = code == 403 ? "bad_signature" : code == 503 ? "unavailable" : "bad_request";
        http_send_error(req, code, error, why);
        push_free(p);
        return;
    }
    address_mask(p->msg.from_user_name, p->masked, sizeof(p->masked));
    replay_claim(app->store, p->channel, p->replay_id, digest, WEBHOOK_MAX_SKEW_S * 2 + 1,
                 on_claimed, p);
}

void wechat_handle(struct app *app, struct evhttp_request *req, const char *account)
{
    if (!id_len_ok(account)) {
        http_send_error(req, 400, "id_too_long", "account name is " ID_TOO_LONG_TEXT);
        return;
    }
    const struct wechat_account *a = config_wechat(app->cfg, account);
    if (!a) {
        http_send_error(req, 404, "unknown_account", "no such WeChat account");
        return;
    }
    struct app *tenant = tenant_by_channel(app, WECHAT_SECTION, account);
    if (!tenant) {
        log_warn("wechat_refused", "account=%s reason=no_tenant status=404", a->name);
        http_send_error(req, 404, "no_tenant", "this account belongs to no county");
        return;
    }
    app = tenant;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
        http_send_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    /* evhttp_parse_query_str decodes %XX but leaves '+' alone: a '+' in a
     * WeCom echostr is base64, not a space (notes pitfall 19). */
    struct evkeyvalq q;   /* initialised by evhttp_parse_query_str */
    if (evhttp_parse_query_str(query ? query : "", &q) < 0) {
        http_send_error(req, 400, "bad_query", "malformed query string");
        return;
    }
    if (cmd == EVHTTP_REQ_GET)
        handle_get(app, req, a, &q);
    else
        handle_post(app, req, a, &q);
    evhttp_clear_headers(&q);
}
