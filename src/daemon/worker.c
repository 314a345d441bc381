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
#include "daemon/channels.h"
#include "daemon/routes.h"
#include "store/store.h"

#define SHUTDOWN_GRACE_S 10

struct dataset *dataset_new(struct roster *roster, struct intent_set *intents)
{
    struct dataset *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return NULL;
    atomic_init(&ds->refs, 1);
    ds->roster = roster;
    ds->intents = intents;
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
    roster_free(ds->roster);
    free(ds->roster);
    intent_set_free(ds->intents);
    free(ds);
}

/* One reload handed to a worker: the dataset to take and the deputies
 * who left with it.  Queued, never replaced: each reload of a quick
 * succession takes effect in turn, with its own reroutes.  Owns a
 * reference on ds and the strings. */
struct reload {
    struct reload *next;
    struct dataset *ds;
    char **removed;
    size_t nremoved;
};

static void reload_free(struct reload *r)
{
    if (!r)
        return;
    dataset_unref(r->ds);
    for (size_t i = 0; i < r->nremoved; i++)
        free(r->removed[i]);
    free(r->removed);
    free(r);
}

struct worker {
    int index;
    struct app app;
    struct dataset *ds;
    pthread_t thread;
    bool started;
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
    if (!w->app.stopping && store_connected(w->app.store)) {
        step_tick(&w->app);
        step_replay(&w->app);
    }
}

static void on_store_ready(void *arg)
{
    struct worker *w = arg;
    directory_publish(&w->app);
    outbox_kick(w->app.outbox);
    step_replay(&w->app);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    size_t busy = server_inflight(w->app.server) + outbox_inflight(w->app.outbox) +
                  store_pending(w->app.store);
    if (busy == 0 || ++w->drain_ticks > SHUTDOWN_GRACE_S * 20) {
        if (busy)
            log_warn("shutdown_forced", "worker=%d busy=%zu", w->index, busy);
        event_base_loopexit(w->app.base, NULL);
    }
}

static void begin_stop(struct worker *w)
{
    if (w->app.stopping)
        return;
    w->app.stopping = true;
    server_stop_accepting(w->app.server);
    struct timeval tv = { 0, 50 * 1000 };
    w->drain_ev = event_new(w->app.base, -1, EV_PERSIST, on_drain_tick, w);
    if (!w->drain_ev || event_add(w->drain_ev, &tv) < 0)
        event_base_loopexit(w->app.base, NULL);
}

/* Takes over r's dataset reference. */
static void swap_dataset(struct worker *w, struct reload *r)
{
    struct dataset *old = w->ds;
    w->ds = r->ds;
    r->ds = NULL;
    w->app.roster = w->ds->roster;
    w->app.intents = w->ds->intents;
    directory_prepare(&w->app);
    directory_publish(&w->app);
    if (r->nremoved)
        step_reroute(&w->app, (const char *const *)r->removed, r->nremoved);
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
    struct app *app = &w->app;
    if (w->drain_ev)
        event_free(w->drain_ev);
    if (w->tick_ev)
        event_free(w->tick_ev);
    if (w->wake_ev)
        event_free(w->wake_ev);
    server_free(app->server);
    if (app->spool && app->base)
        spool_forget(app->spool, app->base);   /* a forced stop: fsyncs still due */
    outbox_free(app->outbox);
    app->outbox = NULL;    /* steps answered by store_free below find no outbox */
    http_client_free(app->http);
    store_free(app->store);
    intent_matcher_free(app->matcher);
    if (app->base)
        event_base_free(app->base);
    dataset_unref(w->ds);
    memset(app, 0, sizeof(*app));
    w->ds = NULL;
}

struct worker *worker_new(int index, const struct config *cfg, struct dataset *ds,
                          struct spool *spool, struct metrics *metrics, size_t conn_cap)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    struct app *app = &w->app;
    char host[48] = "localhost";

    w->index = index;
    pthread_mutex_init(&w->lock, NULL);
    w->reloads_tail = &w->reloads;
    w->ds = dataset_ref(ds);
    app->cfg = cfg;
    app->spool = spool;
    app->roster = ds->roster;
    app->intents = ds->intents;
    gethostname(host, sizeof(host) - 1);
    snprintf(app->instance, sizeof(app->instance), "%s:%ld:%d", host, (long)getpid(), index);

    app->channels = &channels_api;
    app->base = event_base_new();
    if (!app->base || directory_prepare(app) < 0)
        goto fail;
    app->store = store_new(app->base, cfg->redis_url, cfg->ns);
    app->http = http_client_new(app->base);
    app->matcher = intent_matcher_new();
    app->metrics = metrics;
    if (!app->store || !app->http || !app->matcher || !app->metrics) {
        log_error("startup_failed", "worker=%d what=\"redis url, http client or matcher\"", index);
        goto fail;
    }
    app->outbox = outbox_new(app);
    app->server = server_new(app->base, cfg, daemon_routes(app), app->metrics, conn_cap);
    if (!app->outbox || !app->server)
        goto fail;
    store_on_ready(app->store, on_store_ready, w);

    struct timeval tick = { 1, 0 };
    w->tick_ev = event_new(app->base, -1, EV_PERSIST, on_tick, w);
    w->wake_ev = event_new(app->base, -1, EV_PERSIST, on_wake, w);
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
    log_info("worker_started", "worker=%d instance=%s", w->index, w->app.instance);
    event_base_dispatch(w->app.base);
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

int worker_reload(struct worker *w, struct dataset *ds, const char *const *removed, size_t n)
{
    struct reload *r = calloc(1, sizeof(*r));
    if (!r || (n && !(r->removed = calloc(n, sizeof(*r->removed))))) {
        free(r);
        return -1;
    }
    for (; r->nremoved < n; r->nremoved++)
        if (!(r->removed[r->nremoved] = strdup(removed[r->nremoved]))) {
            reload_free(r);
            return -1;
        }
    r->ds = dataset_ref(ds);

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
