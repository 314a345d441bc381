#ifndef MASHANG_WORKER_H
#define MASHANG_WORKER_H
/* A worker: one thread with its own libevent loop, listening socket
 * (SO_REUSEPORT, so the kernel spreads connections over workers), Redis
 * connection, curl multi handle, intent matcher, outbox sender and timer
 * tick.  Workers share only immutable data: the configuration and a
 * refcounted dataset (roster + intents) that a reload replaces whole. */
#include <stdatomic.h>
#include <stddef.h>

#include "base/config.h"

struct roster;
struct intent_set;
struct metrics;
struct spool;

struct dataset {
    atomic_int refs;
    struct roster *roster;
    struct intent_set *intents;
};

/* Takes ownership of both (roster allocated with malloc); refs = 1. */
struct dataset *dataset_new(struct roster *roster, struct intent_set *intents);
struct dataset *dataset_ref(struct dataset *ds);
/* Frees roster and intents when the last reference goes. */
void dataset_unref(struct dataset *ds);

struct worker;

/* Builds a worker's loop and connections and binds its socket; the thread
 * is not started yet.  Takes a reference on `ds`; `spool` (shared, owned
 * by the caller) may be NULL.  `metrics`: this worker's shard of the
 * process's counters (owned by the caller, outlives the worker).
 * `conn_cap`: client connections this worker may hold at once (its share
 * of limits.max_connections).  NULL (logged) on error. */
struct worker *worker_new(int index, const struct config *cfg, struct dataset *ds,
                          struct spool *spool, struct metrics *metrics, size_t conn_cap);
int worker_start(struct worker *w);
/* Thread-safe: queues a new dataset for the worker (it takes its own
 * reference) and, for the worker that should do it, the deputies who left
 * the roster (copied) whose cases must be re-routed.  Reloads queued
 * before the worker gets to them are all applied, in order, none
 * replacing another.  -1 (nothing queued) when out of memory. */
int worker_reload(struct worker *w, struct dataset *ds, const char *const *removed, size_t n);
/* Thread-safe: stop accepting, finish what is in flight, leave the loop. */
void worker_stop(struct worker *w);
/* Waits for the thread; returns 0. */
int worker_join(struct worker *w);
void worker_free(struct worker *w);

#endif
