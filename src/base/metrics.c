/* Prometheus counters of one worker. */
#include "base/metrics.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#define LABEL_MAX 48
#define SERIES_MAX 128

/* A counter keyed by up to two label values. */
struct series {
    char a[LABEL_MAX];
    char b[LABEL_MAX];
    unsigned long long n;
};

struct family {
    struct series s[SERIES_MAX];
    size_t n;
};

static const double http_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS (sizeof(http_buckets) / sizeof(http_buckets[0]))

struct metrics {
    struct family messages;        /* channel, outcome */
    struct family intents;         /* label */
    unsigned long long outbox[OUTBOX_METRIC_COUNT];
    unsigned long long redis_errors;
    unsigned long long http_bucket[NBUCKETS];
    unsigned long long http_count;
    double http_sum;
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    free(m);
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

static void family_add(struct family *f, const char *a, const char *b)
{
    char la[LABEL_MAX], lb[LABEL_MAX];
    copy_label(la, a);
    copy_label(lb, b);
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->s[i].a, la) == 0 && strcmp(f->s[i].b, lb) == 0) {
            f->s[i].n++;
            return;
        }
    }
    if (f->n == SERIES_MAX)
        return;
    struct series *s = &f->s[f->n++];
    memcpy(s->a, la, sizeof(la));
    memcpy(s->b, lb, sizeof(lb));
    s->n = 1;
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
        m->outbox[what]++;
}

void metrics_redis_error(struct metrics *m)
{
    if (m)
        m->redis_errors++;
}

void metrics_http(struct metrics *m, double seconds)
{
    if (!m)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= http_buckets[i])
            m->http_bucket[i]++;
    m->http_count++;
    m->http_sum += seconds;
}

void metrics_render(const struct metrics *m, struct evbuffer *out)
{
    static const char *const outbox_names[] = { "sent", "retried", "dead", "uncertain" };

    evbuffer_add_printf(out, "# HELP mashang_messages_total Inbound messages by channel and outcome.\n"
                             "# TYPE mashang_messages_total counter\n");
    for (size_t i = 0; i < m->messages.n; i++)
        evbuffer_add_printf(out, "mashang_messages_total{channel=\"%s\",outcome=\"%s\"} %llu\n",
                            m->messages.s[i].a, m->messages.s[i].b, m->messages.s[i].n);

    evbuffer_add_printf(out, "# HELP mashang_intent_matches_total Winning intent label per message.\n"
                             "# TYPE mashang_intent_matches_total counter\n");
    for (size_t i = 0; i < m->intents.n; i++)
        evbuffer_add_printf(out, "mashang_intent_matches_total{label=\"%s\"} %llu\n",
                            m->intents.s[i].a, m->intents.s[i].n);

    evbuffer_add_printf(out, "# HELP mashang_outbox_total Outbound messages sent, retried, dead-lettered, unanswered (uncertain).\n"
                             "# TYPE mashang_outbox_total counter\n");
    for (int i = 0; i < OUTBOX_METRIC_COUNT; i++)
        evbuffer_add_printf(out, "mashang_outbox_total{result=\"%s\"} %llu\n", outbox_names[i], m->outbox[i]);

    evbuffer_add_printf(out, "# HELP mashang_redis_errors_total Redis commands that failed.\n"
                             "# TYPE mashang_redis_errors_total counter\n"
                             "mashang_redis_errors_total %llu\n", m->redis_errors);

    evbuffer_add_printf(out, "# HELP mashang_http_request_seconds Inbound HTTP request latency.\n"
                             "# TYPE mashang_http_request_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        evbuffer_add_printf(out, "mashang_http_request_seconds_bucket{le=\"%g\"} %llu\n",
                            http_buckets[i], m->http_bucket[i]);
    evbuffer_add_printf(out, "mashang_http_request_seconds_bucket{le=\"+Inf\"} %llu\n"
                             "mashang_http_request_seconds_sum %.6f\n"
                             "mashang_http_request_seconds_count %llu\n",
                        m->http_count, m->http_sum, m->http_count);
}
