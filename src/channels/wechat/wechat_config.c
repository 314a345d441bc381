/* channels.wechat: validated field by field, every problem named by its path. */
#include "channels/wechat/wechat_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"

static const char *const wechat_fields[] = {
    "appid", "secret", "token", "aes_key", "api_base", "encrypt_reply", "wecom", "agentid",
    "template_id", "timeout_ms", "accept_plaintext", NULL,
};

static void load_account(struct jv *v, const char *P, json_t *o, struct wechat_account *a,
                         const char *dir)
{
    char p[JV_PATH_MAX];

    jv_check_fields(v, o, P, wechat_fields);
    jv_string(v, o, P, "appid", NULL, true, &a->appid);
    jv_secret(v, o, P, "secret", true, dir, &a->secret);
    if (jv_secret(v, o, P, "token", true, dir, &a->token) == 0 && !*a->token)
        jv_error(v, jv_path(p, sizeof(p), P, "token"), "must not be empty");
    if (jv_secret(v, o, P, "aes_key", false, dir, &a->aes_key) == 0 && a->aes_key) {
        bool ok = strlen(a->aes_key) == 43 && config_chars_ok(a->aes_key, "+/");
        if (!ok)
            jv_error(v, jv_path(p, sizeof(p), P, "aes_key"),
                     "EncodingAESKey must be 43 characters of A-Z a-z 0-9 + /");
    }
    if (jv_string(v, o, P, "api_base", "https://api.weixin.qq.com", false, &a->api_base) == 0 &&
        a->api_base) {
        if (!config_http_url_ok(a->api_base))
            jv_error(v, jv_path(p, sizeof(p), P, "api_base"), "expected an http:// or https:// URL");
        size_t len = strlen(a->api_base);
        while (len > 0 && a->api_base[len - 1] == '/')
            a->api_base[--len] = '\0';   /* callers append "/cgi-bin/..." */
    }
    jv_bool(v, o, P, "encrypt_reply", true, &a->encrypt_reply);
    jv_bool(v, o, P, "accept_plaintext", false, &a->accept_plaintext);
    if (a->accept_plaintext && (!a->aes_key || a->wecom))
        jv_error(v, jv_path(p, sizeof(p), P, "accept_plaintext"),
                 "only for an Official Account with an aes_key (without one every push is plaintext)");
    jv_bool(v, o, P, "wecom", false, &a->wecom);
    long long timeout_ms;
    jv_integer(v, o, P, "timeout_ms", WECHAT_TIMEOUT_MS, 100, 120000, &timeout_ms);
    a->timeout_ms = (long)timeout_ms;

    /* WeCom shows agentid as a number; accept it either way. */
    json_t *ag = json_object_get(o, "agentid");
    if (json_is_integer(ag)) {
        if (asprintf(&a->agentid, "%" JSON_INTEGER_FORMAT, json_integer_value(ag)) < 0)
            a->agentid = NULL;
    } else {
        jv_string(v, o, P, "agentid", NULL, false, &a->agentid);
    }
    if (a->wecom && !a->agentid)
        jv_error(v, jv_path(p, sizeof(p), P, "agentid"), "required for a WeCom app (\"wecom\": true)");
    if (a->wecom && !a->aes_key)
        jv_error(v, jv_path(p, sizeof(p), P, "aes_key"), "required for a WeCom app (\"wecom\": true)");
    jv_string(v, o, P, "template_id", NULL, false, &a->template_id);
}

/* One channels.wechat.<name> account into its slot; `arg` is the config
 * file's directory (for file: secrets). */
static void load_entry(struct jv *v, void *slot, const char *p, const char *name, json_t *val,
                       void *arg)
{
    struct wechat_account *a = slot;
    if (!(a->name = strdup(name)))
        jv_error(v, p, "out of memory");
    load_account(v, p, val, a, arg);
}

void *wechat_config_parse(struct jv *v, struct json_t *obj, const char *P, const char *dir)
{
    struct wechat_config *c = calloc(1, sizeof(*c));
    void *items = NULL;
    if (!c || config_entries(v, obj, P, "account", sizeof(*c->v), &items, &c->n, load_entry,
                             (void *)dir) < 0) {
        if (!c)
            jv_error(v, P, "out of memory");
        free(c);
        return NULL;
    }
    c->v = items;
    return c;
}

void wechat_config_free(void *conf)
{
    struct wechat_config *c = conf;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct wechat_account *a = &c->v[i];
        free(a->name);
        free(a->appid);
        free(a->secret);
        free(a->token);
        free(a->aes_key);
        free(a->api_base);
        free(a->agentid);
        free(a->template_id);
    }
    free(c->v);
    free(c);
}

const struct wechat_config *wechat_config(const struct config *cfg)
{
    return config_section(cfg, WECHAT_SECTION);
}

const struct wechat_account *config_wechat(const struct config *cfg, const char *name)
{
    const struct wechat_config *c = wechat_config(cfg);
    for (size_t i = 0; c && name && i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}
