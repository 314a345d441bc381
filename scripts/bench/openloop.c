/* openloop: a small HTTP/1.1 load generator for `make bench`.
 *
 * Two modes against GET /sms/kannel (mashangd) or any path:
 *   -R RATE   open loop: request i is due at start + i/RATE, whatever the
 *             server does; its latency is measured from that due time, so
 *             a stalled server shows up in the tail (no coordinated
 *             omission, as in wrk2).  Debian has no wrk2, hence this file.
 *   -R 0      closed loop: every connection sends its next request as soon
 *             as the previous answer is in (used to push an exact number
 *             of messages through for the RSS and Redis-command counts).
 * Stops after -n requests or -d seconds, whichever comes first, and prints
 * one JSON object on stdout; with -p K prints "progress N" on stderr every
 * K answers so the caller can sample the server while it runs.
 *
 * Each request carries a fresh sender (+86138 and 8 digits), a text from
 * the messages file (one UTF-8 text per line) and a unique id, so nothing
 * is deduplicated.  Keep-alive; one request in flight per connection.
 * Built by scripts/bench/run.py with `cc -O2`; not part of the daemon. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_SZ 16384

struct conn {
    int fd;
    int busy;            /* a request is in flight */
    uint64_t due_ns;     /* when the in-flight request was due */
    char in[BUF_SZ];
    size_t in_len;
};

struct opts {
    const char *host;
    int port;
    const char *path;    /* "/sms/kannel" or e.g. "/" for a plain GET */
    const char *messages;
    double rate;
    long count;
    double seconds;
    int conns;
    long progress;
    const char *tag;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char *url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Texts of the messages file, percent-encoded once up front. */
static char **load_texts(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    *n = 0;
    if (!f)
        return NULL;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, cap * sizeof(*v));
        }
        v[(*n)++] = url_encode(line);
    }
    free(line);
    fclose(f);
    return v;
}

static int connect_to(const struct opts *o)
{
    /* Blocking connect (loopback: instant), then non-blocking reads. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
    int one = 1;
    if (fd < 0)
        return -1;
    inet_pton(AF_INET, o->host, &sa.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Length of a complete response at the start of buf and its status, or 0
 * while incomplete, -1 when it cannot be parsed (chunked, no length). */
static long response_length(const char *buf, size_t len, int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hdr = (size_t)(end - buf) + 4;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    long body = -1;
    for (const char *p = buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        if (*p == '\n')
            p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            body = atol(p + 15);
            break;
        }
    }
    if (body < 0)
        return -1;
    return hdr + (size_t)body <= len ? (long)(hdr + (size_t)body) : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;   /* microseconds */
}

static void usage(void)
{
    fprintf(stderr, "usage: openloop -h HOST -P PORT [-u PATH] -m MESSAGES [-R RATE] [-n COUNT] "
                    "[-d SECONDS] [-c CONNS] [-p PROGRESS] [-t TAG]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = { .host = "127.0.0.1", .port = 0, .path = "/sms/kannel", .rate = 0,
                      .count = 0, .seconds = 0, .conns = 64, .progress = 0, .tag = "ol" };
    int c;
    while ((c = getopt(argc, argv, "h:P:u:m:R:n:d:c:p:t:")) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'P': o.port = atoi(optarg); break;
        case 'u': o.path = optarg; break;
        case 'm': o.messages = optarg; break;
        case 'R': o.rate = atof(optarg); break;
        case 'n': o.count = atol(optarg); break;
        case 'd': o.seconds = atof(optarg); break;
        case 'c': o.conns = atoi(optarg); break;
        case 'p': o.progress = atol(optarg); break;
        case 't': o.tag = optarg; break;
        default: usage();
        }
    }
    if (!o.port || o.conns < 1 || o.conns > MAX_CONNS || (!o.count && o.seconds <= 0))
        usage();
    size_t ntexts = 0;
    char **texts = o.messages ? load_texts(o.messages, &ntexts) : NULL;
    if (o.messages && ntexts == 0) {
        fprintf(stderr, "openloop: no texts in %s\n", o.messages);
        return 1;
    }
    long max_req = o.count ? o.count : (long)(o.rate > 0 ? o.rate * o.seconds * 1.2 + 16 : 50000000);
    uint64_t *lat = malloc((size_t)max_req * sizeof(*lat));
    struct conn *conns = calloc((size_t)o.conns, sizeof(*conns));
    int ep = epoll_create1(0);
    if (!lat || !conns || ep < 0)
        return 1;
    for (int i = 0; i < o.conns; i++) {
        conns[i].fd = connect_to(&o);
        if (conns[i].fd < 0) {
            perror("openloop: connect");
            return 1;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }

    srand48((long)now_ns());
    char nonce[16];
    snprintf(nonce, sizeof(nonce), "%lx", (unsigned long)(now_ns() ^ (uint64_t)getpid()) & 0xffffff);
    uint64_t start = now_ns();
    uint64_t stop = o.seconds > 0 ? start + (uint64_t)(o.seconds * 1e9) : UINT64_MAX;
    uint64_t interval = o.rate > 0 ? (uint64_t)(1e9 / o.rate) : 0;
    long sent = 0, done = 0, non2xx = 0, errors = 0;
    size_t nlat = 0;
    char req[8192];

    for (;;) {
        uint64_t now = now_ns();
        int stopping = now >= stop || (o.count && sent >= o.count);
        if (stopping && done + errors >= sent)
            break;
        /* Issue every request that is due, on idle connections. */
        for (int i = 0; i < o.conns && !stopping; i++) {
            if (conns[i].busy || conns[i].fd < 0)
                continue;
            uint64_t due = interval ? start + (uint64_t)sent * interval : now;
            if (due > now)
                break;
            int len;
            if (texts)
                len = snprintf(req, sizeof(req),
                               "GET %s?from=%%2B86138%08ld&to=10690001&text=%s&id=%s-%s-%ld HTTP/1.1\r\n"
                               "Host: %s:%d\r\n\r\n",
                               o.path, lrand48() % 100000000L, texts[(size_t)sent % ntexts], o.tag,
                               nonce, sent, o.host, o.port);
            else
                len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", o.path,
                               o.host, o.port);
            if (len <= 0 || len >= (int)sizeof(req) ||
                write(conns[i].fd, req, (size_t)len) != len) {
                errors++;
                close(conns[i].fd);
                conns[i].fd = -1;
                sent++;
                continue;
            }
            conns[i].busy = 1;
            conns[i].due_ns = due;
            conns[i].in_len = 0;
            sent++;
            stopping = now >= stop || (o.count && sent >= o.count);
        }
        /* Wait for answers, or until the next request is due. */
        int timeout_ms = 10;
        if (interval && !stopping) {
            uint64_t next = start + (uint64_t)sent * interval;
            timeout_ms = next > now ? (int)((next - now) / 1000000) : 0;
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, timeout_ms);
        for (int k = 0; k < n; k++) {
            struct conn *cn = &conns[evs[k].data.u32];
            if (cn->fd < 0)
                continue;
            ssize_t r = read(cn->fd, cn->in + cn->in_len, BUF_SZ - cn->in_len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (cn->busy)
                    errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, cn->fd, NULL);
                close(cn->fd);
                cn->fd = -1;
                cn->busy = 0;
                continue;
            }
            cn->in_len += (size_t)r;
            int status = 0;
            long full = response_length(cn->in, cn->in_len, &status);
            if (full < 0 || (full == 0 && cn->in_len == BUF_SZ)) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, cn->fd, NULL);
                close(cn->fd);
                cn->fd = -1;
                cn->busy = 0;
                continue;
            }
            if (full == 0)
                continue;
            if (nlat < (size_t)max_req)
                lat[nlat++] = now_ns() - cn->due_ns;
            if (status < 200 || status > 299)
                non2xx++;
            done++;
            cn->busy = 0;
            cn->in_len = 0;
            if (o.progress && done % o.progress == 0) {
                fprintf(stderr, "progress %ld\n", done);
                fflush(stderr);
            }
        }
        int alive = 0;
        for (int i = 0; i < o.conns; i++)
            alive += conns[i].fd >= 0;
        if (!alive) {
            fprintf(stderr, "openloop: every connection closed\n");
            break;
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    printf("{\"target_rate\":%.1f,\"requests\":%ld,\"completed\":%ld,\"errors\":%ld,\"non2xx\":%ld,"
           "\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"p999_us\":%.1f,\"max_us\":%.1f}\n",
           o.rate, sent, done, errors, non2xx, elapsed, (double)done / elapsed, pct(lat, nlat, 50),
           pct(lat, nlat, 90), pct(lat, nlat, 99), pct(lat, nlat, 99.9),
           nlat ? (double)lat[nlat - 1] / 1000.0 : 0.0);
    for (int i = 0; i < o.conns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    for (size_t i = 0; i < ntexts; i++)
        free(texts[i]);
    free(texts);
    free(conns);
    free(lat);
    return 0;
}
