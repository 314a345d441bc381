/* The process's counters: every worker counts into its own shard, a scrape
 * answered by any worker shows the sum, and consecutive scrapes never go
 * down while the workers keep counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "base/metrics.h"

/* The exposition text of a scrape answered by shard `i`; caller frees. */
static char *scrape(struct metrics_set *set, size_t i)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    metrics_render(metrics_shard(set, i), b);
    size_t n = evbuffer_get_length(b);
    char *text = malloc(n + 1);
    assert_non_null(text);
    evbuffer_remove(b, text, n);
    text[n] = '\0';
    evbuffer_free(b);
    return text;
}

/* The value of the sample line that starts with `series` ("name{...}" or
 * "name"), or -1 when there is none. */
static double value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void test_a_scrape_sums_every_shard(void **state)
{
    (void)state;
    struct metrics_set *set = metrics_set_new(3);
    assert_non_null(set);
    struct metrics *w0 = metrics_shard(set, 0), *w1 = metrics_shard(set, 1), *w2 = metrics_shard(set, 2);
    assert_null(metrics_shard(set, 3));

    metrics_message(w0, "sms", "stored");
    metrics_message(w0, "sms", "stored");
    metrics_message(w1, "sms", "stored");
    metrics_message(w1, "wechat:main", "duplicate");   /* a series only w1 has */
    metrics_message(w2, "sms", "unavailable");
    metrics_intent(w0, "facilities");
    metrics_intent(w2, "facilities");
    metrics_intent(w2, NULL);
    metrics_outbox(w0, OUTBOX_SENT);
    metrics_outbox(w1, OUTBOX_SENT);
    metrics_outbox(w1, OUTBOX_DEAD);
    metrics_redis_error(w2);
    metrics_redis_error(w0);
    metrics_http(w0, 0.002);
    metrics_http(w1, 0.3);
    metrics_http(w2, 10);

    char *t0 = scrape(set, 0);
    assert_true(value(t0, "mashang_messages_total{channel=\"sms\",outcome=\"stored\"}") == 3);
    assert_true(value(t0, "mashang_messages_total{channel=\"wechat:main\",outcome=\"duplicate\"}") == 1);
    assert_true(value(t0, "mashang_messages_total{channel=\"sms\",outcome=\"unavailable\"}") == 1);
    assert_true(value(t0, "mashang_intent_matches_total{label=\"facilities\"}") == 2);
    assert_true(value(t0, "mashang_intent_matches_total{label=\"none\"}") == 1);
    assert_true(value(t0, "mashang_outbox_total{result=\"sent\"}") == 2);
    assert_true(value(t0, "mashang_outbox_total{result=\"dead\"}") == 1);
    assert_true(value(t0, "mashang_outbox_total{result=\"retried\"}") == 0);
    assert_true(value(t0, "mashang_redis_errors_total") == 2);
    assert_true(value(t0, "mashang_http_request_seconds_bucket{le=\"0.0025\"}") == 1);
    assert_true(value(t0, "mashang_http_request_seconds_bucket{le=\"0.5\"}") == 2);
    assert_true(value(t0, "mashang_http_request_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(value(t0, "mashang_http_request_seconds_count") == 3);
    double s = value(t0, "mashang_http_request_seconds_sum");
    assert_true(s > 10.301 && s < 10.303);

    /* each series once, whichever shards have it */
    const char *first = strstr(t0, "mashang_messages_total{channel=\"sms\",outcome=\"stored\"}");
    assert_non_null(first);
    assert_null(strstr(first + 1, "mashang_messages_total{channel=\"sms\",outcome=\"stored\"}"));

    /* whichever worker answers, the same text */
    char *t1 = scrape(set, 1), *t2 = scrape(set, 2);
    assert_string_equal(t0, t1);
    assert_string_equal(t0, t2);
    free(t0);
    free(t1);
    free(t2);
    metrics_set_free(set);
}

static void test_labels_cannot_break_the_format(void **state)
{
    (void)state;
    struct metrics_set *set = metrics_set_new(1);
    assert_non_null(set);
    metrics_message(metrics_shard(set, 0), "a\"b\\c\nd", "stored");
    metrics_message(NULL, "sms", "stored");   /* counts nothing, no crash */
    char *t = scrape(set, 0);
    assert_true(value(t, "mashang_messages_total{channel=\"a_b_c_d\",outcome=\"stored\"}") == 1);
    free(t);
    metrics_set_free(set);
    assert_null(metrics_set_new(0));
}

/* ---- scrapes while workers count ---------------------------------------- */

#define COUNTERS 2
#define PER_THREAD 200000

struct counter_arg {
    struct metrics *m;
    atomic_int *go;
};

static void *count_away(void *arg)
{
    struct counter_arg *a = arg;
    while (!atomic_load(a->go))
        ;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_message(a->m, "sms", "stored");
        /* a new series now and then: published while scrapes read */
        if (i % 20000 == 0) {
            char label[16];
            snprintf(label, sizeof(label), "l%d", i / 20000);
            metrics_intent(a->m, label);
        }
        metrics_outbox(a->m, OUTBOX_SENT);
        metrics_http(a->m, (i % 7) * 0.001);
    }
    return NULL;
}

static const char *const watched[] = {
    "mashang_messages_total{channel=\"sms\",outcome=\"stored\"}",
    "mashang_outbox_total{result=\"sent\"}",
    "mashang_http_request_seconds_bucket{le=\"0.001\"}",
    "mashang_http_request_seconds_bucket{le=\"0.005\"}",
    "mashang_http_request_seconds_bucket{le=\"+Inf\"}",
    "mashang_http_request_seconds_count",
    "mashang_http_request_seconds_sum",
};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))

static void test_consecutive_scrapes_never_go_down(void **state)
{
    (void)state;
    struct metrics_set *set = metrics_set_new(COUNTERS + 1);
    assert_non_null(set);
    atomic_int go;
    atomic_init(&go, 0);
    pthread_t th[COUNTERS];
    struct counter_arg args[COUNTERS];
    for (int i = 0; i < COUNTERS; i++) {
        args[i] = (struct counter_arg){ metrics_shard(set, (size_t)i), &go };
        assert_int_equal(pthread_create(&th[i], NULL, count_away, &args[i]), 0);
    }
    double last[NWATCHED] = { 0 };
    atomic_store(&go, 1);
    for (int scrapes = 0; scrapes < 400; scrapes++) {
        /* answered by a different worker each time, the last one idle */
        char *t = scrape(set, (size_t)scrapes % (COUNTERS + 1));
        for (size_t k = 0; k < NWATCHED; k++) {
            double v = value(t, watched[k]);
            if (v < 0)
                v = 0;   /* not counted yet */
            if (v < last[k])
                fail_msg("%s went down: %f -> %f", watched[k], last[k], v);
            last[k] = v;
        }
        /* cumulative buckets never exceed the total */
        assert_true(value(t, "mashang_http_request_seconds_bucket{le=\"0.005\"}") <=
                    value(t, "mashang_http_request_seconds_count") ||
                    value(t, "mashang_http_request_seconds_count") < 0);
        free(t);
    }
    for (int i = 0; i < COUNTERS; i++)
        pthread_join(th[i], NULL);
    char *t = scrape(set, 0);
    assert_true(value(t, watched[0]) == (double)COUNTERS * PER_THREAD);
    assert_true(value(t, "mashang_http_request_seconds_count") == (double)COUNTERS * PER_THREAD);
    assert_true(value(t, "mashang_intent_matches_total{label=\"l9\"}") == COUNTERS);
    free(t);
    metrics_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_scrape_sums_every_shard),
        cmocka_unit_test(test_labels_cannot_break_the_format),
        cmocka_unit_test(test_consecutive_scrapes_never_go_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
