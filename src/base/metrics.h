#ifndef MASHANG_METRICS_H
#define MASHANG_METRICS_H
/* The process's counters for Prometheus (`GET /metrics`, text exposition
 * format).  A `struct metrics_set` belongs to the daemon and holds one
 * shard (`struct metrics`) per worker: a worker counts only into its own
 * shard, from its own thread (relaxed atomic stores, no locks), and a
 * scrape answered by any worker sums every shard, so consecutive scrapes
 * never go down whichever worker answers them.  Gauges that describe the
 * shared state (cases by state, overdue) are read from Redis at scrape
 * time. */
#include <stddef.h>

struct evbuffer;
struct metrics;
struct metrics_set;

/* OUTBOX_UNCERTAIN: a request went out and got no answer (waiting for its
 * delivery report, or set aside in outbox:uncertain). */
enum metric_outbox { OUTBOX_SENT = 0, OUTBOX_RETRIED, OUTBOX_DEAD, OUTBOX_UNCERTAIN,
                     OUTBOX_METRIC_COUNT };

/* `nshards` >= 1 shards, all zero; NULL when out of memory. */
struct metrics_set *metrics_set_new(size_t nshards);
/* Frees the set and its shards (no worker may be counting any more). */
void metrics_set_free(struct metrics_set *set);
/* Shard `i` (< nshards), owned by the set: counted into by one thread
 * only. */
struct metrics *metrics_shard(struct metrics_set *set, size_t i);

/* Every counting call takes the caller's own shard; NULL counts nothing. */

/* Inbound message by channel ("sms") and outcome ("stored", "duplicate",
 * "unavailable", "rejected"). */
void metrics_message(struct metrics *m, const char *channel, const char *outcome);
/* Winning intent label ("facilities", "cmd.accept", "none"). */
void metrics_intent(struct metrics *m, const char *label);
void metrics_outbox(struct metrics *m, enum metric_outbox what);
void metrics_redis_error(struct metrics *m);
/* One HTTP request served, by how long it took. */
void metrics_http(struct metrics *m, double seconds);

/* Appends every counter, summed over all shards of `m`'s set, in
 * Prometheus text format.  Any thread may call it while the others
 * count. */
void metrics_render(const struct metrics *m, struct evbuffer *out);

#endif
