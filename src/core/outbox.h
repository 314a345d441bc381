#ifndef MASHANG_OUTBOX_H
#define MASHANG_OUTBOX_H
/* The sending half of the durable outbox (contract §8).  Messages are
 * queued by the Redis step script; this module leases due ones
 * (src/store/lua/outbox_claim.lua), sends them through app->channels
 * (core/channel_api.h), and records each outcome (outbox_result.lua): sent, retry
 * with exponential backoff on network errors and 5xx, or dead-lettered
 * after the configured attempts or on a permanent refusal.  A lease that
 * runs out (instance died mid-send) is re-claimed by any instance. */
#include <stddef.h>

#include "core/app.h"

struct outbox;

struct outbox *outbox_new(struct app *app);
void outbox_free(struct outbox *ob);

/* Looks for due messages now instead of at the next poll. */
void outbox_kick(struct outbox *ob);
/* A step may lease its own replies at once, in its script, instead of
 * queueing them for the next claim (one Redis call less per message).
 * outbox_reserve says how many (0: none; its stopping, or the sends under
 * way are at their limit) and holds them until outbox_take, which every
 * reserving step calls once its script answered: with the leased
 * messages (the step reply's flat id, channel, to, text, case, attempts
 * array, or NULL without an answer) and how many replies it queued in
 * all; it sends the leased ones and claims the rest. */
struct redisReply;
size_t outbox_reserve(struct outbox *ob);
/* When a lease a step takes now runs out (a few seconds: its mark renews it). */
long long outbox_step_lease_expiry(void);
void outbox_take(struct outbox *ob, size_t reserved, const struct redisReply *leased, long long queued);

/* Sends under way (for graceful shutdown). */
size_t outbox_inflight(const struct outbox *ob);

/* Backoff before retry number `attempt` (1-based), in ms. */
long outbox_backoff_ms(int base_ms, int attempt);

#endif
