/* One worker thread: a loop with its server, Redis, outbox and timers. */
#include "daemon/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/app.h"
#include "core/directory.h"
#include "http/http_client.h"
#include "intents/intents.h"
#include "base/log.h"
#include "base/metrics.h"
#include "core/outbox.h"
#include "core/roster.h"
#include "http/server.h"
#include "core/spool.h"
#include "core/step.h"
#include "core/tenant.h"
#include "daemon/channels.h"
#include "daemon/routes.h"
#include "store/store.h"

#define SHUTDOWN_GRACE_S 10

static void dataset_free(struct dataset *ds)
{
    for (size_t i = 0; ds->rosters && i < ds->n; i++)
        if (ds->rosters[i]) {
            roster_free(ds->rosters[i]);
            free(ds->rosters[i]);
        }
    for (size_t i = 0; i < ds->nsets; i++)
        intent_set_free(ds->sets[i]);
    free(ds->rosters);
    free(ds->intents);
    free(ds->sets);
    free(ds);
}

/* Tenant i's set: loaded once for all tenants of the same directory (an
 * earlier one's, also when it failed: its problems are reported once). */
static struct intent_set *intents_for(struct dataset *ds, const struct config *cfg, size_t i,
                                      struct diag *d)
{
    const char *dir = cfg->tenants[i].intents_dir;
    for (size_t j = 0; j < i; j++)
        if (strcmp(cfg->tenants[j].intents_dir, dir) == 0)
            return ds->intents[j];
    struct intent_set *set = intent_set_load_cached(dir, cfg->intents_cache, d);
    if (set)
        ds->sets[ds->nsets++] = set;
    return set;
}

struct dataset *dataset_load(const struct config *cfg, struct diag *d)
{
    struct dataset *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return NULL;
    atomic_init(&ds->refs, 1);
    ds->n = cfg->ntenants;
    ds->rosters = calloc(ds->n, sizeof(*ds->rosters));
    ds->intents = calloc(ds->n, sizeof(*ds->intents));
    ds->sets = calloc(ds->n, sizeof(*ds->sets));
    bool allocated = ds->rosters && ds->intents && ds->sets, ok = allocated;
    /* Past a problem every tenant is still loaded: all problems reported. */
    for (size_t i = 0; allocated && i < ds->n; i++) {
        const struct tenant_conf *t = &cfg->tenants[i];
        struct roster *r = calloc(1, sizeof(*r));
        if (r && roster_load_cfg(t->roster_path, cfg, r, d) < 0) {
            free(r);
            r = NULL;
        }
        ds->rosters[i] = r;
        ds->intents[i] = intents_for(ds, cfg, i, d);
        if (!r || !ds->intents[i])
            ok = false;
    }
    if (!ok) {
        dataset_free(ds);
        ds = NULL;
    }
    return ds;
}

struct dataset *dataset_ref(struct dataset *ds)
{
    atomic_fetch_add(&ds->refs, 1);
    return ds;
}

void dataset_unref(struct dataset *ds)
{
    if (!ds || atomic_fetch_sub(&ds->refs, 1) != 1)
        return;
    dataset_free(ds);
}

/* One reload handed to a worker: the configuration whose tenants now
 * count and their dataset.  Queued, never replaced: each reload of a
 * quick succession takes effect in turn, with its own reroutes.  Owns a
 * reference on ds; `cfg` and `spools` belong to the daemon, which keeps
 * every configuration it loaded until it exits. */
struct reload {
    struct reload *next;
    const struct config *cfg;
    struct spool *const *spools;
    struct dataset *ds;
    bool reroute;
};

static void reload_free(struct reload *r)
{
    if (!r)
        return;
    dataset_unref(r->ds);
    free(r);
}

struct worker {
    int index;
    struct tenant_set set;  /* one app per tenant, in the config's order */
    struct app shared;      /* what every app of this worker shares (a template) */
    struct dataset *ds;
    pthread_t thread;
    bool started;
    bool stopping;
    struct event_base *base;
    struct store_pool *redis;   /* one connection per Redis node, for every tenant */
    struct server *server;
    struct event *tick_ev;
    struct event *wake_ev;
    struct event *drain_ev;
    int drain_ticks;

    /* Handed over by other threads; guarded by lock. */
    pthread_mutex_t lock;
    struct reload *reloads, **reloads_tail;   /* FIFO, oldest first */
    bool stop_requested;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < w->set.n; i++) {
        struct app *app = w->set.apps[i];
        if (!app->stopping && store_connected(app->store)) {
            step_tick(app);
            step_replay(app);
        }
    }
}

static void on_store_ready(void *arg)
{
    struct app *app = arg;
    directory_publish(app);
    outbox_kick(app->outbox);
    step_replay(app);
}

static size_t busy(const struct worker *w)
{
    size_t n = server_inflight(w->server);
    for (size_t i = 0; i < w->set.n; i++)
        n += outbox_inflight(w->set.apps[i]->outbox) + store_pending(w->set.apps[i]->store);
    return n;
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    size_t n = busy(w);
    if (n == 0 || ++w->drain_ticks > SHUTDOWN_GRACE_S * 20) {
        if (n)
            log_warn("shutdown_forced", "worker=%d busy=%zu", w->index, n);
        event_base_loopexit(w->base, NULL);
    }
}

static void begin_stop(struct worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    for (size_t i = 0; i < w->set.n; i++)
        w->set.apps[i]->stopping = true;
    server_stop_accepting(w->server);
    struct timeval tv = { 0, 50 * 1000 };
    w->drain_ev = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
    if (!w->drain_ev || event_add(w->drain_ev, &tv) < 0)
        event_base_loopexit(w->base, NULL);
}

/* The deputies of `old` that `now` no longer has (pointers into old). */
static const char **departed(const struct roster *old, const struct roster *now, size_t *n)
{
    const char **ids = calloc(old->ndeputies + 1, sizeof(*ids));
    *n = 0;
    for (size_t i = 0; ids && i < old->ndeputies; i++)
        if (!roster_deputy(now, old->deputies[i].id))
            ids[(*n)++] = old->deputies[i].id;
    return ids;
}

/* One tenant's app on the worker's loop: its own store and outbox, the
 * worker's shared parts copied from its template.  NULL (logged) on error. */
static struct app *app_new(struct worker *w, const struct config *cfg, size_t i,
                           struct spool *spool)
{
    struct app *app = malloc(sizeof(*app));
    if (!app)
        return NULL;
    *app = w->shared;
    app->tenant = &cfg->tenants[i];
    app->spool = spool;
    app->roster = w->ds->rosters[i];
    app->intents = w->ds->intents[i];
    app->server = w->server;
    if (directory_prepare(app) < 0 ||
        !(app->store = store_new(w->redis, app->tenant->ns)) ||
        !(app->outbox = outbox_new(app))) {
        log_error("startup_failed", "worker=%d tenant=%s what=\"store or outbox\"", w->index,
                  app->tenant->id);
        store_free(app->store);
        free(app);
        return NULL;
    }
    store_on_ready(app->store, on_store_ready, app);
    return app;
}

/* Frees one app's own parts (not the worker's shared ones); its store's
 * commands in flight are answered when the pool is freed, after. */
static void app_free(struct worker *w, struct app *app)
{
    if (app->spool && w->base)
        spool_forget(app->spool, w->base);   /* a forced stop: fsyncs still due */
    outbox_free(app->outbox);
    app->outbox = NULL;
    store_free(app->store);
}

static struct app *app_of(struct worker *w, const char *id)
{
    for (size_t i = 0; i < w->set.n; i++)
        if (strcmp(w->set.apps[i]->tenant->id, id) == 0)
            return w->set.apps[i];
    return NULL;
}

/* Takes over r's dataset reference and its configuration's tenants:
 * tenants it adds get their apps; the deputies who left a roster hand
 * their cases on (with the old roster still valid for the names).  The
 * daemon checked that no tenant was removed or moved to another
 * namespace (main.c). */
static void swap_dataset(struct worker *w, struct reload *r)
{
    struct dataset *old = w->ds;
    const struct config *cfg = r->cfg;
    struct app **apps = calloc(cfg->ntenants + w->set.n, sizeof(*apps));
    if (!apps) {
        log_error("reload_failed", "worker=%d error=\"out of memory\"", w->index);
        return;
    }
    w->ds = r->ds;
    r->ds = NULL;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        struct app *app = app_of(w, cfg->tenants[i].id);
        bool added = !app;
        if (added) {
            app = app_new(w, cfg, i, r->spools[i]);
            if (!app)
                continue;
            log_info("tenant_added", "worker=%d tenant=%s", w->index, app->tenant->id);
        }
        const struct roster *was = app->roster;
        app->cfg = cfg;
        app->tenant = &cfg->tenants[i];
        app->roster = w->ds->rosters[i];
        app->intents = w->ds->intents[i];
        app->tenants = &w->set;
        directory_prepare(app);
        directory_publish(app);
        size_t n = 0;
        const char **removed = r->reroute && !added ? departed(was, app->roster, &n) : NULL;
        if (n) {
            log_info("reroute", "tenant=%s removed=%zu", app->tenant->id, n);
            step_reroute(app, removed, n);
        }
        free(removed);
        apps[i] = app;
    }
    /* An app that could not be made keeps no slot: compact.  A tenant the
     * configuration no longer has (main.c refuses that reload) would keep
     * serving at the end rather than vanish under requests in flight. */
    size_t n = 0;
    for (size_t i = 0; i < cfg->ntenants; i++)
        if (apps[i])
            apps[n++] = apps[i];
    for (size_t i = 0; i < w->set.n; i++) {
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++)
            kept = apps[j] == w->set.apps[i];
        if (!kept)
            apps[n++] = w->set.apps[i];
    }
    w->shared.cfg = cfg;
    free(w->set.apps);
    w->set.apps = apps;
    w->set.n = n;
    dataset_unref(old);
}

/* Commands from other threads arrive here, on the worker's own loop. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->lock);
    struct reload *r = w->reloads;
    bool stop = w->stop_requested;
    w->reloads = NULL;
    w->reloads_tail = &w->reloads;
    pthread_mutex_unlock(&w->lock);

    /* In the order they were requested: a deputy removed by the first
     * reload has their cases rerouted with the first roster, before the
     * second roster (and its own departures) takes over. */
    while (r) {
        struct reload *next = r->next;
        swap_dataset(w, r);
        reload_free(r);
        r = next;
    }
    if (stop)
        begin_stop(w);
}

static void worker_teardown(struct worker *w)
{
    if (w->drain_ev)
        event_free(w->drain_ev);
    if (w->tick_ev)
        event_free(w->tick_ev);
    if (w->wake_ev)
        event_free(w->wake_ev);
    server_free(w->server);
    for (size_t i = 0; i < w->set.n; i++)
        app_free(w, w->set.apps[i]);
    /* The commands still in flight are answered NULL here: their steps
     * find no outbox (app_free), and the apps are freed only after. */
    store_pool_free(w->redis);
    w->redis = NULL;
    for (size_t i = 0; i < w->set.n; i++)
        free(w->set.apps[i]);
    free(w->set.apps);
    http_client_free(w->shared.http);
    intent_matcher_free(w->shared.matcher);
    if (w->base)
        event_base_free(w->base);
    dataset_unref(w->ds);
    memset(&w->set, 0, sizeof(w->set));
    memset(&w->shared, 0, sizeof(w->shared));
    w->base = NULL;
    w->server = NULL;
    w->ds = NULL;
}

struct worker *worker_new(int index, const struct config *cfg, struct dataset *ds,
                          struct spool *const *spools, struct metrics *metrics, size_t conn_cap)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    struct app *shared = &w->shared;
    char host[48] = "localhost";

    w->index = index;
    pthread_mutex_init(&w->lock, NULL);
    w->reloads_tail = &w->reloads;
    w->ds = dataset_ref(ds);
    w->set.apps = calloc(cfg->ntenants, sizeof(*w->set.apps));
    w->base = event_base_new();
    if (!w->set.apps || !w->base)
        goto fail;
    w->redis = store_pool_new(w->base, cfg->redis_url);
    if (!w->redis) {
        log_error("startup_failed", "worker=%d what=\"redis url\"", index);
        goto fail;
    }

    /* What every tenant of this worker shares. */
    shared->cfg = cfg;
    shared->tenants = &w->set;
    shared->base = w->base;
    shared->channels = &channels_api;
    shared->metrics = metrics;
    gethostname(host, sizeof(host) - 1);
    snprintf(shared->instance, sizeof(shared->instance), "%s:%ld:%d", host, (long)getpid(), index);
    shared->http = http_client_new(w->base);
    shared->matcher = intent_matcher_new();
    if (!shared->http || !shared->matcher || !metrics) {
        log_error("startup_failed", "worker=%d what=\"http client or matcher\"", index);
        goto fail;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        if (!(w->set.apps[i] = app_new(w, cfg, i, spools ? spools[i] : NULL)))
            goto fail;
        w->set.n++;
    }
    /* The routes' context is the first tenant: handlers find the one a
     * request is for through app->tenants (core/tenant.h). */
    w->server = server_new(w->base, cfg, daemon_routes(w->set.apps[0]), metrics, conn_cap);
    if (!w->server)
        goto fail;
    shared->server = w->server;
    for (size_t i = 0; i < w->set.n; i++)
        w->set.apps[i]->server = w->server;

    struct timeval tick = { 1, 0 };
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    w->wake_ev = event_new(w->base, -1, EV_PERSIST, on_wake, w);
    if (!w->tick_ev || !w->wake_ev || event_add(w->tick_ev, &tick) < 0 || event_add(w->wake_ev, NULL) < 0)
        goto fail;
    return w;
fail:
    worker_teardown(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    log_info("worker_started", "worker=%d instance=%s tenants=%zu", w->index, w->shared.instance,
             w->set.n);
    event_base_dispatch(w->base);
    log_info("worker_stopped", "worker=%d", w->index);
    return NULL;
}

int worker_start(struct worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

static void wake(struct worker *w)
{
    event_active(w->wake_ev, EV_READ, 0);
}

int worker_reload(struct worker *w, const struct config *cfg, struct spool *const *spools,
                  struct dataset *ds, bool reroute)
{
    struct reload *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->cfg = cfg;
    r->spools = spools;
    r->ds = dataset_ref(ds);
    r->reroute = reroute;

    pthread_mutex_lock(&w->lock);
    *w->reloads_tail = r;
    w->reloads_tail = &r->next;
    pthread_mutex_unlock(&w->lock);
    wake(w);
    return 0;
}

void worker_stop(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop_requested = true;
    pthread_mutex_unlock(&w->lock);
    wake(w);
}

int worker_join(struct worker *w)
{
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    return 0;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    worker_join(w);
    worker_teardown(w);
    while (w->reloads) {
        struct reload *next = w->reloads->next;
        reload_free(w->reloads);
        w->reloads = next;
    }
    pthread_mutex_destroy(&w->lock);
    free(w);
}
