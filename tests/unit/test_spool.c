/* The spool: who waits behind spooled messages, windowed replay committed
 * in file order, release and resume; appends written by the spool's
 * writer thread and completed, in order, on the requester's own loop only
 * once on disk. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/spool.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mashang-spool-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[128];
    (void)state;
    snprintf(path, sizeof(path), "%s/spool.jsonl", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/spool.offset", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

/* What a test learns from the completions of its appends. */
struct waiter {
    int done, failed;
    int order[256];        /* the appends' numbers, in completion order */
    pthread_t thread;      /* the thread the completions ran on */
    bool other_thread;     /* some completion ran elsewhere */
    const char *expect_on_disk;   /* checked by the first completion */
    bool was_on_disk;
};

struct appended {
    struct waiter *w;
    int n;
};

static off_t file_size(void)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/spool.jsonl", dir);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool file_has(const char *text)
{
    char path[128], buf[65536];
    snprintf(path, sizeof(path), "%s/spool.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static void on_appended(int rc, void *arg)
{
    struct appended *a = arg;
    struct waiter *w = a->w;
    if (!pthread_equal(pthread_self(), w->thread))
        w->other_thread = true;
    if (w->expect_on_disk && w->done + w->failed == 0)
        w->was_on_disk = file_has(w->expect_on_disk);
    if (rc == 0)
        w->order[w->done++] = a->n;
    else
        w->failed++;
    free(a);
}

/* The completion's argument, freed by on_appended. */
static struct appended *queue(struct spool *sp, struct event_base *base, struct waiter *w, int n,
                              const char *addr, const char *text)
{
    struct appended *a = malloc(sizeof(*a));
    assert_non_null(a);
    a->w = w;
    a->n = n;
    const struct spool_record rec = { .channel = "sms", .addr = addr, .text = text,
                                      .len = strlen(text), .received_ms = 1 };
    assert_int_equal(spool_append(sp, base, &rec, on_appended, a), 0);
    return a;
}

/* Runs `base` until `n` appends have completed. */
static void wait_done(struct event_base *base, struct waiter *w, int n)
{
    while (w->done + w->failed < n)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
}

static void append(struct spool *sp, const char *addr, const char *text)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct waiter w = { .thread = pthread_self() };
    queue(sp, base, &w, 0, addr, text);
    wait_done(base, &w, 1);
    assert_int_equal(w.failed, 0);
    event_base_free(base);
}

static void test_only_the_spooled_resident_waits(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    assert_false(spool_waiting(sp, "sms", "+8613800138000"));
    append(sp, "+8613800138000", "a1");
    append(sp, "+8613800138000", "a2");
    assert_true(spool_waiting(sp, "sms", "+8613800138000"));
    assert_false(spool_waiting(sp, "sms", "+8613800138001"));
    assert_false(spool_waiting(sp, "wechat:main", "+8613800138000"));

    assert_true(spool_claim(sp));
    struct spooled m1, m2, m3;
    assert_int_equal(spool_next(sp, &m1), SPOOL_OK);
    assert_int_equal(spool_next(sp, &m2), SPOOL_OK);
    assert_int_equal(spool_next(sp, &m3), SPOOL_BUSY);
    assert_string_equal(m1.text, "a1");
    assert_string_equal(m2.text, "a2");
    /* the second finishes first: nothing is committed before the first */
    assert_true(spool_done(sp, m2.ticket));
    assert_true(spool_waiting(sp, "sms", "+8613800138000"));
    assert_true(spool_done(sp, m1.ticket));
    assert_false(spool_waiting(sp, "sms", "+8613800138000"));
    assert_int_equal(spool_next(sp, &m3), SPOOL_EMPTY);
    assert_false(spool_pending(sp));
    spool_release(sp);
    spooled_clear(&m1);
    spooled_clear(&m2);
    spool_close(sp);
}

static void test_release_hands_records_out_again_and_voids_tickets(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    append(sp, "+8613800138000", "b1");
    append(sp, "+8613800138001", "b2");
    assert_true(spool_claim(sp));
    struct spooled m1, m2;
    assert_int_equal(spool_next(sp, &m1), SPOOL_OK);
    assert_true(spool_abandon(sp, m1.ticket));     /* Redis went away */
    assert_false(spool_done(sp, m1.ticket));       /* a late answer changes nothing */
    assert_false(spool_abandon(sp, m1.ticket));
    spooled_clear(&m1);
    assert_true(spool_waiting(sp, "sms", "+8613800138000"));

    assert_true(spool_claim(sp));
    assert_int_equal(spool_next(sp, &m1), SPOOL_OK);
    assert_string_equal(m1.text, "b1");
    assert_true(spool_done(sp, m1.ticket));
    spooled_clear(&m1);
    spool_release(sp);
    spool_close(sp);

    /* a restart: the part not replayed is still waited for */
    sp = spool_open(dir);
    assert_non_null(sp);
    assert_false(spool_waiting(sp, "sms", "+8613800138000"));
    assert_true(spool_waiting(sp, "sms", "+8613800138001"));
    assert_true(spool_claim(sp));
    assert_int_equal(spool_next(sp, &m2), SPOOL_OK);
    assert_string_equal(m2.text, "b2");
    assert_true(spool_done(sp, m2.ticket));
    spooled_clear(&m2);
    assert_false(spool_waiting(sp, "sms", "+8613800138001"));
    spool_release(sp);
    spool_close(sp);
}

static void test_window_bounds_the_records_in_flight(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    for (int i = 0; i < SPOOL_WINDOW + 3; i++) {
        char text[16];
        snprintf(text, sizeof(text), "c%d", i);
        append(sp, "+8613800138000", text);
    }
    assert_true(spool_claim(sp));
    static struct spooled m[SPOOL_WINDOW + 3];
    for (int i = 0; i < SPOOL_WINDOW; i++)
        assert_int_equal(spool_next(sp, &m[i]), SPOOL_OK);
    assert_int_equal(spool_next(sp, &m[SPOOL_WINDOW]), SPOOL_FULL);
    assert_true(spool_done(sp, m[0].ticket));
    assert_int_equal(spool_next(sp, &m[SPOOL_WINDOW]), SPOOL_OK);
    assert_string_equal(m[SPOOL_WINDOW].text, "c64");
    for (int i = 1; i <= SPOOL_WINDOW; i++)
        assert_true(spool_done(sp, m[i].ticket));
    for (int i = SPOOL_WINDOW + 1; i < SPOOL_WINDOW + 3; i++) {
        assert_int_equal(spool_next(sp, &m[i]), SPOOL_OK);
        assert_true(spool_done(sp, m[i].ticket));
    }
    struct spooled none;
    assert_int_equal(spool_next(sp, &none), SPOOL_EMPTY);
    assert_false(spool_waiting(sp, "sms", "+8613800138000"));
    for (int i = 0; i < SPOOL_WINDOW + 3; i++)
        spooled_clear(&m[i]);
    spool_release(sp);
    spool_close(sp);
}


static void test_appends_complete_in_order_on_their_loop_once_on_disk(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct waiter w = { .thread = pthread_self(), .expect_on_disk = "\"d0\"" };
    char text[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(text[i], sizeof(text[i]), "d%d", i);
        queue(sp, base, &w, i, i % 2 ? "+8613800138001" : "+8613800138000", text[i]);
    }
    /* queued, not yet answered: the resident already waits behind them */
    assert_true(spool_waiting(sp, "sms", "+8613800138000"));
    assert_true(spool_waiting(sp, "sms", "+8613800138001"));
    assert_int_equal(w.done, 0);   /* completions run only on the loop */
    wait_done(base, &w, 40);
    assert_int_equal(w.failed, 0);
    assert_false(w.other_thread);
    assert_true(w.was_on_disk);    /* answered only once written */
    for (int i = 0; i < 40; i++)
        assert_int_equal(w.order[i], i);

    /* replayed in the order queued */
    assert_true(spool_pending(sp));
    assert_true(spool_claim(sp));
    struct spooled m[40];
    for (int i = 0; i < 40; i++) {
        assert_int_equal(spool_next(sp, &m[i]), SPOOL_OK);
        assert_string_equal(m[i].text, text[i]);
    }
    for (int i = 0; i < 40; i++) {
        assert_true(spool_done(sp, m[i].ticket));
        spooled_clear(&m[i]);
    }
    assert_false(spool_waiting(sp, "sms", "+8613800138000"));
    spool_release(sp);
    event_base_free(base);
    spool_close(sp);
    /* all replayed: the writer started the file afresh before closing */
    assert_int_equal(file_size(), 0);
}

/* A worker: its own loop, appending while others do. */
struct loop_thread {
    struct spool *sp;
    int index;
    struct waiter w;
    char text[50][16];
};

#define PER_LOOP 50

static void *append_from_own_loop(void *arg)
{
    struct loop_thread *t = arg;
    struct event_base *base = event_base_new();
    if (!base)
        return NULL;
    t->w.thread = pthread_self();
    for (int i = 0; i < PER_LOOP; i++) {
        snprintf(t->text[i], sizeof(t->text[i]), "w%d-%d", t->index, i);
        char addr[32];
        snprintf(addr, sizeof(addr), "+86138001380%02d", t->index);
        queue(t->sp, base, &t->w, i, addr, t->text[i]);
        if (i % 7 == 0)   /* some complete before the next is queued */
            wait_done(base, &t->w, i + 1);
    }
    wait_done(base, &t->w, PER_LOOP);
    event_base_free(base);
    return NULL;
}

static void test_loops_get_their_own_completions(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    static struct loop_thread t[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].sp = sp;
        t[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, append_from_own_loop, &t[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].w.done, PER_LOOP);
        assert_false(t[i].w.other_thread);
        for (int k = 0; k < PER_LOOP; k++)
            assert_int_equal(t[i].w.order[k], k);
    }
    /* each resident's records are in the file in the order they were queued */
    assert_true(spool_claim(sp));
    int next[3] = { 0, 0, 0 };
    struct spooled m;
    for (int n = 0; n < 3 * PER_LOOP; n++) {
        int rc = spool_next(sp, &m);
        if (rc == SPOOL_FULL) {
            n--;
            continue;
        }
        assert_int_equal(rc, SPOOL_OK);
        int who = -1, k = -1;
        assert_int_equal(sscanf(m.text, "w%d-%d", &who, &k), 2);
        assert_int_equal(k, next[who]++);
        assert_true(spool_done(sp, m.ticket));
        spooled_clear(&m);
    }
    assert_int_equal(spool_next(sp, &m), SPOOL_EMPTY);
    spool_release(sp);
    spool_close(sp);
}

static void test_a_forgotten_loop_is_not_called(void **state)
{
    (void)state;
    struct spool *sp = spool_open(dir);
    assert_non_null(sp);
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct waiter w = { .thread = pthread_self() };
    struct appended *a[5];
    for (int i = 0; i < 5; i++)
        a[i] = queue(sp, base, &w, i, "+8613800138000", "e");
    spool_forget(sp, base);   /* the worker stopped before the fsync came back */
    event_base_free(base);
    spool_close(sp);          /* still written */
    assert_int_equal(w.done + w.failed, 0);
    for (int i = 0; i < 5; i++)   /* never handed back: freed here */
        free(a[i]);
    sp = spool_open(dir);
    assert_non_null(sp);
    assert_true(spool_waiting(sp, "sms", "+8613800138000"));
    spool_close(sp);
}

int main(void)
{
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_the_spooled_resident_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_hands_records_out_again_and_voids_tickets,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_bounds_the_records_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appends_complete_in_order_on_their_loop_once_on_disk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_loops_get_their_own_completions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_forgotten_loop_is_not_called, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
