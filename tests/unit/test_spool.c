/* The spool: who waits behind spooled messages, windowed replay committed
 * in file order, release and resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

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

static void append(struct spool *sp, const char *addr, const char *text)
{
    assert_int_equal(spool_append(sp, "sms", addr, NULL, text, strlen(text), NULL, 1), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_the_spooled_resident_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_hands_records_out_again_and_voids_tickets,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_bounds_the_records_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
