#ifndef MASHANG_APP_H
#define MASHANG_APP_H
/* What one daemon worker holds for one tenant (a county, base/config.h):
 * its loop, the loaded configuration, the tenant's roster and intents,
 * and its connections.  A worker has one app per tenant, all on its loop
 * and sharing its server, HTTP client, matcher and metrics (`tenants`:
 * the worker's array, this app among them; core/tenant.h finds the one
 * a message is for).  worker.c owns them; modules get one passed in and
 * never keep their own copies of what is in it. */
#include <stdbool.h>

struct event_base;
struct config;
struct roster;
struct intent_set;
struct intent_matcher;
struct store;
struct http_client;
struct outbox;
struct server;
struct metrics;
struct spool;
struct channel_api;
struct tenant_conf;
struct tenant_set;

struct app {
    struct event_base *base;
    const struct config *cfg;
    const struct tenant_conf *tenant;  /* in cfg->tenants */
    struct tenant_set *tenants;        /* the worker's apps (core/tenant.h) */
    struct roster *roster;             /* replaced whole on reload */
    struct intent_set *intents;        /* replaced whole on reload */
    struct intent_matcher *matcher;
    struct store *store;
    struct http_client *http;
    struct outbox *outbox;
    struct server *server;
    struct metrics *metrics;
    struct spool *spool;               /* the tenant's, shared by the workers; may be NULL */
    const struct channel_api *channels;  /* the channel table (core/channel_api.h); static */
    char digest[17];                   /* of the published directory (directory.h) */
    char instance[64];                 /* host:pid, owner of outbox leases */
    bool stopping;
    /* The local day whose duty digest timer this worker has armed, and
     * the one its last tick asked for (step.c add_digest; not the
     * directory's `digest` above). */
    char duty_digest_day[16], duty_digest_arming[16];
};

#endif
