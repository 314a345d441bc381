#ifndef MASHANG_CONFIG_H
#define MASHANG_CONFIG_H
/* config/mashang.json: loaded once with jansson, validated field by field
 * (unknown fields and wrong types are errors naming their JSON path),
 * then immutable.  Every field has a default, documented in
 * docs/configuration.md.  Relative paths are resolved against the
 * directory of the config file. */
#include <stdbool.h>
#include <stddef.h>

#include "base/cidr.h"
#include "base/diag.h"

/* How long an outbound gateway request may take (channels.*.timeout_ms):
 * a request that was written and timed out is uncertain, not retried. */
#define CHANNEL_TIMEOUT_MS 10000
#define WECHAT_TIMEOUT_MS 8000

struct sms_channel {
    bool enabled;          /* true when "channels.sms" is present */
    char *type;            /* "kannel" (only type so far) */
    char *sendsms_url;
    char *username;
    char *password;
    char *from;            /* service number, also the prefix of deputy extensions */
    char *dlr_url;         /* base URL; the outbox appends its reference */
    int max_segments;      /* longer texts are shortened, default 6 */
    long timeout_ms;       /* one sendsms request; default CHANNEL_TIMEOUT_MS */
    struct cidr *allow;    /* peers allowed at /sms/kannel and /sms/kannel/dlr;
                              default 127.0.0.0/8 and ::1 */
    size_t nallow;
    char *secret;          /* NULL: no key; else both endpoints require ?key= it */
};

/* Bounds of channels.sms.secret (config.c checks them). */
#define SMS_SECRET_MIN 16
#define SMS_SECRET_MAX 128

struct wechat_account {
    char *name;            /* key under channels.wechat, used in /wechat/{name} */
    char *appid;
    char *secret;
    char *token;
    char *aes_key;         /* 43-character EncodingAESKey, or NULL */
    char *api_base;        /* default "https://api.weixin.qq.com" */
    bool encrypt_reply;    /* safe-mode replies, default true */
    bool wecom;            /* WeCom (企业微信) corp app instead of an OA */
    char *agentid;         /* WeCom only */
    char *template_id;     /* template-message fallback, or NULL */
    long timeout_ms;       /* one API request; default WECHAT_TIMEOUT_MS */
};

struct chat_channel {
    char *name;            /* key under channels.chat, used in /chat/{name} */
    char *secret;
    char *url;             /* outbound POST target, or NULL */
    long timeout_ms;       /* one POST; default CHANNEL_TIMEOUT_MS */
};

struct timers {
    long accept_s, progress_s, resolve_s, rating_s;
    long session_s;        /* how long the bot waits for a missing slot */
    long followup_s;       /* window for follow-up text on an open case */
    long dedupe_s;         /* how long platform message ids are remembered */
};

struct limits {
    size_t body_max;       /* bytes, default 65536 */
    int sender_per_minute; /* default 20 */
    int max_sessions;      /* residents being asked for a missing slot at once; default 10000 */
    int max_connections;   /* open client connections, all workers together; default 4096 */
    int header_timeout_s;  /* request line and headers must arrive within; default 10 */
    int body_timeout_s;    /* then the body within; default 20 */
};

struct outbox_config {
    int max_attempts;      /* default 8 */
    int backoff_ms;        /* first retry delay, doubled each time; default 1000 */
    int lease_s;           /* how long a claimed message stays with one instance; default 30 */
    int poll_ms;           /* how often due messages are looked for; default 500 */
};

struct template_entry {
    char *key;
    char *text;
};

struct config {
    char *path;            /* as given */
    char *dir;             /* directory of path */
    char *listen_host;
    int listen_port;
    char *listen_internal_host; /* NULL: internal endpoints share `listen` */
    int listen_internal_port;
    char *redis_url;
    char *ns;              /* "namespace", default "mashang" */
    char *case_prefix;     /* default "M" */
    char *roster_path;     /* resolved */
    char *intents_dir;     /* resolved */
    char *intents_cache;   /* resolved, or NULL: where trained models are kept
                              between loads (docs/intents.md) */
    char *spool_dir;       /* resolved; "spool", default ../var/spool: inbound
                              messages wait here while Redis is unreachable */
    char *admin_token;     /* NULL: admin API disabled */
    char *country_code;    /* default "86" */
    char *log_level;       /* default "info" */
    int workers;           /* worker threads; 0 (default) = one per core */
    struct sms_channel sms;
    struct wechat_account *wechat;
    size_t nwechat;
    struct chat_channel *chat;
    size_t nchat;
    struct timers timers;
    struct limits limits;
    struct outbox_config outbox;
    struct template_entry *templates;   /* defaults merged with "templates" */
    size_t ntemplates;
    struct template_entry *categories;  /* label -> display name (市政设施) */
    size_t ncategories;
};

/* Loads and validates `path`.  Environment overrides MASHANG_LISTEN,
 * REDIS_URL, MASHANG_ADMIN_TOKEN and MASHANG_LOG_LEVEL are applied.
 * On error returns -1 with every problem in `d` (each naming the file
 * and JSON path) and leaves `out` zeroed; on success returns 0 and the
 * caller owns `out` (config_free). */
int config_load(const char *path, struct config *out, struct diag *d);
void config_free(struct config *c);

/* The reply text for `key` ("ack", "status", ...), never NULL for a key
 * with a built-in default; NULL for an unknown key. */
const char *config_template(const struct config *c, const char *key);
/* Display name of a category label, or the label itself. */
const char *config_category_name(const struct config *c, const char *label);

/* The built-in default text of a template key, or NULL if unknown. */
const char *config_template_default(const char *key);
/* Space-separated placeholder names a template may use ("case deputy"),
 * "" for none, NULL for an unknown key. */
const char *config_template_vars(const char *key);
/* Chinese name of a built-in category label (TAXONOMY.md plus "other"),
 * or NULL when the label is not built in. */
const char *config_builtin_category(const char *label);

const struct wechat_account *config_wechat(const struct config *c, const char *name);
const struct chat_channel *config_chat(const struct config *c, const char *name);

#endif
