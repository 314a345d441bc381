/* mashangd: the daemon.  Loads configuration, roster and intents, then
 * runs one libevent loop with the HTTP server, the Redis connection, the
 * outbox sender and the outbound HTTP client. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "mashang/app.h"
#include "mashang/config.h"
#include "mashang/diag.h"
#include "mashang/directory.h"
#include "mashang/http_client.h"
#include "mashang/intents.h"
#include "mashang/log.h"
#include "mashang/metrics.h"
#include "mashang/outbox.h"
#include "mashang/roster.h"
#include "mashang/server.h"
#include "mashang/step.h"
#include "mashang/store.h"

#define SHUTDOWN_GRACE_S 10

struct daemon {
    struct app app;
    struct config cfg;
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *drain_ev;
    struct event *tick_ev;
    int drain_ticks;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mashangd [-c config/mashang.json] [--check]\n"
                 "  -c FILE   configuration file (default config/mashang.json)\n"
                 "  --check   validate configuration, roster and intents, then exit 0/1\n");
}

/* Loads roster and intents; on any problem returns -1 with all of them in d. */
static int load_data(const struct config *cfg, struct roster *roster, struct intent_set **intents,
                     struct diag *d)
{
    int rc = 0;
    if (roster_load_cfg(cfg->roster_path, cfg, roster, d) < 0)
        rc = -1;
    *intents = intent_set_load(cfg->intents_dir, d);
    if (!*intents)
        rc = -1;
    if (rc < 0) {
        if (*intents)
            intent_set_free(*intents);
        *intents = NULL;
        if (rc < 0)
            roster_free(roster);
    }
    return rc;
}

static int check_only(const char *path)
{
    struct config cfg;
    struct roster roster;
    struct intent_set *intents = NULL;
    struct diag d;
    diag_init(&d);
    if (config_load(path, &cfg, &d) < 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        return 1;
    }
    int rc = load_data(&cfg, &roster, &intents, &d);
    if (rc == 0) {
        struct intent_matcher *m = intent_matcher_new();
        int failures = m ? intent_set_check(intents, m, &d) : 1;
        intent_matcher_free(m);
        if (failures)
            rc = -1;
        else
            printf("ok: %s, %zu deputies in %zu stations, %zu intents\n", path,
                   roster.ndeputies, roster.nstations, intent_set_size(intents));
        intent_set_free(intents);
        roster_free(&roster);
    }
    diag_print(&d, stderr);
    diag_free(&d);
    config_free(&cfg);
    return rc < 0 ? 1 : 0;
}

static void reload(struct daemon *dm)
{
    struct roster *roster = calloc(1, sizeof(*roster));
    struct intent_set *intents = NULL;
    struct diag d;
    diag_init(&d);
    if (!roster || load_data(&dm->cfg, roster, &intents, &d) < 0) {
        for (size_t i = 0; i < d.n; i++)
            log_error("reload_failed", "problem=\"%s\"", d.items[i]);
        log_error("reload_failed", "kept=previous");
        free(roster);
        diag_free(&d);
        return;
    }
    diag_free(&d);

    /* Deputies who left the roster: ids kept from the old roster until
     * their cases are handed on below. */
    const char **removed = calloc(dm->app.roster->ndeputies + 1, sizeof(*removed));
    size_t nremoved = 0;
    for (size_t i = 0; removed && i < dm->app.roster->ndeputies; i++)
        if (!roster_deputy(roster, dm->app.roster->deputies[i].id))
            removed[nremoved++] = dm->app.roster->deputies[i].id;

    struct roster *old = dm->app.roster;
    intent_set_free(dm->app.intents);
    dm->app.roster = roster;
    dm->app.intents = intents;
    directory_prepare(&dm->app);
    directory_publish(&dm->app);
    step_reroute(&dm->app, removed, nremoved);   /* copies the ids */
    free(removed);
    roster_free(old);
    free(old);
    log_info("reloaded", "deputies=%zu intents=%zu digest=%s", roster->ndeputies,
             intent_set_size(intents), dm->app.digest);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *dm = arg;
    (void)fd;
    (void)what;
    size_t busy = server_inflight(dm->app.server) + outbox_inflight(dm->app.outbox) +
                  store_pending(dm->app.store);
    if (busy == 0 || ++dm->drain_ticks > SHUTDOWN_GRACE_S * 20) {
        if (busy)
            log_warn("shutdown_forced", "busy=%zu", busy);
        event_base_loopexit(dm->app.base, NULL);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *dm = arg;
    (void)what;
    if (sig == SIGHUP) {
        reload(dm);
        return;
    }
    if (dm->app.stopping)
        return;
    log_info("stopping", "signal=%d", (int)sig);
    dm->app.stopping = true;
    server_stop_accepting(dm->app.server);
    struct timeval tv = { 0, 50 * 1000 };
    dm->drain_ev = event_new(dm->app.base, -1, EV_PERSIST, on_drain_tick, dm);
    if (dm->drain_ev)
        event_add(dm->drain_ev, &tv);
    else
        event_base_loopexit(dm->app.base, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *dm = arg;
    (void)fd;
    (void)what;
    if (!dm->app.stopping && store_connected(dm->app.store))
        step_tick(&dm->app);
}

static void on_store_ready(void *arg)
{
    struct daemon *dm = arg;
    directory_publish(&dm->app);
    outbox_kick(dm->app.outbox);
}

static int run(struct daemon *dm)
{
    struct app *app = &dm->app;
    char host[48] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(app->instance, sizeof(app->instance), "%s:%ld", host, (long)getpid());

    if (directory_prepare(app) < 0)
        return 1;
    app->store = store_new(app->base, dm->cfg.redis_url, dm->cfg.ns);
    app->http = http_client_new(app->base);
    app->matcher = intent_matcher_new();
    app->metrics = metrics_new();
    if (!app->store || !app->http || !app->matcher || !app->metrics) {
        log_error("startup_failed", "what=\"redis url, http client or matcher\"");
        return 1;
    }
    app->outbox = outbox_new(app);
    app->server = server_new(app);
    if (!app->outbox || !app->server)
        return 1;
    store_on_ready(app->store, on_store_ready, dm);

    dm->sig_term = evsignal_new(app->base, SIGTERM, on_signal, dm);
    dm->sig_int = evsignal_new(app->base, SIGINT, on_signal, dm);
    dm->sig_hup = evsignal_new(app->base, SIGHUP, on_signal, dm);
    event_add(dm->sig_term, NULL);
    event_add(dm->sig_int, NULL);
    event_add(dm->sig_hup, NULL);
    struct timeval tick = { 1, 0 };
    dm->tick_ev = event_new(app->base, -1, EV_PERSIST, on_tick, dm);
    if (!dm->tick_ev || event_add(dm->tick_ev, &tick) < 0)
        return 1;

    log_info("started", "instance=%s config=%s deputies=%zu intents=%zu", app->instance,
             dm->cfg.path, app->roster->ndeputies, intent_set_size(app->intents));
    event_base_dispatch(app->base);
    log_info("stopped", "instance=%s", app->instance);
    return 0;
}

static void teardown(struct daemon *dm)
{
    struct app *app = &dm->app;
    if (dm->drain_ev)
        event_free(dm->drain_ev);
    if (dm->tick_ev)
        event_free(dm->tick_ev);
    if (dm->sig_term)
        event_free(dm->sig_term);
    if (dm->sig_int)
        event_free(dm->sig_int);
    if (dm->sig_hup)
        event_free(dm->sig_hup);
    server_free(app->server);
    outbox_free(app->outbox);
    http_client_free(app->http);
    store_free(app->store);
    intent_matcher_free(app->matcher);
    metrics_free(app->metrics);
    intent_set_free(app->intents);
    if (app->roster) {
        roster_free(app->roster);
        free(app->roster);
    }
    if (app->base)
        event_base_free(app->base);
    config_free(&dm->cfg);
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
    if (config_load(path, &dm.cfg, &d) < 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        return 1;
    }
    enum log_level lvl;
    if (log_level_parse(dm.cfg.log_level, &lvl) == 0)
        log_set_level(lvl);
    dm.app.cfg = &dm.cfg;
    dm.app.roster = calloc(1, sizeof(*dm.app.roster));
    if (!dm.app.roster || load_data(&dm.cfg, dm.app.roster, &dm.app.intents, &d) < 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        free(dm.app.roster);
        dm.app.roster = NULL;
        config_free(&dm.cfg);
        return 1;
    }
    diag_free(&d);

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dm.app.base = event_base_new();
    int rc = dm.app.base ? run(&dm) : 1;
    teardown(&dm);
    curl_global_cleanup();
    return rc;
}
