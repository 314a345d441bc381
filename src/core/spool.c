/* The fsync'd local spool for inbound messages while Redis is away.
 *
 * Threads: the workers' loop threads call every function of spool.h; one
 * writer thread of the spool's own owns every write, fsync and truncation
 * of the files.  The lock guards the spool's state and is never held
 * across an fsync; a loop thread never waits for the disk.  An append is
 * queued, the writer writes what has gathered (group commit: one write and
 * one fsync for the batch) and completes each request on its own loop
 * (event_active, libevent built with evthread) once the fsync covering it
 * has returned. */
#include "core/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "base/log.h"

/* Residents with records waiting: "channel\x1faddr" -> records not yet
 * committed.  Their later messages are spooled behind them; everyone
 * else goes straight to Redis. */
#define WAITING_BUCKETS 1024

struct waiting {
    struct waiting *next;
    size_t count;
    char key[];
};

/* One record handed out by spool_next and not yet committed. */
struct window_slot {
    off_t end;             /* offset just past the record */
    struct waiting *who;   /* its resident (NULL for a damaged record) */
    bool done;
};

/* One queued append.  Owned by the spool until its event is activated,
 * then by the callback on the requester's loop (on_appended), which frees
 * it; a request whose loop went away (spool_forget) is freed by the
 * writer. */
struct append_req {
    struct append_req *next;
    char *line;            /* the record and its newline, len bytes */
    size_t len;
    struct waiting *who;   /* counted at enqueue: later messages wait behind */
    struct event *ev;      /* on the requester's loop; NULL once forgotten */
    struct event_base *base;
    spool_appended_fn done;
    void *arg;
    int rc;
};

struct spool {
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* the writer waits for work on it */
    pthread_t writer;
    bool writer_started;
    bool stopping;
    struct append_req *queue, **queue_tail;   /* waiting for the writer */
    struct append_req *batch;                 /* being written and fsync'd */
    bool offset_due;       /* read_off moved: the writer records it */
    int fd;                /* spool.jsonl, O_APPEND; written by the writer only */
    int offset_fd;         /* spool.offset: how far replay has got (writer only) */
    off_t size;            /* bytes in spool.jsonl, all fsync'd */
    off_t read_off;        /* start of the first record not yet committed */
    off_t next_off;        /* start of the next record to hand out */
    bool replaying;
    /* Records in flight, in file order: a ring of SPOOL_WINDOW slots. */
    struct window_slot window[SPOOL_WINDOW];
    unsigned head, used;
    unsigned gen;          /* bumped by spool_release: older tickets are void */
    unsigned unsynced;     /* records committed since the offset was last written */
    struct waiting *buckets[WAITING_BUCKETS];
};

static size_t waiting_hash(const char *channel, const char *addr)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const char *p = channel; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0x1f) * 16777619u;
    for (const char *p = addr; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % WAITING_BUCKETS;
}

/* The resident's entry; created (count 0) when `create`.  Lock held. */
static struct waiting *waiting_get(struct spool *sp, const char *channel, const char *addr,
                                   bool create)
{
    size_t b = waiting_hash(channel, addr), cl = strlen(channel), al = strlen(addr);
    for (struct waiting *w = sp->buckets[b]; w; w = w->next)
        if (strncmp(w->key, channel, cl) == 0 && w->key[cl] == '\x1f' && strcmp(w->key + cl + 1, addr) == 0)
            return w;
    if (!create)
        return NULL;
    struct waiting *w = malloc(sizeof(*w) + cl + al + 2);
    if (!w)
        return NULL;
    w->count = 0;
    memcpy(w->key, channel, cl);
    w->key[cl] = '\x1f';
    memcpy(w->key + cl + 1, addr, al + 1);
    w->next = sp->buckets[b];
    sp->buckets[b] = w;
    return w;
}

/* Unlinks and frees `w` (its count reached 0).  Lock held.  Hashing the
 * stored key byte by byte gives waiting_hash(channel, addr). */
static void waiting_drop(struct spool *sp, struct waiting *w)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const char *p = w->key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (struct waiting **pp = &sp->buckets[h % WAITING_BUCKETS]; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            free(w);
            return;
        }
}

static void waiting_free_all(struct spool *sp)
{
    for (size_t b = 0; b < WAITING_BUCKETS; b++)
        while (sp->buckets[b]) {
            struct waiting *w = sp->buckets[b];
            sp->buckets[b] = w->next;
            free(w);
        }
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    }
    int rc = mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* The writer thread, lock not held. */
static int write_offset(struct spool *sp, off_t off)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%020lld\n", (long long)off);
    if (pwrite(sp->offset_fd, buf, (size_t)n, 0) != n || fdatasync(sp->offset_fd) < 0) {
        log_error("spool_offset_failed", "error=\"%s\"", strerror(errno));
        return -1;
    }
    return 0;
}

static void scan_waiting(struct spool *sp);
static void *writer_main(void *arg);

struct spool *spool_open(const char *dir)
{
    char path[4096];
    struct spool *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return NULL;
    sp->fd = sp->offset_fd = -1;
    sp->queue_tail = &sp->queue;
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->wake, NULL);
    if (mkdir_p(dir) < 0) {
        log_error("spool_open_failed", "dir=%s error=\"%s\"", dir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/spool.jsonl", dir);
    sp->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    snprintf(path, sizeof(path), "%s/spool.offset", dir);
    sp->offset_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (sp->fd < 0 || sp->offset_fd < 0 || fstat(sp->fd, &st) < 0) {
        log_error("spool_open_failed", "dir=%s error=\"%s\"", dir, strerror(errno));
        goto fail;
    }
    sp->size = st.st_size;
    char buf[32] = "";
    ssize_t n = pread(sp->offset_fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) {
        buf[n] = '\0';
        sp->read_off = atoll(buf);
    }
    if (sp->read_off < 0 || sp->read_off > sp->size)
        sp->read_off = 0;
    sp->next_off = sp->read_off;
    scan_waiting(sp);
    if (sp->read_off < sp->size)
        log_warn("spool_pending", "dir=%s bytes=%lld", dir, (long long)(sp->size - sp->read_off));
    if (pthread_create(&sp->writer, NULL, writer_main, sp) != 0) {
        log_error("spool_open_failed", "dir=%s error=\"no writer thread\"", dir);
        goto fail;
    }
    sp->writer_started = true;
    return sp;
fail:
    spool_close(sp);
    return NULL;
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->writer_started) {
        /* The writer finishes the queue and records the offset first. */
        pthread_mutex_lock(&sp->lock);
        sp->stopping = true;
        pthread_cond_signal(&sp->wake);
        pthread_mutex_unlock(&sp->lock);
        pthread_join(sp->writer, NULL);
    }
    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->offset_fd >= 0)
        close(sp->offset_fd);
    waiting_free_all(sp);
    pthread_cond_destroy(&sp->wake);
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

/* ---- appending --------------------------------------------------------- */

/* On the requester's loop: the writer is done with `req`. */
static void on_appended(evutil_socket_t fd, short what, void *arg)
{
    struct append_req *req = arg;
    (void)fd;
    (void)what;
    spool_appended_fn done = req->done;
    void *done_arg = req->arg;
    int rc = req->rc;
    event_free(req->ev);
    free(req->line);
    free(req);
    done(rc, done_arg);
}

int spool_append(struct spool *sp, struct event_base *base, const struct spool_record *rec,
                 spool_appended_fn done, void *arg)
{
    json_t *o = json_pack("{s:s, s:s, s:s%, s:I}", "channel", rec->channel, "addr", rec->addr,
                          "text", rec->text, rec->len, "ms", (json_int_t)rec->received_ms);
    if (o && rec->to)
        json_object_set_new(o, "to", json_string(rec->to));
    if (o && rec->msg_id)
        json_object_set_new(o, "id", json_string(rec->msg_id));
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct append_req *req = line ? calloc(1, sizeof(*req)) : NULL;
    if (req)
        req->ev = event_new(base, -1, 0, on_appended, req);
    if (!req || !req->ev) {
        free(req);
        free(line);
        return -1;
    }
    req->len = strlen(line) + 1;
    line[req->len - 1] = '\n';   /* replaces the NUL: written with its length */
    req->line = line;
    req->base = base;
    req->done = done;
    req->arg = arg;

    pthread_mutex_lock(&sp->lock);
    if (sp->stopping) {
        pthread_mutex_unlock(&sp->lock);
        event_free(req->ev);
        free(req->line);
        free(req);
        return -1;
    }
    /* Counted now, not once on disk: the resident's next message, even
     * one that arrives before this fsync, is spooled behind this one. */
    req->who = waiting_get(sp, rec->channel, rec->addr, true);
    if (req->who)
        req->who->count++;   /* without memory: order kept only by the file */
    *sp->queue_tail = req;
    sp->queue_tail = &req->next;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
    return 0;
}

void spool_forget(struct spool *sp, struct event_base *base)
{
    pthread_mutex_lock(&sp->lock);
    for (int list = 0; list < 2; list++)
        for (struct append_req *r = list ? sp->batch : sp->queue; r; r = r->next)
            if (r->ev && r->base == base) {
                event_free(r->ev);
                r->ev = NULL;
            }
    pthread_mutex_unlock(&sp->lock);
}

/* Writes the whole buffer at the end of the file (O_APPEND). */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The writer, lock not held: appends the batch's records and fsyncs once.
 * Returns the bytes now on disk, or -1 (the batch cut off again). */
static ssize_t write_batch(struct spool *sp, struct append_req *batch, off_t size)
{
    size_t total = 0;
    for (struct append_req *r = batch; r; r = r->next)
        total += r->len;
    char *buf = malloc(total);
    if (!buf) {
        log_error("spool_write_failed", "error=\"out of memory\" bytes=%zu", total);
        return -1;
    }
    size_t at = 0;
    for (struct append_req *r = batch; r; r = r->next) {
        memcpy(buf + at, r->line, r->len);
        at += r->len;
    }
    int rc = write_all(sp->fd, buf, total);
    if (rc == 0 && fsync(sp->fd) < 0)
        rc = -1;
    free(buf);
    if (rc == 0)
        return (ssize_t)total;
    log_error("spool_write_failed", "error=\"%s\" records_failed=yes", strerror(errno));
    /* Half a batch, or one not known to be on disk: cut it off again (it
     * is answered 503, so the gateway retries it). */
    if (ftruncate(sp->fd, size) < 0)
        log_error("spool_write_failed", "truncate=\"%s\"", strerror(errno));
    return -1;
}

/* The writer, lock held: read_off moved.  Once everything is replayed the
 * file starts afresh; the offset is then written (lock released meanwhile)
 * before any later append, so the offset on disk never points past a
 * record that was not replayed. */
static void record_offset(struct spool *sp)
{
    sp->offset_due = false;
    if (sp->read_off >= sp->size && sp->used == 0 && sp->size > 0 && ftruncate(sp->fd, 0) == 0) {
        sp->size = 0;
        sp->read_off = 0;
        sp->next_off = 0;
    }
    off_t off = sp->read_off;
    pthread_mutex_unlock(&sp->lock);
    write_offset(sp, off);
    pthread_mutex_lock(&sp->lock);
}

static void *writer_main(void *arg)
{
    struct spool *sp = arg;
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        while (!sp->queue && !sp->offset_due && !sp->stopping)
            pthread_cond_wait(&sp->wake, &sp->lock);
        if (sp->offset_due)
            record_offset(sp);
        if (!sp->queue) {
            if (sp->stopping && !sp->offset_due)
                break;
            continue;
        }
        /* Everything queued so far is one batch: one write, one fsync. */
        struct append_req *batch = sp->queue;
        sp->batch = batch;
        sp->queue = NULL;
        sp->queue_tail = &sp->queue;
        off_t size = sp->size;   /* only this thread changes the file */
        pthread_mutex_unlock(&sp->lock);

        ssize_t written = write_batch(sp, batch, size);

        pthread_mutex_lock(&sp->lock);
        if (written > 0)
            sp->size = size + written;
        sp->batch = NULL;
        while (batch) {
            struct append_req *r = batch;
            batch = r->next;
            r->rc = written > 0 ? 0 : -1;
            if (r->rc < 0 && r->who && r->who->count && --r->who->count == 0)
                waiting_drop(sp, r->who);
            if (r->ev) {
                event_active(r->ev, 0, 0);   /* on_appended owns r now */
            } else {
                free(r->line);
                free(r);
            }
        }
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

bool spool_pending(struct spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    bool pending = sp->read_off < sp->size;
    pthread_mutex_unlock(&sp->lock);
    return pending;
}

bool spool_claim(struct spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    bool mine = !sp->replaying && sp->read_off < sp->size;
    if (mine)
        sp->replaying = true;
    pthread_mutex_unlock(&sp->lock);
    return mine;
}

void spool_release(struct spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    /* Records handed out and not committed are handed out again by the
     * next replay (platform ids dedupe any that were in fact stored). */
    sp->replaying = false;
    sp->next_off = sp->read_off;
    sp->head = sp->used = 0;
    sp->gen++;
    pthread_mutex_unlock(&sp->lock);
}

bool spool_waiting(struct spool *sp, const char *channel, const char *addr)
{
    pthread_mutex_lock(&sp->lock);
    struct waiting *w = waiting_get(sp, channel, addr, false);
    bool waiting = w && w->count > 0;
    pthread_mutex_unlock(&sp->lock);
    return waiting;
}

void spooled_clear(struct spooled *m)
{
    free(m->channel);
    free(m->addr);
    free(m->to);
    free(m->text);
    free(m->msg_id);
    memset(m, 0, sizeof(*m));
}

static char *dup_field(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

/* Reads the line at `off` into a malloc'd buffer (without the newline). */
static char *read_line(struct spool *sp, off_t off, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        ssize_t r = pread(sp->fd, buf + n, cap - n, off + (off_t)n);
        if (r <= 0)
            break;
        char *nl = memchr(buf + n, '\n', (size_t)r);
        if (nl) {
            *len = (size_t)(nl - buf);
            return buf;
        }
        n += (size_t)r;
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
    }
    free(buf);
    return NULL;
}

/* Parses one record; 0, or -1 (out cleared) when it is damaged. */
static int parse_record(const char *line, size_t len, struct spooled *out)
{
    memset(out, 0, sizeof(*out));
    json_t *o = line ? json_loadb(line, len, 0, NULL) : NULL;
    const char *text = json_string_value(json_object_get(o, "text"));
    if (o && text) {
        out->channel = dup_field(o, "channel");
        out->addr = dup_field(o, "addr");
        out->to = dup_field(o, "to");
        out->msg_id = dup_field(o, "id");
        out->len = json_string_length(json_object_get(o, "text"));
        out->text = malloc(out->len + 1);
        if (out->text) {
            memcpy(out->text, text, out->len);
            out->text[out->len] = '\0';
        }
        out->received_ms = json_integer_value(json_object_get(o, "ms"));
    }
    json_decref(o);
    if (!out->channel || !out->addr || !out->text) {
        spooled_clear(out);
        return -1;
    }
    return 0;
}

/* After a restart: who has records waiting, from the part not yet
 * replayed.  Lock held (or not yet shared). */
static void scan_waiting(struct spool *sp)
{
    for (off_t off = sp->read_off; off < sp->size;) {
        size_t len = 0;
        char *line = read_line(sp, off, &len);
        if (!line)
            break;
        struct spooled m;
        if (parse_record(line, len, &m) == 0) {
            struct waiting *w = waiting_get(sp, m.channel, m.addr, true);
            if (w)
                w->count++;
            spooled_clear(&m);
        }
        free(line);
        off += (off_t)len + 1;
    }
}

int spool_next(struct spool *sp, struct spooled *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        if (sp->next_off >= sp->size) {
            int rc = sp->used ? SPOOL_BUSY : SPOOL_EMPTY;
            pthread_mutex_unlock(&sp->lock);
            return rc;
        }
        if (sp->used == SPOOL_WINDOW) {
            pthread_mutex_unlock(&sp->lock);
            return SPOOL_FULL;
        }
        size_t len = 0;
        char *line = read_line(sp, sp->next_off, &len);
        off_t end = line ? sp->next_off + (off_t)len + 1 : sp->size;
        struct window_slot *slot = &sp->window[(sp->head + sp->used) % SPOOL_WINDOW];
        unsigned index = (sp->head + sp->used) % SPOOL_WINDOW;
        slot->end = end;
        slot->done = false;
        slot->who = NULL;
        sp->used++;
        int rc = parse_record(line, len, out);
        free(line);
        if (rc == 0)
            slot->who = waiting_get(sp, out->channel, out->addr, false);
        else
            log_error("spool_record_damaged", "offset=%lld", (long long)sp->next_off);
        sp->next_off = end;
        if (rc == 0) {
            out->ticket = ((unsigned long long)sp->gen << 32) | index;
            pthread_mutex_unlock(&sp->lock);
            return SPOOL_OK;
        }
        slot->done = true;   /* damaged: skipped, committed in its turn */
    }
}

/* Commits the finished records at the head of the window, in file order.
 * Lock held. */
static void commit_head(struct spool *sp)
{
    bool moved = false;
    while (sp->used && sp->window[sp->head].done) {
        struct window_slot *slot = &sp->window[sp->head];
        sp->read_off = slot->end;
        if (slot->who && slot->who->count && --slot->who->count == 0)
            waiting_drop(sp, slot->who);
        slot->who = NULL;
        sp->head = (sp->head + 1) % SPOOL_WINDOW;
        sp->used--;
        sp->unsynced++;
        moved = true;
    }
    if (!moved)
        return;
    /* One offset write per window of records, not one per record: after
     * a crash at most a window is replayed again (and deduped by platform
     * ids).  The writer thread writes it, and truncates the file once
     * everything is replayed. */
    if (sp->used == 0 || sp->unsynced >= SPOOL_WINDOW) {
        sp->offset_due = true;
        sp->unsynced = 0;
        pthread_cond_signal(&sp->wake);
    }
}

bool spool_done(struct spool *sp, unsigned long long ticket)
{
    pthread_mutex_lock(&sp->lock);
    unsigned index = (unsigned)(ticket & 0xffffffffu);
    bool current = sp->replaying && (unsigned)(ticket >> 32) == sp->gen && index < SPOOL_WINDOW;
    if (current) {
        sp->window[index].done = true;
        commit_head(sp);
    }
    pthread_mutex_unlock(&sp->lock);
    return current;
}

bool spool_abandon(struct spool *sp, unsigned long long ticket)
{
    pthread_mutex_lock(&sp->lock);
    bool current = sp->replaying && (unsigned)(ticket >> 32) == sp->gen;
    pthread_mutex_unlock(&sp->lock);
    if (current)
        spool_release(sp);
    return current;
}
