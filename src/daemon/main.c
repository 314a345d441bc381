/* mashangd: the daemon.  Loads configuration, roster and intents, starts
 * one worker thread per core (src/daemon/worker.c), and keeps a small control
 * loop of its own for signals: SIGHUP reloads roster and intents for every
 * worker, SIGTERM/SIGINT stop them gracefully. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "base/config.h"
#include "base/diag.h"
#include "intents/intents.h"
#include "base/log.h"
#include "base/metrics.h"
#include "core/roster.h"
#include "core/spool.h"
#include "core/app.h"
#include "core/channel_api.h"
#include "daemon/channels.h"
#include "daemon/worker.h"

#define MAX_WORKERS 64

/* A configuration the daemon loaded, at start or by a reload, with the
 * spools of its tenants.  Every generation is kept until exit: workers'
 * apps and requests in flight point into them, and a reload is rare. */
struct generation {
    struct generation *prev;
    struct config cfg;
    struct spool **spools;          /* one per tenant of cfg, shared with earlier ones */
};

struct daemon {
    struct generation *gen;         /* the newest */
    struct dataset *ds;             /* the dataset in service (own reference) */
    struct metrics_set *metrics;    /* one shard per worker */
    struct worker *workers[MAX_WORKERS];
    int nworkers;
    struct event_base *base;
    struct event *sig_term, *sig_int, *sig_hup;
    int stopping;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mashangd [-c config/mashang.json] [--check]\n"
                 "  -c FILE   configuration file (default config/mashang.json)\n"
                 "  --check   validate configuration, roster and intents, then exit 0/1\n");
}

/* Every account and channel a tenant names must be configured. */
static int check_channels(const struct config *cfg, struct diag *d)
{
    int bad = 0;
    struct app probe = { .cfg = cfg };
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct tenant_conf *t = &cfg->tenants[i];
        probe.tenant = t;
        static const char *const kinds[] = { "wechat", "chat" };
        for (size_t k = 0; k < 2; k++) {
            char **names = k == 0 ? t->wechat : t->chat;
            size_t n = k == 0 ? t->nwechat : t->nchat;
            for (size_t j = 0; j < n; j++) {
                char channel[96];
                snprintf(channel, sizeof(channel), "%s:%s", kinds[k], names[j]);
                if (!channels_api.configured(&probe, channel)) {
                    diag_add(d, "%s: $.tenants[%zu].%s[%zu]: no channels.%s.%s is configured", cfg->path,
                             i, kinds[k], j, kinds[k], names[j]);
                    bad = -1;
                }
            }
        }
    }
    return bad;
}

static int check_only(const char *path)
{
    struct config cfg;
    struct diag d;
    int rc = 1;
    diag_init(&d);
    if (config_load(path, &channels_config, &cfg, &d) == 0) {
        struct dataset *ds = dataset_load(&cfg, &d);
        if (ds && check_channels(&cfg, &d) == 0) {
            struct intent_matcher *m = intent_matcher_new();
            int failures = m ? 0 : 1;
            size_t deputies = 0, stations = 0;
            for (size_t i = 0; i < ds->nsets && !failures; i++)
                failures = intent_set_check(ds->sets[i], m, &d);
            intent_matcher_free(m);
            for (size_t i = 0; i < ds->n; i++) {
                deputies += ds->rosters[i]->ndeputies;
                stations += ds->rosters[i]->nstations;
            }
            if (!failures) {
                printf("ok: %s, %zu tenant(s), %zu deputies in %zu stations, %zu intents\n", path,
                       cfg.ntenants, deputies, stations, intent_set_size(ds->intents[0]));
                rc = 0;
            }
        }
        dataset_unref(ds);
        config_free(&cfg);
    }
    diag_print(&d, stderr);
    diag_free(&d);
    return rc;
}

/* What a reload cannot change while requests are in flight: the error,
 * or NULL.  Listening addresses, Redis, workers and limits are read at
 * start only (docs/configuration.md). */
static const char *reload_refused(const struct config *was, const struct config *now, char *buf,
                                  size_t sz)
{
    if (was->multi_tenant != now->multi_tenant)
        return "switching between one and several tenants needs a restart";
    for (size_t i = 0; i < was->ntenants; i++) {
        const struct tenant_conf *t = config_tenant(now, was->tenants[i].id);
        if (!t) {
            snprintf(buf, sz, "tenant %s was removed: that needs a restart", was->tenants[i].id);
            return buf;
        }
        if (strcmp(t->ns, was->tenants[i].ns) != 0) {
            snprintf(buf, sz, "tenant %s changed its namespace: that needs a restart", t->id);
            return buf;
        }
    }
    return NULL;
}

/* The spool `g` has for tenant `id`, or NULL. */
static struct spool *spool_of(const struct generation *g, const char *id)
{
    for (size_t j = 0; j < g->cfg.ntenants; j++)
        if (strcmp(g->cfg.tenants[j].id, id) == 0)
            return g->spools[j];
    return NULL;
}

/* The spools of `now`'s tenants: those `was` had are shared, new ones
 * opened.  NULL (logged) on error, nothing left open. */
static struct spool **spools_for(const struct generation *was, const struct config *now)
{
    struct spool **sp = calloc(now->ntenants, sizeof(*sp));
    for (size_t i = 0; sp && i < now->ntenants; i++) {
        const struct tenant_conf *t = &now->tenants[i];
        if ((sp[i] = spool_of(was, t->id)) || (sp[i] = spool_open(t->spool_dir)))
            continue;
        for (size_t k = 0; k < i; k++)
            if (!spool_of(was, now->tenants[k].id))
                spool_close(sp[k]);
        free(sp);
        return NULL;
    }
    return sp;
}

static void reload_failed(struct diag *d, const char *why)
{
    for (size_t i = 0; i < d->n; i++)
        log_error("reload_failed", "problem=%s", LOG_STR(d->items[i]));
    if (why)
        log_error("reload_failed", "problem=%s", LOG_STR(why));
    log_error("reload_failed", "kept=previous");
    diag_free(d);
}

/* SIGHUP: the configuration file again (tenants added, their numbers,
 * accounts and tokens, templates and timers), every roster and the
 * intents.  All of it or nothing: a problem keeps the previous set. */
static void reload(struct daemon *dm)
{
    struct diag d;
    char why[160];
    diag_init(&d);
    struct generation *gen = calloc(1, sizeof(*gen));
    if (!gen) {
        reload_failed(&d, "out of memory");
        return;
    }
    if (config_load(dm->gen->cfg.path, &channels_config, &gen->cfg, &d) < 0) {
        free(gen);
        reload_failed(&d, NULL);
        return;
    }
    const char *refused = reload_refused(&dm->gen->cfg, &gen->cfg, why, sizeof(why));
    struct dataset *ds = !refused && check_channels(&gen->cfg, &d) == 0 ? dataset_load(&gen->cfg, &d)
                                                                          : NULL;
    if (ds && !(gen->spools = spools_for(dm->gen, &gen->cfg)))
        refused = "a new tenant's spool could not be opened";
    if (!ds || refused) {
        dataset_unref(ds);
        config_free(&gen->cfg);
        free(gen);
        reload_failed(&d, refused);
        return;
    }
    diag_free(&d);
    gen->prev = dm->gen;
    dm->gen = gen;

    /* Deputies who left a roster: one worker hands their cases on. */
    size_t deputies = 0;
    for (size_t i = 0; i < ds->n; i++)
        deputies += ds->rosters[i]->ndeputies;
    for (int i = 0; i < dm->nworkers; i++)
        if (worker_reload(dm->workers[i], &gen->cfg, gen->spools, ds, i == 0) < 0)
            log_error("reload_failed", "worker=%d error=\"out of memory\"", i);
    log_info("reloaded", "tenants=%zu deputies=%zu intents=%zu workers=%d", ds->n, deputies,
             intent_set_size(ds->intents[0]), dm->nworkers);
    dataset_unref(dm->ds);
    dm->ds = ds;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *dm = arg;
    (void)what;
    if (sig == SIGHUP) {
        reload(dm);
        return;
    }
    if (dm->stopping)
        return;
    dm->stopping = 1;
    log_info("stopping", "signal=%d workers=%d", (int)sig, dm->nworkers);
    for (int i = 0; i < dm->nworkers; i++)
        worker_stop(dm->workers[i]);
    for (int i = 0; i < dm->nworkers; i++)
        worker_join(dm->workers[i]);
    event_base_loopexit(dm->base, NULL);
}

static int worker_count(const struct config *cfg)
{
    long n = cfg->workers > 0 ? cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Descriptors kept back from client connections for Redis, the gateways,
 * the spool and the log, per worker and for the process. */
#define FD_RESERVE_PER_WORKER 64
#define FD_RESERVE 64

/* Raises the soft descriptor limit to the hard one and returns how many
 * client connections each worker may hold: an equal share of
 * limits.max_connections, lowered (with a warning) so that all of them
 * together stay below the limit and accept() never meets EMFILE. */
static size_t connection_share(const struct config *cfg, int nworkers)
{
    struct rlimit rl;
    long cap = cfg->limits.max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t was = rl.rlim_cur;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                rl.rlim_cur = was;
        }
        long room = rl.rlim_cur == RLIM_INFINITY ? cap
                  : (long)rl.rlim_cur - FD_RESERVE - (long)nworkers * FD_RESERVE_PER_WORKER;
        if (room < cap) {
            if (room < nworkers)
                room = nworkers;
            log_warn("max_connections_lowered", "configured=%ld nofile=%ld effective=%ld",
                     cap, (long)rl.rlim_cur, room);
            cap = room;
        }
    }
    long share = cap / nworkers;
    return share < 1 ? 1 : (size_t)share;
}

static int run(struct daemon *dm)
{
    const struct config *cfg = &dm->gen->cfg;
    dm->gen->spools = calloc(cfg->ntenants, sizeof(*dm->gen->spools));
    if (!dm->gen->spools)
        return 1;
    for (size_t i = 0; i < cfg->ntenants; i++)
        if (!(dm->gen->spools[i] = spool_open(cfg->tenants[i].spool_dir)))
            return 1;
    int want = worker_count(cfg);
    size_t conn_share = connection_share(cfg, want);
    dm->metrics = metrics_set_new((size_t)want);
    if (!dm->metrics)
        return 1;
    for (int i = 0; i < want; i++) {
        struct worker *w = worker_new(i, cfg, dm->ds, dm->gen->spools,
                                      metrics_shard(dm->metrics, (size_t)i), conn_share);
        if (!w)
            return 1;
        dm->workers[dm->nworkers++] = w;
    }
    dm->base = event_base_new();
    if (!dm->base)
        return 1;
    dm->sig_term = evsignal_new(dm->base, SIGTERM, on_signal, dm);
    dm->sig_int = evsignal_new(dm->base, SIGINT, on_signal, dm);
    dm->sig_hup = evsignal_new(dm->base, SIGHUP, on_signal, dm);
    if (!dm->sig_term || !dm->sig_int || !dm->sig_hup || event_add(dm->sig_term, NULL) < 0 ||
        event_add(dm->sig_int, NULL) < 0 || event_add(dm->sig_hup, NULL) < 0)
        return 1;
    for (int i = 0; i < dm->nworkers; i++)
        if (worker_start(dm->workers[i]) < 0)
            return 1;
    size_t deputies = 0;
    for (size_t i = 0; i < dm->ds->n; i++)
        deputies += dm->ds->rosters[i]->ndeputies;
    log_info("started", "pid=%ld config=%s workers=%d listen=%s:%d tenants=%zu deputies=%zu intents=%zu",
             (long)getpid(), cfg->path, dm->nworkers, cfg->listen_host, cfg->listen_port,
             cfg->ntenants, deputies, intent_set_size(dm->ds->intents[0]));
    event_base_dispatch(dm->base);
    log_info("stopped", "pid=%ld", (long)getpid());
    return 0;
}

static void teardown(struct daemon *dm)
{
    for (int i = 0; i < dm->nworkers; i++) {
        worker_stop(dm->workers[i]);
        worker_free(dm->workers[i]);
    }
    if (dm->sig_term)
        event_free(dm->sig_term);
    if (dm->sig_int)
        event_free(dm->sig_int);
    if (dm->sig_hup)
        event_free(dm->sig_hup);
    if (dm->base)
        event_base_free(dm->base);
    dataset_unref(dm->ds);
    metrics_set_free(dm->metrics);
    /* The newest generation has every spool (no reload removes a tenant). */
    for (size_t i = 0; dm->gen && dm->gen->spools && i < dm->gen->cfg.ntenants; i++)
        spool_close(dm->gen->spools[i]);
    while (dm->gen) {
        struct generation *prev = dm->gen->prev;
        free(dm->gen->spools);
        config_free(&dm->gen->cfg);
        free(dm->gen);
        dm->gen = prev;
    }
}

/* libevent's own messages ("[warn] ...") would break the key=value format
 * and may quote what a peer sent: they go through the log like the rest. */
static void libevent_log(int severity, const char *msg)
{
    enum log_level level = severity >= EVENT_LOG_ERR ? LOG_ERROR
                         : severity == EVENT_LOG_WARN ? LOG_WARN
                         : severity == EVENT_LOG_MSG ? LOG_INFO : LOG_DEBUG;
    log_emit(level, "libevent", "msg=%s", LOG_STR(msg));
}

int main(int argc, char **argv)
{
    const char *path = "config/mashang.json";
    int check = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (check)
        return check_only(path);

    static struct daemon dm;
    struct diag d;
    diag_init(&d);
    dm.gen = calloc(1, sizeof(*dm.gen));
    if (!dm.gen || config_load(path, &channels_config, &dm.gen->cfg, &d) < 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        free(dm.gen);
        return 1;
    }
    enum log_level lvl;
    if (log_level_parse(dm.gen->cfg.log_level, &lvl) == 0)
        log_set_level(lvl);
    dm.ds = check_channels(&dm.gen->cfg, &d) == 0 ? dataset_load(&dm.gen->cfg, &d) : NULL;
    diag_print(&d, stderr);
    diag_free(&d);
    if (!dm.ds) {
        config_free(&dm.gen->cfg);
        free(dm.gen);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    event_set_log_callback(libevent_log);
    evthread_use_pthreads();
    int rc = run(&dm);
    teardown(&dm);
    curl_global_cleanup();
    return rc;
}
