#ifndef MASHANG_SPOOL_H
#define MASHANG_SPOOL_H
/* The local spool (contract §3, Durability): while Redis is unreachable,
 * inbound messages are appended to an fsync'd file and answered 200, then
 * replayed in arrival order once Redis is back.  Gateways retry only
 * briefly, so a 503 alone could lose a resident's message.
 *
 * One spool per daemon, shared by its workers: every call takes the
 * spool's lock.  The file is a sequence of JSON lines; a small offset file
 * records how far replay has got, so a crash mid-replay resumes there
 * (platform ids dedupe the record that was in flight). */
#include <stdbool.h>
#include <stddef.h>

struct spool;

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

/* Creates `dir` if needed and opens (or resumes) its spool.  NULL (logged)
 * on error. */
struct spool *spool_open(const char *dir);
void spool_close(struct spool *sp);

/* Appends one message and fsyncs.  Returns 0 once it is on disk. */
int spool_append(struct spool *sp, const char *channel, const char *addr, const char *to,
                 const char *text, size_t len, const char *msg_id, long long received_ms);

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
