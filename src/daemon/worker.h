#ifndef MASHANG_WORKER_H
#define MASHANG_WORKER_H
/* A worker: one thread with its own libevent loop, listening socket
 * (SO_REUSEPORT, so the kernel spreads connections over workers), Redis
 * connections (one per node), curl multi handle, intent matcher and timer
 * tick, and one app per tenant (its store, outbox and directory).  Workers
 * share only immutable data: the configurations and a refcounted dataset
 * (rosters + intents) that a reload replaces whole, and the tenants'
 * spools. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"

struct roster;
struct intent_set;
struct metrics;
struct spool;
struct diag;

/* What a reload replaces whole: every tenant's roster and intents, in
 * the order of cfg->tenants.  Tenants without intents of their own share
 * one set (loaded once). */
struct dataset {
    atomic_int refs;
    size_t n;
    struct roster **rosters;         /* owned, one per tenant */
    struct intent_set **intents;     /* one per tenant, each in `sets` */
    struct intent_set **sets;        /* owned: every distinct set once */
    size_t nsets;
};

/* Loads every tenant's roster and intents; NULL with every problem in d. */
struct dataset *dataset_load(const struct config *cfg, struct diag *d);
struct dataset *dataset_ref(struct dataset *ds);
/* Frees rosters and intents when the last reference goes. */
void dataset_unref(struct dataset *ds);

struct worker;

/* Builds a worker's loop and connections and binds its socket; the thread
 * is not started yet.  Takes a reference on `ds`; `spools` (one per
 * tenant, shared, owned by the caller) may be NULL.  `metrics`: this worker's shard of the
 * process's counters (owned by the caller, outlives the worker).
 * `conn_cap`: client connections this worker may hold at once (its share
 * of limits.max_connections).  NULL (logged) on error. */
struct worker *worker_new(int index, const struct config *cfg, struct dataset *ds,
                          struct spool *const *spools, struct metrics *metrics, size_t conn_cap);
int worker_start(struct worker *w);
/* Thread-safe: queues a reload for the worker: `cfg`'s tenants (those it
 * adds get their apps, with their spools among `spools`, one per tenant
 * of cfg) and their dataset (the worker takes its own reference).  With
 * `reroute` (one worker of the daemon), the cases of deputies who left a
 * tenant's roster are re-routed when it takes over.  `cfg` and `spools`
 * must outlive the worker.  Reloads queued before the worker gets to them
 * are all applied, in order, none replacing another.  -1 (nothing queued)
 * when out of memory. */
int worker_reload(struct worker *w, const struct config *cfg, struct spool *const *spools,
                  struct dataset *ds, bool reroute);
/* Thread-safe: stop accepting, finish what is in flight, leave the loop. */
void worker_stop(struct worker *w);
/* Waits for the thread; returns 0. */
int worker_join(struct worker *w);
void worker_free(struct worker *w);

#endif
