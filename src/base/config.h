#ifndef MASHANG_CONFIG_H
#define MASHANG_CONFIG_H
/* config/mashang.json: loaded once with jansson, validated field by field
 * (unknown fields and wrong types are errors naming their JSON path),
 * then immutable.  Every field has a default, documented in
 * docs/configuration.md.  Relative paths are resolved against the
 * directory of the config file. */
#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

struct jv;
struct json_t;

/* A section under "channels" that its channel parses itself: config_load
 * is handed the list (the daemon's channel table, src/daemon/channels.c),
 * passes each present section to its parser and keeps what that returns
 * as an opaque pointer (config_section). */
struct config_section {
    const char *name;      /* key under "channels": "sms", "wechat", "chat" */
    /* Parses `obj`, the object at `path` ("$.channels.<name>"), reporting
     * every problem through `v` with its JSON path; relative file paths
     * are resolved against `dir`.  Returns the channel's configuration,
     * released with free_conf, or NULL after a report. */
    void *(*parse)(struct jv *v, struct json_t *obj, const char *path, const char *dir);
    void (*free_conf)(void *conf);
};

/* The sections config_load knows, by index. */
struct config_sections {
    size_t n;
    const struct config_section *(*at)(size_t i);
};

struct timers {
    long accept_s, progress_s, resolve_s, rating_s;
    long session_s;        /* how long the bot waits for a missing slot */
    long followup_s;       /* window for follow-up text on an open case */
    long dedupe_s;         /* how long platform message ids are remembered */
    long revisit_s;        /* 回头看: after a case closes, ask whether the fix held; 0 = never */
    int digest_at;         /* minutes after local midnight of the duty digest; -1 = none */
    long common_window_s;  /* a concern joins a common issue opened within; 0: never */
};

/* "rating.aspects": the aspects a resident rates one digit each
 * (态度、速度、结果); none = one overall digit. */
#define RATING_ASPECTS_MAX 5

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

/* The web console under /console/ (docs/console.md). */
struct console_config {
    char *dir;             /* resolved; its static files, default ../console */
    long session_s;        /* a signed-in session lives this long in Redis */
    bool secure_cookie;    /* the session cookie says Secure (behind TLS) */
};

/* One county (or district) a deployment serves: its own namespace in
 * Redis (its own hash tag, so tenants spread over a cluster's slots),
 * roster, case numbers and administrators, and the service numbers,
 * WeChat accounts and chat channels its residents write to.  A config
 * without "tenants" has exactly one, "default", built from the top-level
 * fields, which then serves every inbound message as before. */
struct tenant_conf {
    char *id;              /* 1-64 of A-Z a-z 0-9 _ - */
    char *name;            /* display name; NULL: the id */
    char *ns;              /* "namespace", default the id */
    char *case_prefix;     /* default the top-level one */
    char *common_prefix;   /* default the top-level one */
    char *roster_path;     /* resolved */
    char *intents_dir;     /* resolved; default the top-level (shared) set */
    bool own_intents;      /* "intents" given: the set is this tenant's alone */
    char *spool_dir;       /* resolved: spool/<id> with tenants, else spool */
    char *admin_token;     /* NULL: only the top-level token reaches it */
    char **numbers;        /* SMS service numbers (Kannel's "to"), digits */
    size_t nnumbers;
    char **wechat;         /* names under channels.wechat */
    size_t nwechat;
    char **chat;           /* names under channels.chat */
    size_t nchat;
};

/* At most this many tenants in one config. */
#define CONFIG_TENANTS_MAX 4096

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
    char *common_prefix;   /* common issues' numbers, default "R" */
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
    int redis_wait_replicas;  /* replicas that must hold a step before its 200
                                 (WAIT); 0 (default) = the master's word */
    int redis_wait_ms;     /* how long WAIT may take, default 1000 */
    const struct config_sections *sections;  /* as given to config_load; static */
    void **section_conf;   /* owned, one per section: NULL when absent */
    struct timers timers;
    struct limits limits;
    struct outbox_config outbox;
    struct console_config console;
    struct template_entry *templates;   /* defaults merged with "templates" */
    size_t ntemplates;
    struct template_entry *categories;  /* label -> display name (市政设施) */
    size_t ncategories;
    char *rating_aspects[RATING_ASPECTS_MAX];  /* owned; the first n_rating_aspects are set */
    size_t n_rating_aspects;
    struct tenant_conf *tenants;        /* at least one (config_tenants.c) */
    size_t ntenants;
    bool multi_tenant;                  /* "tenants" given: inbound must name one */
};

/* Loads and validates `path`; the members of "channels" are the
 * `sections` given (which must outlive `out`).  Environment
 * overrides MASHANG_LISTEN, REDIS_URL, MASHANG_ADMIN_TOKEN and
 * MASHANG_LOG_LEVEL are applied.  On error returns -1 with every problem
 * in `d` (each naming the file and JSON path) and leaves `out` zeroed; on
 * success returns 0 and the caller owns `out` (config_free). */
int config_load(const char *path, const struct config_sections *sections, struct config *out,
                struct diag *d);
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

/* What the parser of section `name` returned; NULL when the section is
 * absent or unknown. */
const void *config_section(const struct config *c, const char *name);

/* The tenant with `id`, or NULL. */
const struct tenant_conf *config_tenant(const struct config *c, const char *id);

/* Checks channel parsers share. */
/* An http:// or https:// URL with a host and no blanks. */
bool config_http_url_ok(const char *s);
/* Only ASCII letters, digits and characters of `extra`. */
bool config_chars_ok(const char *s, const char *extra);
/* A name used in paths and channel strings: 1-64 of A-Z a-z 0-9 _ -. */
bool config_name_ok(const char *name);

/* Loads a section whose keys name things ("channels.wechat": {"main":
 * {…}, "work": {…}}) into an array: allocates *items with a zeroed slot
 * of `size` bytes for every entry, skips "_comment", reports a bad name
 * ("<what> name must be …") or an entry that is not an object at its JSON
 * path, and calls `each` with the next slot, that path, the name and the
 * entry's object for every other entry.  *n counts the slots used.  The
 * caller owns *items (also when problems were reported).  -1 (reported at
 * P) when out of memory, *items NULL. */
typedef void (*config_entry_fn)(struct jv *v, void *slot, const char *path, const char *name,
                                struct json_t *entry, void *arg);
int config_entries(struct jv *v, struct json_t *section, const char *P, const char *what,
                   size_t size, void **items, size_t *n, config_entry_fn each, void *arg);

#endif
