#ifndef MASHANG_SPOOL_H
#define MASHANG_SPOOL_H
/* The local spool (contract §3, Durability): while Redis is unreachable,
 * inbound messages are appended to an fsync'd file and answered 200, then
 * replayed in arrival order once Redis is back.  Gateways retry only
 * briefly, so a 503 alone could lose a resident's message.
 *
 * One spool per daemon, shared by its workers: every call takes the
 * spool's lock, which is never held across a disk flush.  The spool's own
 * writer thread does every write and fsync: appends are queued and
 * written in batches (one fsync for all the records gathered meanwhile),
 * and each is completed on its requester's loop once the fsync covering
 * it has returned, so a slow disk holds up the spooled requests but no
 * worker's loop.  The file is a sequence of JSON lines; a small offset
 * file records how far replay has got, so a crash mid-replay resumes
 * there (platform ids dedupe the record that was in flight). */
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct spool;

/* An inbound message to spool; the strings are copied.  to, msg_id may
 * be NULL. */
struct spool_record {
    const char *channel, *addr, *to, *text, *msg_id;
    size_t len;
    long long received_ms;
};

/* rc 0: the record is on disk (fsync returned); -1: it could not be
 * written (nothing of it stays in the spool). */
typedef void (*spool_appended_fn)(int rc, void *arg);

struct spooled {
    char *channel, *addr, *to, *text, *msg_id;   /* to, msg_id may be NULL */
    size_t len;
    long long received_ms;
    unsigned long long ticket;   /* spool_next's: hand it to spool_done */
};

/* Records replayed at once: sent down one Redis connection back to back
 * (Redis runs them in order), committed in file order as they finish. */
#define SPOOL_WINDOW 64

enum { SPOOL_OK = 0, SPOOL_EMPTY, SPOOL_BUSY, SPOOL_FULL };

/* Creates `dir` if needed, opens (or resumes) its spool and starts its
 * writer thread.  NULL (logged) on error. */
struct spool *spool_open(const char *dir);
/* Writes what is queued, records the replay offset, stops the writer and
 * frees the spool.  Every loop that appended must have been forgotten
 * (spool_forget) or have seen its appends complete. */
void spool_close(struct spool *sp);

/* Queues one message for the writer and returns at once: 0, and later
 * `done(rc, arg)` runs on `base`'s loop (libevent with evthread enabled)
 * once the record is on disk, or failed; -1 (done never runs) when it
 * cannot be queued.  From the moment it is queued the resident counts as
 * waiting (spool_waiting), so their next message is spooled behind it. */
int spool_append(struct spool *sp, struct event_base *base, const struct spool_record *rec,
                 spool_appended_fn done, void *arg);
/* Before `base` is freed: appends queued from it are still written, but
 * their `done` is never called (their events are freed here). */
void spool_forget(struct spool *sp, struct event_base *base);

/* Messages waiting (appended and not yet replayed). */
bool spool_pending(struct spool *sp);
/* Whether this resident has messages waiting: then their next message
 * must wait behind them (spooled first); other residents' need not. */
bool spool_waiting(struct spool *sp, const char *channel, const char *addr);

/* Replay, by one worker at a time: spool_claim() returns true if the
 * caller now owns the replay.  spool_next() hands out the next record
 * (SPOOL_OK; damaged records are skipped with a log line), SPOOL_FULL
 * when SPOOL_WINDOW records are in flight, SPOOL_BUSY when none is left
 * but some are in flight, SPOOL_EMPTY when all is replayed.  spool_done()
 * reports a record stored (or refused for good); records are committed
 * in file order, so a resident's later messages stay behind.
 * spool_release() gives the replay up (its owner only) (Redis went away again, or done):
 * uncommitted records will be handed out again and tickets of before are
 * void.  The file is truncated once everything is replayed. */
bool spool_claim(struct spool *sp);
int spool_next(struct spool *sp, struct spooled *out);
/* Both return whether `ticket` belongs to the replay in progress (else
 * they do nothing: an answer from before a release).  spool_abandon()
 * releases the replay a failed record belonged to. */
bool spool_done(struct spool *sp, unsigned long long ticket);
bool spool_abandon(struct spool *sp, unsigned long long ticket);
void spool_release(struct spool *sp);
void spooled_clear(struct spooled *m);

#endif
