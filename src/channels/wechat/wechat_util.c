/* Pure WeChat helpers: QR scenes, the customer-service window, errcode
 * classes, API answers and request bodies.  No I/O. */
#include "channels/wechat/wechat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/util.h"
#include "base/utf8.h"

const char *wechat_scene_deputy(const char *event_key, char *buf, size_t bufsz)
{
    if (!event_key)
        return NULL;
    const char *s = event_key;
    if (strncmp(s, "qrscene_", 8) == 0)
        s += 8;
    size_t len = strlen(s);
    if (len < 2 || len > 9 || (s[0] != 'D' && s[0] != 'd') || len + 1 > bufsz)
        return NULL;
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return NULL;
    buf[0] = 'D';
    memcpy(buf + 1, s + 1, len);   /* digits and the NUL */
    return buf;
}

enum wechat_window wechat_window_check(long long now, long long last_seen,
                                       long long cs_since, long long cs_count)
{
    if (last_seen > 0 && now - last_seen >= WECHAT_CS_WINDOW_S)
        return WX_WINDOW_EXPIRED;
    /* The counter only speaks for the window it was counted in. */
    if (cs_since >= 0 && cs_since == last_seen && cs_count >= WECHAT_CS_QUOTA)
        return WX_WINDOW_QUOTA;
    return WX_WINDOW_OPEN;
}

enum wechat_errclass wechat_errcode_class(long errcode)
{
    switch (errcode) {
    case 0:
        return WXERR_OK;
    case 40001: case 40014: case 42001:
        return WXERR_TOKEN;
    case 45015: case 45047:
        return WXERR_WINDOW;
    case 43004: case 40003: case 43019:   /* not following, bad openid, blocked */
        return WXERR_UNREACHABLE;
    case -1: case 45009: case 45011: case 45033:
        return WXERR_TRANSIENT;
    default:
        return WXERR_PERMANENT;
    }
}

int wechat_api_parse(const char *body, size_t len, long *errcode, char **token, long *expires_in)
{
    *errcode = 0;
    if (token)
        *token = NULL;
    if (expires_in)
        *expires_in = 0;
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    json_t *ec = json_object_get(root, "errcode");
    if (json_is_integer(ec))
        *errcode = (long)json_integer_value(ec);
    else if (ec)
        *errcode = -1;   /* present but garbled: treat as "system busy" */
    json_t *at = json_object_get(root, "access_token");
    if (token && json_is_string(at) && json_string_length(at) > 0) {
        *token = strdup(json_string_value(at));
        json_t *ex = json_object_get(root, "expires_in");
        if (expires_in)
            *expires_in = json_is_integer(ex) ? (long)json_integer_value(ex) : 7200;
    }
    json_decref(root);
    return 0;
}

long wechat_token_ttl(long expires_in)
{
    long ttl = expires_in - 300;
    if (ttl < expires_in / 2)
        ttl = expires_in / 2;
    return ttl < 1 ? 1 : ttl;
}

/* json_dumps without JSON_ENSURE_ASCII keeps raw UTF-8; the caller frees. */
static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *wechat_stable_token_json(const char *appid, const char *secret, bool force)
{
    if (!appid || !secret)
        return NULL;
    return dump(json_pack("{s:s, s:s, s:s, s:b}", "grant_type", "client_credential",
                          "appid", appid, "secret", secret, "force_refresh", force));
}

char *wechat_custom_json(const char *touser, const char *text)
{
    if (!touser || !text)
        return NULL;
    return dump(json_pack("{s:s, s:s, s:{s:s}}", "touser", touser, "msgtype", "text",
                          "text", "content", text));
}

char *wechat_wecom_json(const char *touser, const char *agentid, const char *text)
{
    if (!touser || !agentid || !text)
        return NULL;
    char *end;
    long long id = strtoll(agentid, &end, 10);
    if (*agentid == '\0' || *end != '\0')
        return NULL;
    /* agentid is an integer in JSON (notes §6.2); duplicate check makes a
     * resend of the same text within 30 minutes harmless. */
    return dump(json_pack("{s:s, s:s, s:I, s:{s:s}, s:i, s:i}", "touser", touser,
                          "msgtype", "text", "agentid", (json_int_t)id, "text", "content", text,
                          "enable_duplicate_check", 1, "duplicate_check_interval", 1800));
}

/* A template field: {"value": text cut to 200 bytes}. */
static json_t *field(const char *text)
{
    size_t n = utf8_cut(text, strlen(text), 200);
    return json_pack("{s:s%}", "value", text, n);
}

char *wechat_template_json(const char *touser, const char *template_id,
                           const char *client_msg_id, const char *case_id,
                           const char *text, const char *when, const char *remark)
{
    if (!touser || !template_id || !text)
        return NULL;
    json_t *data = json_pack("{s:o, s:o, s:o, s:o, s:o}",
                             "first", field(text),
                             "keyword1", field(case_id && *case_id ? case_id : "-"),
                             "keyword2", field(text),
                             "keyword3", field(when ? when : ""),
                             "remark", field(remark ? remark : ""));
    json_t *o = json_pack("{s:s, s:s, s:o}", "touser", touser, "template_id", template_id,
                          "data", data);
    if (o && client_msg_id && *client_msg_id)
        json_object_set_new(o, "client_msg_id", json_string(client_msg_id));
    return dump(o);
}
