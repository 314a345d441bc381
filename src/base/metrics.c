/* Prometheus counters: one shard per worker, summed at scrape time. */
#include "base/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#define LABEL_MAX 48
#define SERIES_MAX 128

/* A counter keyed by up to two label values.  The labels are written
 * once, before the series is published (family.n). */
struct series {
    char a[LABEL_MAX];
    char b[LABEL_MAX];
    atomic_ullong n;
};

/* Series [0, n) are published: n is stored with release by the shard's
 * thread after the new series is filled in, and loaded with acquire by a
 * scrape, which then may read their labels. */
struct family {
    struct series s[SERIES_MAX];
    atomic_size_t n;
};

static const double http_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS (sizeof(http_buckets) / sizeof(http_buckets[0]))

/* One worker's shard.  Written by its worker's thread only; read by any
 * scrape. */
struct metrics {
    const struct metrics_set *set;
    struct family messages;        /* channel, outcome */
    struct family intents;         /* label */
    atomic_ullong outbox[OUTBOX_METRIC_COUNT];
    atomic_ullong redis_errors;
    atomic_ullong http_bucket[NBUCKETS];
    atomic_ullong http_count;
    atomic_ullong http_sum_ns;
};

struct metrics_set {
    size_t n;
    struct metrics *shard;        /* n of them, owned */
};

/* Counters only ever go up: relaxed increments suffice (a scrape needs
 * each counter's own latest value, not an order between counters). */
static void bump(atomic_ullong *c, unsigned long long by)
{
    atomic_fetch_add_explicit(c, by, memory_order_relaxed);
}

static unsigned long long peek(const atomic_ullong *c)
{
    return atomic_load_explicit((atomic_ullong *)c, memory_order_relaxed);
}

struct metrics_set *metrics_set_new(size_t nshards)
{
    if (nshards == 0)
        return NULL;
    struct metrics_set *set = calloc(1, sizeof(*set));
    if (!set)
        return NULL;
    /* calloc's zero bytes are a valid zero for the lock-free atomics
     * used here; atomic_init makes it explicit for the counters. */
    set->shard = calloc(nshards, sizeof(*set->shard));
    if (!set->shard) {
        free(set);
        return NULL;
    }
    set->n = nshards;
    for (size_t i = 0; i < nshards; i++) {
        struct metrics *m = &set->shard[i];
        m->set = set;
        atomic_init(&m->messages.n, 0);
        atomic_init(&m->intents.n, 0);
        for (int k = 0; k < OUTBOX_METRIC_COUNT; k++)
            atomic_init(&m->outbox[k], 0);
        atomic_init(&m->redis_errors, 0);
        for (size_t k = 0; k < NBUCKETS; k++)
            atomic_init(&m->http_bucket[k], 0);
        atomic_init(&m->http_count, 0);
        atomic_init(&m->http_sum_ns, 0);
    }
    return set;
}

void metrics_set_free(struct metrics_set *set)
{
    if (!set)
        return;
    free(set->shard);
    free(set);
}

struct metrics *metrics_shard(struct metrics_set *set, size_t i)
{
    return set && i < set->n ? &set->shard[i] : NULL;
}

/* Label values come from our own code and configuration; anything that
 * would break the exposition format is replaced. */
static void copy_label(char *dst, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i < LABEL_MAX - 1; i++)
        dst[i] = (src[i] == '"' || src[i] == '\\' || src[i] == '\n') ? '_' : src[i];
    dst[i] = '\0';
}

/* The shard's own thread only. */
static void family_add(struct family *f, const char *a, const char *b)
{
    char la[LABEL_MAX], lb[LABEL_MAX];
    copy_label(la, a);
    copy_label(lb, b);
    size_t n = atomic_load_explicit(&f->n, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f->s[i].a, la) == 0 && strcmp(f->s[i].b, lb) == 0) {
            bump(&f->s[i].n, 1);
            return;
        }
    }
    if (n == SERIES_MAX)
        return;
    struct series *s = &f->s[n];
    memcpy(s->a, la, sizeof(la));
    memcpy(s->b, lb, sizeof(lb));
    atomic_store_explicit(&s->n, 1, memory_order_relaxed);
    atomic_store_explicit(&f->n, n + 1, memory_order_release);
}

void metrics_message(struct metrics *m, const char *channel, const char *outcome)
{
    if (m)
        family_add(&m->messages, channel, outcome);
}

void metrics_intent(struct metrics *m, const char *label)
{
    if (m)
        family_add(&m->intents, label && *label ? label : "none", "");
}

void metrics_outbox(struct metrics *m, enum metric_outbox what)
{
    if (m && (unsigned)what < OUTBOX_METRIC_COUNT)
        bump(&m->outbox[what], 1);
}

void metrics_redis_error(struct metrics *m)
{
    if (m)
        bump(&m->redis_errors, 1);
}

void metrics_http(struct metrics *m, double seconds)
{
    if (!m)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= http_buckets[i])
            bump(&m->http_bucket[i], 1);
    bump(&m->http_count, 1);
    bump(&m->http_sum_ns, seconds > 0 ? (unsigned long long)(seconds * 1e9) : 0);
}

/* ---- scrape ------------------------------------------------------------ */

/* A family summed over the shards: series by label values, in the order
 * first seen (shard 0 first).  Owns `s`. */
struct merged {
    struct merged_series {
        const char *a, *b;     /* point into a shard's published series */
        unsigned long long n;
    } *s;
    size_t n;
};

static int merge(const struct metrics_set *set, size_t offset, struct merged *out)
{
    out->n = 0;
    out->s = calloc(set->n * SERIES_MAX, sizeof(*out->s));
    if (!out->s)
        return -1;
    for (size_t k = 0; k < set->n; k++) {
        const struct family *f = (const struct family *)((const char *)&set->shard[k] + offset);
        size_t n = atomic_load_explicit((atomic_size_t *)&f->n, memory_order_acquire);
        for (size_t i = 0; i < n; i++) {
            const struct series *s = &f->s[i];
            size_t j = 0;
            while (j < out->n && (strcmp(out->s[j].a, s->a) != 0 || strcmp(out->s[j].b, s->b) != 0))
                j++;
            if (j == out->n) {
                out->s[j].a = s->a;
                out->s[j].b = s->b;
                out->n++;
            }
            out->s[j].n += peek(&s->n);
        }
    }
    return 0;
}

static unsigned long long sum(const struct metrics_set *set, size_t offset)
{
    unsigned long long total = 0;
    for (size_t k = 0; k < set->n; k++)
        total += peek((const atomic_ullong *)((const char *)&set->shard[k] + offset));
    return total;
}

void metrics_render(const struct metrics *m, struct evbuffer *out)
{
    static const char *const outbox_names[] = { "sent", "retried", "dead", "uncertain" };
    const struct metrics_set *set = m->set;
    struct merged fam;

    evbuffer_add_printf(out, "# HELP mashang_messages_total Inbound messages by channel and outcome.\n"
                             "# TYPE mashang_messages_total counter\n");
    if (merge(set, offsetof(struct metrics, messages), &fam) == 0) {
        for (size_t i = 0; i < fam.n; i++)
            evbuffer_add_printf(out, "mashang_messages_total{channel=\"%s\",outcome=\"%s\"} %llu\n",
                                fam.s[i].a, fam.s[i].b, fam.s[i].n);
        free(fam.s);
    }

    evbuffer_add_printf(out, "# HELP mashang_intent_matches_total Winning intent label per message.\n"
                             "# TYPE mashang_intent_matches_total counter\n");
    if (merge(set, offsetof(struct metrics, intents), &fam) == 0) {
        for (size_t i = 0; i < fam.n; i++)
            evbuffer_add_printf(out, "mashang_intent_matches_total{label=\"%s\"} %llu\n",
                                fam.s[i].a, fam.s[i].n);
        free(fam.s);
    }

    evbuffer_add_printf(out, "# HELP mashang_outbox_total Outbound messages sent, retried, dead-lettered, unanswered (uncertain).\n"
                             "# TYPE mashang_outbox_total counter\n");
    for (int i = 0; i < OUTBOX_METRIC_COUNT; i++)
        evbuffer_add_printf(out, "mashang_outbox_total{result=\"%s\"} %llu\n", outbox_names[i],
                            sum(set, offsetof(struct metrics, outbox) + (size_t)i * sizeof(atomic_ullong)));

    evbuffer_add_printf(out, "# HELP mashang_redis_errors_total Redis commands that failed.\n"
                             "# TYPE mashang_redis_errors_total counter\n"
                             "mashang_redis_errors_total %llu\n",
                        sum(set, offsetof(struct metrics, redis_errors)));

    /* A request being counted may be half-way through its buckets: the
     * cumulative buckets are made non-decreasing (each still only grows
     * from one scrape to the next). */
    evbuffer_add_printf(out, "# HELP mashang_http_request_seconds Inbound HTTP request latency.\n"
                             "# TYPE mashang_http_request_seconds histogram\n");
    unsigned long long below = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        unsigned long long b = sum(set, offsetof(struct metrics, http_bucket) + i * sizeof(atomic_ullong));
        if (b < below)
            b = below;
        below = b;
        evbuffer_add_printf(out, "mashang_http_request_seconds_bucket{le=\"%g\"} %llu\n",
                            http_buckets[i], b);
    }
    unsigned long long count = sum(set, offsetof(struct metrics, http_count));
    if (count < below)
        count = below;
    evbuffer_add_printf(out, "mashang_http_request_seconds_bucket{le=\"+Inf\"} %llu\n"
                             "mashang_http_request_seconds_sum %.6f\n"
                             "mashang_http_request_seconds_count %llu\n",
                        count, (double)sum(set, offsetof(struct metrics, http_sum_ns)) / 1e9, count);
}
