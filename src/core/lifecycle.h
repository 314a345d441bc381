#ifndef MASHANG_LIFECYCLE_H
#define MASHANG_LIFECYCLE_H
/* The case state machine (contract §7).  The table lives here, in C, and
 * is unit-tested; the Redis step script receives the allowed source
 * states and the target state with each command and enforces them
 * atomically against the stored state. */
#include <stddef.h>

enum case_state {
    CASE_NEW = 0, CASE_ASSIGNED, CASE_ACCEPTED, CASE_IN_PROGRESS,
    CASE_RESOLVED, CASE_CLOSED, CASE_WITHDRAWN,
    CASE_STATE_COUNT
};

enum case_event {
    EV_ASSIGN = 0,   /* routed to a deputy */
    EV_ACCEPT,       /* deputy takes it */
    EV_PROGRESS,     /* deputy reports progress (implies acceptance) */
    EV_RESOLVE,      /* deputy reports it resolved */
    EV_RATE,         /* resident rates 3-5, or the rating window ends */
    EV_REOPEN,       /* resident rates 1-2: back to the deputy (回头看) */
    EV_WITHDRAW,     /* resident withdraws */
    EV_TRANSFER,     /* handed to another deputy */
    EV_ESCALATE,     /* sent up to the liaison or committee */
    CASE_EVENT_COUNT
};

const char *case_state_name(enum case_state s);
/* Returns -1 for an unknown name. */
int case_state_parse(const char *name);
const char *case_event_name(enum case_event ev);

/* The state `ev` leads to from `from`, or -1 if `ev` is not allowed there. */
int case_transition(enum case_state from, enum case_event ev);

/* Writes the states from which `ev` is allowed into `out` (at most `max`)
 * and returns how many there are. */
size_t case_event_sources(enum case_event ev, enum case_state *out, size_t max);

/* Open = still needs someone's action (counted in the deputy's queue). */
int case_state_is_open(enum case_state s);

#endif
