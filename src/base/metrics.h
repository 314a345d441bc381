#ifndef MASHANG_METRICS_H
#define MASHANG_METRICS_H
/* Per-process counters for Prometheus (`GET /metrics`, text exposition
 * format).  Each worker owns one `struct metrics` in its app; nothing is
 * shared, so counting needs no locks.  Gauges that describe the shared
 * state (cases by state, overdue) are read from Redis at scrape time. */
#include <stddef.h>

struct evbuffer;
struct metrics;

/* OUTBOX_UNCERTAIN: a request went out and got no answer (waiting for its
 * delivery report, or set aside in outbox:uncertain). */
enum metric_outbox { OUTBOX_SENT = 0, OUTBOX_RETRIED, OUTBOX_DEAD, OUTBOX_UNCERTAIN,
                     OUTBOX_METRIC_COUNT };

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Inbound message by channel ("sms") and outcome ("stored", "duplicate",
 * "unavailable", "rejected"). */
void metrics_message(struct metrics *m, const char *channel, const char *outcome);
/* Winning intent label ("facilities", "cmd.accept", "none"). */
void metrics_intent(struct metrics *m, const char *label);
void metrics_outbox(struct metrics *m, enum metric_outbox what);
void metrics_redis_error(struct metrics *m);
/* One HTTP request served, by how long it took. */
void metrics_http(struct metrics *m, double seconds);

/* Appends every counter in Prometheus text format. */
void metrics_render(const struct metrics *m, struct evbuffer *out);

#endif
