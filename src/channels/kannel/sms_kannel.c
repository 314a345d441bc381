/* Kannel: inbound MOs and delivery reports, outbound sendsms URLs. */
#include "channels/kannel/sms_kannel.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/cidr.h"
#include "base/form.h"
#include "base/log.h"
#include "base/util.h"
#include "base/utf8.h"
#include "channels/kannel/kannel_config.h"
#include "base/config.h"
#include "core/app.h"
#include "core/step.h"
#include "core/tenant.h"
#include "http/reply.h"
#include "store/store.h"

#define ELLIPSIS "…"

/* ------------------------------------------------------------------ */
/* Outbound                                                            */

char *sms_fit(const char *text, int max_segments, const char *keep)
{
    size_t len = strlen(text);
    if (max_segments <= 0 || sms_segments(text, len) <= max_segments)
        return strdup(text);

    /* UCS-2 concatenated parts carry 67 characters each. */
    size_t budget = (size_t)max_segments * 67 - 1;   /* room for the ellipsis */
    bool keep_lost = keep && *keep && strstr(text, keep) &&
                     (size_t)(strstr(text, keep) - text) + strlen(keep) > utf8_prefix_utf16(text, budget);
    if (keep_lost) {
        size_t kl = utf8_length(keep, strlen(keep)) + 1;
        budget = budget > kl ? budget - kl : 0;
    }
    size_t cut = utf8_prefix_utf16(text, budget);
    char *out;
    if (asprintf(&out, "%.*s" ELLIPSIS "%s%s", (int)cut, text, keep_lost ? " " : "",
                 keep_lost ? keep : "") < 0)
        return NULL;
    return out;
}

int sms_dlr_token(char out[DLR_TOKEN_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[DLR_TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof(raw)] = '\0';
    return 0;
}

/* The dlr-url Kannel calls back: the outbox id (ref), the message's
 * random token (tok), and the gateway key when one is set.  No
 * percent-encoding is needed: ids are digits, the token hex and the key
 * restricted to unreserved characters (config.c), so Kannel's own %-escapes
 * (%d) are the only ones in it. */
static char *dlr_callback_url(const struct sms_channel *c, const char *tenant, const char *ref,
                              const char *token)
{
    char *dlr;
    /* The tenant's id is one of A-Z a-z 0-9 _ - (config_tenants.c). */
    if (asprintf(&dlr, "%s%sref=%s&tok=%s%s%s%s%s&type=%%d", c->dlr_url,
                 strchr(c->dlr_url, '?') ? "&" : "?", ref, token,
                 tenant ? "&t=" : "", tenant ? tenant : "",
                 c->secret ? "&key=" : "", c->secret ? c->secret : "") < 0)
        return NULL;
    return dlr;
}

char *sms_kannel_sendsms_url(const struct sms_channel *c, const char *from, const char *tenant,
                             const char *to, const char *text, const char *ref, const char *token)
{
    char *fitted = sms_fit(text, c->max_segments, NULL);
    char *dlr = NULL, *url = NULL;
    char *e_user = url_encode(c->username ? c->username : "", strlen(c->username ? c->username : ""));
    char *e_pass = url_encode(c->password ? c->password : "", strlen(c->password ? c->password : ""));
    if (!from)
        from = c->from ? c->from : "";
    char *e_from = url_encode(from, strlen(from));
    char *e_to = url_encode(to, strlen(to));
    char *e_text = fitted ? url_encode(fitted, strlen(fitted)) : NULL;
    char *e_dlr = NULL;

    if (c->dlr_url && *c->dlr_url && token && *token && (dlr = dlr_callback_url(c, tenant, ref, token)) != NULL)
        e_dlr = url_encode(dlr, strlen(dlr));

    if (e_user && e_pass && e_from && e_to && e_text) {
        int n = asprintf(&url, "%s%susername=%s&password=%s&from=%s&to=%s&text=%s"
                         "&charset=UTF-8&coding=2%s%s",
                         c->sendsms_url, strchr(c->sendsms_url, '?') ? "&" : "?",
                         e_user, e_pass, e_from, e_to, e_text,
                         e_dlr ? "&dlr-mask=31&dlr-url=" : "", e_dlr ? e_dlr : "");
        if (n < 0)
            url = NULL;
    }
    free(fitted);
    free(dlr);
    free(e_user);
    free(e_pass);
    free(e_from);
    free(e_to);
    free(e_text);
    free(e_dlr);
    return url;
}

/* ------------------------------------------------------------------ */
/* Gateway authentication                                              */

/* Both MOs and delivery reports speak for someone (a resident, a deputy,
 * the operator's network), so only Kannel may send them: a peer outside
 * channels.sms.allow is refused before its request is even parsed. */
static bool peer_allowed(struct app *app, struct evhttp_request *req)
{
    const struct sms_channel *c = sms_config(app->cfg);
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;
    if (cidr_match(c->allow, c->nallow, sa))
        return true;
    char peer[64];
    cidr_peer_string(sa, peer, sizeof(peer));
    log_warn("sms_gateway_refused", "reason=peer peer=%s", peer);
    http_send_error(req, 403, "forbidden", "caller not in channels.sms.allow");
    return false;
}

/* With channels.sms.secret set, the query must carry key=<secret>,
 * compared in constant time so its bytes cannot be found one by one. */
static bool key_valid(struct app *app, struct evhttp_request *req, const struct form *q)
{
    const char *secret = sms_config(app->cfg)->secret;
    if (!secret)
        return true;
    const struct form_field *k = form_get(q, "key");
    size_t len = strlen(secret);
    if (k && k->len == len && CRYPTO_memcmp(k->value, secret, len) == 0)
        return true;
    log_warn("sms_gateway_refused", "reason=%s", k ? "wrong_key" : "no_key");
    http_send_error(req, 403, "forbidden", "missing or wrong key");
    return false;
}

/* ------------------------------------------------------------------ */
/* Inbound                                                             */

struct mo {
    struct evhttp_request *req;
    char *from;
    char *to;
    char *id;
    char *text;
    size_t len;
};

static void mo_free(struct mo *mo)
{
    free(mo->from);
    free(mo->to);
    free(mo->id);
    free(mo->text);
    free(mo);
}

static char *field_dup(const struct form *f, const char *name)
{
    const struct form_field *ff = form_get(f, name);
    return ff && ff->len ? strndup(ff->value, ff->len) : NULL;
}

static bool is_utf16_charset(const char *cs)
{
    return cs && (strcasecmp(cs, "UTF-16BE") == 0 || strcasecmp(cs, "UTF-16") == 0 ||
                  strcasecmp(cs, "UCS-2") == 0 || strcasecmp(cs, "UCS2") == 0 ||
                  strcasecmp(cs, "ISO-10646-UCS-2") == 0);
}

/* Text arrives as UTF-8 (mo-recode = true) or as UTF-16BE (coding=2
 * without recoding).  Returns a malloc'd UTF-8 copy, or NULL. */
static char *decode_text(const char *raw, size_t len, const char *charset, const char *coding,
                         size_t *outlen)
{
    bool utf16 = is_utf16_charset(charset) ||
                 (!charset && coding && strcmp(coding, "2") == 0);
    if (utf16)
        return utf16be_to_utf8((const unsigned char *)raw, len, outlen);
    if (!utf8_valid(raw, len) || memchr(raw, '\0', len))
        return NULL;
    *outlen = len;
    return strndup(raw, len);
}

/* The charset parameter of a Content-Type header, copied into `buf`. */
static const char *content_type_charset(const char *ct, char *buf, size_t bufsz)
{
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = strcspn(p, "\";, ");
    if (n == 0 || n >= bufsz)
        return NULL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void on_mo_stored(enum step_outcome outcome, const char *action, const char *case_id, void *arg)
{
    struct mo *mo = arg;
    /* Not stored: the 503 makes smsbox retry. */
    channel_reply_step(mo->req, outcome, action, case_id, "invalid_text", "text is not valid UTF-8");
    mo_free(mo);
}

void sms_kannel_inbound(struct app *app, struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = evhttp_uri_get_query(uri);
    struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
    struct form q = { 0 };
    char *body = NULL;
    size_t body_len = 0;
    char csbuf[32];

    if (!sms_config(app->cfg)) {
        http_send_error(req, 404, "unknown_channel", "the sms channel is not configured");
        return;
    }
    if (!peer_allowed(app, req))
        return;
    if (query && form_parse(query, strlen(query), &q) < 0) {
        http_send_error(req, 400, "bad_query", "malformed percent-encoding in the query");
        return;
    }
    if (!key_valid(app, req, &q)) {
        form_free(&q);
        return;
    }
    struct mo *mo = calloc(1, sizeof(*mo));
    if (!mo) {
        form_free(&q);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    mo->req = req;
    mo->from = field_dup(&q, "from");
    mo->to = field_dup(&q, "to");
    mo->id = field_dup(&q, "id");
    char *charset = field_dup(&q, "charset");
    char *coding = field_dup(&q, "coding");
    const struct form_field *text = form_get(&q, "text");
    const char *raw = text ? text->value : NULL;
    size_t raw_len = text ? text->len : 0;

    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && !text) {
        /* post-url: the text is the raw body, metadata in X-Kannel-* headers. */
        body = http_body(req, &body_len);
        raw = body;
        raw_len = body_len;
        if (!mo->from && evhttp_find_header(hdr, "X-Kannel-From"))
            mo->from = strdup(evhttp_find_header(hdr, "X-Kannel-From"));
        if (!mo->to && evhttp_find_header(hdr, "X-Kannel-To"))
            mo->to = strdup(evhttp_find_header(hdr, "X-Kannel-To"));
        if (!coding && evhttp_find_header(hdr, "X-Kannel-Coding"))
            coding = strdup(evhttp_find_header(hdr, "X-Kannel-Coding"));
        if (!charset) {
            const char *cs = content_type_charset(evhttp_find_header(hdr, "Content-Type"), csbuf, sizeof(csbuf));
            if (cs)
                charset = strdup(cs);
        }
    }

    char normalized[32];
    const char *err = NULL, *error = "bad_request";
    if (!mo->from)
        err = "missing 'from'";
    else if (!id_len_ok(mo->from) || !id_len_ok(mo->to) || !id_len_ok(mo->id)) {
        /* The id becomes a key name ({ns}:seen:sms:<id>). */
        err = "'from', 'to' or 'id' is " ID_TOO_LONG_TEXT;
        error = "id_too_long";
    } else if (phone_normalize(mo->from, app->cfg->country_code, normalized, sizeof(normalized)) < 0)
        err = "'from' is not a phone number";
    else if (!raw || raw_len == 0)
        err = "missing 'text'";
    else if (!(mo->text = decode_text(raw, raw_len, charset, coding, &mo->len)))
        err = "text is not valid UTF-8 (or UTF-16BE for coding=2)";

    form_free(&q);
    free(body);
    free(charset);
    free(coding);
    if (err) {
        log_warn("sms_rejected", "reason=%s", LOG_STR(err));
        http_send_error(req, 400, error, err);
        mo_free(mo);
        return;
    }
    struct app *tenant = tenant_by_number(app, mo->to);
    if (!tenant) {
        log_warn("sms_rejected", "reason=no_tenant to=%s", LOG_STR(mo->to));
        http_send_error(req, 404, "no_tenant", "no county serves this service number (to)");
        mo_free(mo);
        return;
    }
    app = tenant;
    struct inbound in = {
        .channel = KANNEL_SECTION, .addr = normalized, .to = mo->to,
        .text = mo->text, .len = mo->len, .msg_id = mo->id,
    };
    step_submit(app, &in, on_mo_stored, mo);
}

/* ------------------------------------------------------------------ */
/* Delivery reports                                                    */

static void on_dlr_recorded(redisReply *r, void *arg)
{
    struct evhttp_request *req = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        http_send_error(req, 503, "unavailable", "message store unreachable, retry later");
        return;
    }
    char body[96];
    snprintf(body, sizeof(body), "{\"status\":\"%.40s\"}", r->type == REDIS_REPLY_STRING ? r->str : "");
    http_send_json(req, 200, body);
}

void sms_kannel_dlr(struct app *app, struct evhttp_request *req)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct form q = { 0 };
    if (!sms_config(app->cfg)) {
        http_send_error(req, 404, "unknown_channel", "the sms channel is not configured");
        return;
    }
    if (!peer_allowed(app, req))
        return;
    if (!query || form_parse(query, strlen(query), &q) < 0) {
        http_send_error(req, 400, "bad_query", "expected ref, tok and type");
        return;
    }
    if (!key_valid(app, req, &q)) {
        form_free(&q);
        return;
    }
    char *ref = field_dup(&q, "ref");
    char *type = field_dup(&q, "type");
    char *tok = field_dup(&q, "tok");
    char *tid = field_dup(&q, "t");
    form_free(&q);
    struct app *tenant = tenant_many(app) ? tenant_by_id(app, tid) : app;
    free(tid);
    if (!tenant) {
        free(ref);
        free(type);
        free(tok);
        http_send_error(req, 404, "no_tenant", "the report names no county this daemon serves (t)");
        return;
    }
    app = tenant;
    if (!ref || !type || !tok || strspn(ref, "0123456789") != strlen(ref) ||
        strspn(type, "0123456789") != strlen(type) ||
        strlen(tok) != DLR_TOKEN_SIZE - 1 || strspn(tok, "0123456789abcdef") != strlen(tok)) {
        http_send_error(req, 400, "bad_query", "expected numeric ref and type, and the message's tok");
    } else {
        char now[32];
        snprintf(now, sizeof(now), "%lld", wall_ms());
        const char *argv[] = { ref, type, now, tok };
        log_info("sms_dlr", "id=%s type=%s", ref, type);
        if (store_script(app->store, SCRIPT_DLR, on_dlr_recorded, req, 4, argv, NULL) < 0)
            http_send_error(req, 503, "unavailable", "message store unreachable, retry later");
    }
    free(ref);
    free(type);
    free(tok);
}

/* ------------------------------------------------------------------ */
/* The channel                                                         */

static void route_inbound(void *ctx, struct evhttp_request *req, const char *path, const char *rest)
{
    (void)path;
    (void)rest;
    sms_kannel_inbound(ctx, req);
}

static void route_dlr(void *ctx, struct evhttp_request *req, const char *path, const char *rest)
{
    (void)path;
    (void)rest;
    sms_kannel_dlr(ctx, req);
}

/* Kannel calls from inside: only the internal door serves it. */
static const struct http_route routes[] = {
    { "/sms/kannel", EVHTTP_REQ_GET | EVHTTP_REQ_POST, "use GET or POST", HTTP_DOOR_INTERNAL,
      route_inbound },
    { "/sms/kannel/dlr", EVHTTP_REQ_GET | EVHTTP_REQ_POST, "use GET", HTTP_DOOR_INTERNAL, route_dlr },
};

/* The number replies leave from: the county's first, else the channel's
 * `from`.  Deputies have extensions of it (routing.h). */
static const char *service_number(const struct app *app)
{
    const struct sms_channel *c = sms_config(app->cfg);
    if (c && app->tenant->nnumbers)
        return app->tenant->numbers[0];
    return c ? c->from : NULL;
}

static void send_sms(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    const struct sms_channel *c = sms_config(app->cfg);
    if (!c) {
        done(SEND_PERMANENT, "sms channel not configured", arg);
        return;
    }
    char *url = sms_kannel_sendsms_url(c, service_number(app), tenant_many(app) ? app->tenant->id : NULL,
                                       msg->to, msg->text, msg->id, msg->dlr_token);
    if (!url) {
        done(SEND_RETRY, "out of memory", arg);
        return;
    }
    channel_http(app, "GET", url, NULL, NULL, 0, c->timeout_ms, done, arg);
    free(url);
}

static bool configured(const struct app *app, const char *key)
{
    (void)key;
    return sms_config(app->cfg) != NULL;
}

static bool dlr_settles(const struct app *app)
{
    const struct sms_channel *c = sms_config(app->cfg);
    return c && c->dlr_url && *c->dlr_url;
}

/* By SMS at the phone number; when no gateway is configured the phone is
 * still the contact (what is sent to it waits, dead, for an administrator). */
static void reach(const struct app *app, const char *phone, const char *wechat,
                  bool configured_only, reach_fn each, void *arg)
{
    (void)wechat;
    if (phone && (!configured_only || sms_config(app->cfg)))
        each(KANNEL_SECTION, phone, arg);
}

const struct channel_def kannel_channel = {
    .name = KANNEL_SECTION,
    .named = false,
    .config = { KANNEL_SECTION, kannel_config_parse, kannel_config_free },
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .send = send_sms,
    .configured = configured,
    .dlr_token = sms_dlr_token,
    .dlr_settles = dlr_settles,
    .reach = reach,
    .sender_kind = ADDRESS_PHONE,
    .service_number = service_number,
};
