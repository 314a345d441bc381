#ifndef MASHANG_WECHAT_CONFIG_H
#define MASHANG_WECHAT_CONFIG_H
/* channels.wechat: the Official Accounts and WeCom apps, parsed by the
 * channel itself (config_load hands it the section, docs/configuration.md). */
#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"

/* Its key under "channels"; outbox channel strings are "wechat:<account>". */
#define WECHAT_SECTION "wechat"
/* How long one API request may take by default (channels.wechat.*.timeout_ms). */
#define WECHAT_TIMEOUT_MS 8000

struct wechat_account {
    char *name;            /* key under channels.wechat, used in /wechat/{name} */
    char *appid;
    char *secret;
    char *token;
    char *aes_key;         /* 43-character EncodingAESKey, or NULL */
    char *api_base;        /* default "https://api.weixin.qq.com" */
    bool encrypt_reply;    /* safe-mode replies, default true */
    bool accept_plaintext; /* with an aes_key: still take plaintext pushes (while
                              the account moves to safe mode); default false */
    bool wecom;            /* WeCom (企业微信) corp app instead of an OA */
    char *agentid;         /* WeCom only */
    char *template_id;     /* template-message fallback, or NULL */
    long timeout_ms;       /* one API request; default WECHAT_TIMEOUT_MS */
};

struct wechat_config {
    struct wechat_account *v;
    size_t n;
};

/* The section's parser and free (struct config_section). */
void *wechat_config_parse(struct jv *v, struct json_t *obj, const char *path, const char *dir);
void wechat_config_free(void *conf);

/* The configured accounts, NULL when "channels.wechat" is absent. */
const struct wechat_config *wechat_config(const struct config *cfg);
/* Account `name`, or NULL. */
const struct wechat_account *config_wechat(const struct config *cfg, const char *name);

#endif
