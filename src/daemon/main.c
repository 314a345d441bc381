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
#include "daemon/channels.h"
#include "daemon/worker.h"

#define MAX_WORKERS 64

struct daemon {
    struct config cfg;
    struct dataset *ds;             /* the dataset in service (own reference) */
    struct spool *spool;
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

/* Loads roster and intents into a new dataset; NULL with every problem in d. */
static struct dataset *load_dataset(const struct config *cfg, struct diag *d)
{
    struct roster *roster = calloc(1, sizeof(*roster));
    struct intent_set *intents = NULL;
    int ok = roster != NULL;

    if (ok && roster_load_cfg(cfg->roster_path, cfg, roster, d) < 0) {
        free(roster);
        roster = NULL;
        ok = 0;
    }
    intents = intent_set_load_cached(cfg->intents_dir, cfg->intents_cache, d);
    if (!intents)
        ok = 0;
    struct dataset *ds = ok ? dataset_new(roster, intents) : NULL;
    if (!ds) {
        if (roster) {
            roster_free(roster);
            free(roster);
        }
        intent_set_free(intents);
    }
    return ds;
}

static int check_only(const char *path)
{
    struct config cfg;
    struct diag d;
    int rc = 1;
    diag_init(&d);
    if (config_load(path, &channels_config, &cfg, &d) == 0) {
        struct dataset *ds = load_dataset(&cfg, &d);
        if (ds) {
            struct intent_matcher *m = intent_matcher_new();
            int failures = m ? intent_set_check(ds->intents, m, &d) : 1;
            intent_matcher_free(m);
            if (!failures) {
                printf("ok: %s, %zu deputies in %zu stations, %zu intents\n", path,
                       ds->roster->ndeputies, ds->roster->nstations, intent_set_size(ds->intents));
                rc = 0;
            }
            dataset_unref(ds);
        }
        config_free(&cfg);
    }
    diag_print(&d, stderr);
    diag_free(&d);
    return rc;
}

static void reload(struct daemon *dm)
{
    struct diag d;
    diag_init(&d);
    struct dataset *ds = load_dataset(&dm->cfg, &d);
    if (!ds) {
        for (size_t i = 0; i < d.n; i++)
            log_error("reload_failed", "problem=%s", LOG_STR(d.items[i]));
        log_error("reload_failed", "kept=previous");
        diag_free(&d);
        return;
    }
    diag_free(&d);

    /* Deputies who left the roster: one worker hands their cases on. */
    const struct roster *old = dm->ds->roster;
    const char **removed = calloc(old->ndeputies + 1, sizeof(*removed));
    size_t nremoved = 0;
    for (size_t i = 0; removed && i < old->ndeputies; i++)
        if (!roster_deputy(ds->roster, old->deputies[i].id))
            removed[nremoved++] = old->deputies[i].id;
    for (int i = 0; i < dm->nworkers; i++)
        if (worker_reload(dm->workers[i], ds, removed, i == 0 ? nremoved : 0) < 0)
            log_error("reload_failed", "worker=%d error=\"out of memory\" removed=%zu", i,
                      i == 0 ? nremoved : 0);
    free(removed);
    log_info("reloaded", "deputies=%zu intents=%zu removed=%zu workers=%d", ds->roster->ndeputies,
             intent_set_size(ds->intents), nremoved, dm->nworkers);
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
    dm->spool = spool_open(dm->cfg.spool_dir);
    if (!dm->spool)
        return 1;
    int want = worker_count(&dm->cfg);
    size_t conn_share = connection_share(&dm->cfg, want);
    dm->metrics = metrics_set_new((size_t)want);
    if (!dm->metrics)
        return 1;
    for (int i = 0; i < want; i++) {
        struct worker *w = worker_new(i, &dm->cfg, dm->ds, dm->spool,
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
    log_info("started", "pid=%ld config=%s workers=%d listen=%s:%d deputies=%zu intents=%zu",
             (long)getpid(), dm->cfg.path, dm->nworkers, dm->cfg.listen_host, dm->cfg.listen_port,
             dm->ds->roster->ndeputies, intent_set_size(dm->ds->intents));
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
    spool_close(dm->spool);
    config_free(&dm->cfg);
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
    if (config_load(path, &channels_config, &dm.cfg, &d) < 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        return 1;
    }
    enum log_level lvl;
    if (log_level_parse(dm.cfg.log_level, &lvl) == 0)
        log_set_level(lvl);
    dm.ds = load_dataset(&dm.cfg, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    if (!dm.ds) {
        config_free(&dm.cfg);
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
