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
};

/* Creates `dir` if needed and opens (or resumes) its spool.  NULL (logged)
 * on error. */
struct spool *spool_open(const char *dir);
void spool_close(struct spool *sp);

/* Appends one message and fsyncs.  Returns 0 once it is on disk. */
int spool_append(struct spool *sp, const char *channel, const char *addr, const char *to,
                 const char *text, size_t len, const char *msg_id, long long received_ms);

/* Messages waiting (appended and not yet replayed). */
bool spool_pending(struct spool *sp);

/* Replay, one record at a time and by one worker at a time:
 * spool_claim() returns true if the caller now owns the replay;
 * spool_peek() reads the next record (0), or returns 1 when none is left,
 * -1 on a damaged record (skipped with a log line); spool_advance()
 * commits it as stored; spool_release() gives the replay up (Redis went
 * away again, or done).  The file is truncated once everything is replayed. */
bool spool_claim(struct spool *sp);
int spool_peek(struct spool *sp, struct spooled *out);
void spool_advance(struct spool *sp);
void spool_release(struct spool *sp);
void spooled_clear(struct spooled *m);

#endif
