/* The fsync'd local spool for inbound messages while Redis is away. */
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

struct spool {
    pthread_mutex_t lock;
    int fd;                /* spool.jsonl, O_APPEND */
    int offset_fd;         /* spool.offset: how far replay has got */
    off_t size;            /* bytes in spool.jsonl */
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

static int write_offset(struct spool *sp)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%020lld\n", (long long)sp->read_off);
    if (pwrite(sp->offset_fd, buf, (size_t)n, 0) != n || fdatasync(sp->offset_fd) < 0) {
        log_error("spool_offset_failed", "error=\"%s\"", strerror(errno));
        return -1;
    }
    return 0;
}

static void scan_waiting(struct spool *sp);

struct spool *spool_open(const char *dir)
{
    char path[4096];
    struct spool *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return NULL;
    sp->fd = sp->offset_fd = -1;
    pthread_mutex_init(&sp->lock, NULL);
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
    return sp;
fail:
    spool_close(sp);
    return NULL;
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->offset_fd >= 0)
        close(sp->offset_fd);
    waiting_free_all(sp);
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

int spool_append(struct spool *sp, const char *channel, const char *addr, const char *to,
                 const char *text, size_t len, const char *msg_id, long long received_ms)
{
    json_t *o = json_pack("{s:s, s:s, s:s%, s:I}", "channel", channel, "addr", addr,
                          "text", text, len, "ms", (json_int_t)received_ms);
    if (o && to)
        json_object_set_new(o, "to", json_string(to));
    if (o && msg_id)
        json_object_set_new(o, "id", json_string(msg_id));
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!line)
        return -1;
    size_t n = strlen(line);
    line[n] = '\n';   /* replaces the NUL: written with its length */

    int rc = -1;
    pthread_mutex_lock(&sp->lock);
    ssize_t w = write(sp->fd, line, n + 1);
    if (w == (ssize_t)(n + 1) && fsync(sp->fd) == 0) {
        sp->size += w;
        rc = 0;
        struct waiting *who = waiting_get(sp, channel, addr, true);
        if (who)
            who->count++;   /* without memory: order kept only by the file */
    } else {
        log_error("spool_write_failed", "error=\"%s\"", strerror(errno));
        /* A short write would leave half a record: cut it off again. */
        if (w > 0 && ftruncate(sp->fd, sp->size) < 0)
            log_error("spool_write_failed", "truncate=\"%s\"", strerror(errno));
    }
    pthread_mutex_unlock(&sp->lock);
    free(line);
    return rc;
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
    if (sp->read_off >= sp->size && sp->used == 0) {
        /* Everything replayed: start the file afresh. */
        if (ftruncate(sp->fd, 0) == 0) {
            sp->size = 0;
            sp->read_off = 0;
            sp->next_off = 0;
        }
    }
    /* One offset write per window of records, not one per record: after
     * a crash at most a window is replayed again (and deduped by platform
     * ids). */
    if (sp->used == 0 || sp->read_off == 0 || sp->unsynced >= SPOOL_WINDOW) {
        write_offset(sp);
        sp->unsynced = 0;
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
