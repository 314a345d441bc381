/* The fsync'd local spool for inbound messages while Redis is away. */
#include "mashang/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mashang/log.h"

struct spool {
    pthread_mutex_t lock;
    int fd;                /* spool.jsonl, O_APPEND */
    int offset_fd;         /* spool.offset: how far replay has got */
    off_t size;            /* bytes in spool.jsonl */
    off_t read_off;        /* start of the next record to replay */
    size_t peek_len;       /* length of the record spool_peek returned */
    bool replaying;
};

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
    sp->replaying = false;
    pthread_mutex_unlock(&sp->lock);
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

/* Reads the line at read_off into a malloc'd buffer (without the newline). */
static char *read_line(struct spool *sp, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        ssize_t r = pread(sp->fd, buf + n, cap - n, sp->read_off + (off_t)n);
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

int spool_peek(struct spool *sp, struct spooled *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&sp->lock);
    if (sp->read_off >= sp->size) {
        pthread_mutex_unlock(&sp->lock);
        return 1;
    }
    size_t len = 0;
    char *line = read_line(sp, &len);
    sp->peek_len = line ? len + 1 : (size_t)(sp->size - sp->read_off);
    pthread_mutex_unlock(&sp->lock);

    json_t *o = line ? json_loadb(line, len, 0, NULL) : NULL;
    free(line);
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
        log_error("spool_record_damaged", "offset=%lld", (long long)sp->read_off);
        spooled_clear(out);
        return -1;
    }
    return 0;
}

void spool_advance(struct spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->read_off += (off_t)sp->peek_len;
    sp->peek_len = 0;
    if (sp->read_off >= sp->size) {
        /* Everything replayed: start the file afresh. */
        if (ftruncate(sp->fd, 0) == 0) {
            sp->size = 0;
            sp->read_off = 0;
        }
    }
    write_offset(sp);
    pthread_mutex_unlock(&sp->lock);
}
