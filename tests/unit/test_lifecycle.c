/* The case state machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/lifecycle.h"

static void test_happy_path(void **state)
{
    (void)state;
    assert_int_equal(case_transition(CASE_NEW, EV_ASSIGN), CASE_ASSIGNED);
    assert_int_equal(case_transition(CASE_ASSIGNED, EV_ACCEPT), CASE_ACCEPTED);
    assert_int_equal(case_transition(CASE_ACCEPTED, EV_PROGRESS), CASE_IN_PROGRESS);
    assert_int_equal(case_transition(CASE_IN_PROGRESS, EV_PROGRESS), CASE_IN_PROGRESS);
    assert_int_equal(case_transition(CASE_IN_PROGRESS, EV_RESOLVE), CASE_RESOLVED);
    assert_int_equal(case_transition(CASE_RESOLVED, EV_RATE), CASE_CLOSED);
}

static void test_refused_transitions(void **state)
{
    (void)state;
    assert_int_equal(case_transition(CASE_ACCEPTED, EV_ACCEPT), -1);
    assert_int_equal(case_transition(CASE_CLOSED, EV_PROGRESS), -1);
    assert_int_equal(case_transition(CASE_RESOLVED, EV_RESOLVE), -1);
    assert_int_equal(case_transition(CASE_WITHDRAWN, EV_ACCEPT), -1);
    assert_int_equal(case_transition(CASE_RESOLVED, EV_WITHDRAW), -1);
    assert_int_equal(case_transition(CASE_ASSIGNED, EV_RATE), -1);
    assert_int_equal(case_transition((enum case_state)99, EV_ACCEPT), -1);
}

static void test_reopen_goes_back_to_the_deputy(void **state)
{
    (void)state;
    assert_int_equal(case_transition(CASE_RESOLVED, EV_REOPEN), CASE_ASSIGNED);
    assert_int_equal(case_transition(CASE_ASSIGNED, EV_ACCEPT), CASE_ACCEPTED);
}

static void test_shortcuts_deputies_take(void **state)
{
    (void)state;
    /* Progress or result without a separate 接单. */
    assert_int_equal(case_transition(CASE_ASSIGNED, EV_PROGRESS), CASE_IN_PROGRESS);
    assert_int_equal(case_transition(CASE_ASSIGNED, EV_RESOLVE), CASE_RESOLVED);
}

static void test_sources_and_names(void **state)
{
    (void)state;
    enum case_state from[CASE_STATE_COUNT];
    size_t n = case_event_sources(EV_ACCEPT, from, CASE_STATE_COUNT);
    assert_int_equal(n, 1);
    assert_int_equal(from[0], CASE_ASSIGNED);
    n = case_event_sources(EV_RESOLVE, from, CASE_STATE_COUNT);
    assert_int_equal(n, 3);
    for (int s = 0; s < CASE_STATE_COUNT; s++)
        assert_int_equal(case_state_parse(case_state_name((enum case_state)s)), s);
    assert_int_equal(case_state_parse("bogus"), -1);
    assert_string_equal(case_event_name(EV_ESCALATE), "escalate");
    assert_true(case_state_is_open(CASE_IN_PROGRESS));
    assert_false(case_state_is_open(CASE_RESOLVED));
}

/* The one "overdue" (schema.def "deadline"): waiting cases by the
 * shorter of the accept and resolve windows, working ones by resolve,
 * done ones never. */
static void test_overdue(void **state)
{
    (void)state;
    long t[CASE_TIMER_COUNT] = { [CASE_TIMER_ACCEPT] = 100, [CASE_TIMER_PROGRESS] = 50,
                                 [CASE_TIMER_RESOLVE] = 1000 };
    assert_int_equal(case_deadline_window(CASE_NEW, t), 100);
    assert_int_equal(case_deadline_window(CASE_ASSIGNED, t), 100);
    assert_int_equal(case_deadline_window(CASE_IN_PROGRESS, t), 1000);
    assert_int_equal(case_deadline_window(CASE_CLOSED, t), -1);
    assert_false(case_overdue(CASE_ASSIGNED, 1000, 1100, t));
    assert_true(case_overdue(CASE_ASSIGNED, 1000, 1101, t));
    assert_false(case_overdue(CASE_ACCEPTED, 1000, 1101, t));
    assert_true(case_overdue(CASE_ACCEPTED, 1000, 2001, t));
    assert_false(case_overdue(CASE_RESOLVED, 1000, 99999, t));
    assert_false(case_overdue(CASE_ASSIGNED, 0, 99999, t));   /* no creation time */
    t[CASE_TIMER_RESOLVE] = 60;                                /* shorter than accept */
    assert_true(case_overdue(CASE_NEW, 1000, 1061, t));
    for (int s = 0; s < CASE_STATE_COUNT; s++)
        assert_int_equal(case_deadline_window((enum case_state)s, t) >= 0, case_state_is_open((enum case_state)s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_refused_transitions),
        cmocka_unit_test(test_reopen_goes_back_to_the_deputy),
        cmocka_unit_test(test_shortcuts_deputies_take),
        cmocka_unit_test(test_sources_and_names),
        cmocka_unit_test(test_overdue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
