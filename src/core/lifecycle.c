/* Case states and the transitions between them. */
#include "core/lifecycle.h"

#include <string.h>

static const char *const state_names[CASE_STATE_COUNT] = {
    "new", "assigned", "accepted", "in_progress", "resolved", "closed", "withdrawn",
};

static const char *const event_names[CASE_EVENT_COUNT] = {
    "assign", "accept", "progress", "resolve", "rate", "reopen", "withdraw",
    "transfer", "escalate",
};

/* next[event][from] = to, or -1.  Escalation keeps the state: the case
 * stays with its deputy while the liaison or committee is told.
 * Deputies often report progress or a
 * result without a separate 接单, so progress and resolve also accept
 * an assigned case.  A reopened case goes back to `assigned` (回头看). */
#define X (-1)
static const int next_state[CASE_EVENT_COUNT][CASE_STATE_COUNT] = {
    /*               new            assigned          accepted          in_progress       resolved       closed  withdrawn */
    [EV_ASSIGN]   = { CASE_ASSIGNED, CASE_ASSIGNED,    X,                X,                X,             X,      X },
    [EV_ACCEPT]   = { X,             CASE_ACCEPTED,    X,                X,                X,             X,      X },
    [EV_PROGRESS] = { X,             CASE_IN_PROGRESS, CASE_IN_PROGRESS, CASE_IN_PROGRESS, X,             X,      X },
    [EV_RESOLVE]  = { X,             CASE_RESOLVED,    CASE_RESOLVED,    CASE_RESOLVED,    X,             X,      X },
    [EV_RATE]     = { X,             X,                X,                X,                CASE_CLOSED,   X,      X },
    [EV_REOPEN]   = { X,             X,                X,                X,                CASE_ASSIGNED, X,      X },
    [EV_WITHDRAW] = { CASE_WITHDRAWN, CASE_WITHDRAWN,  CASE_WITHDRAWN,   CASE_WITHDRAWN,   X,             X,      X },
    [EV_TRANSFER] = { X,             CASE_ASSIGNED,    CASE_ASSIGNED,    CASE_ASSIGNED,    X,             X,      X },
    [EV_ESCALATE] = { X,             CASE_ASSIGNED,    CASE_ACCEPTED,    CASE_IN_PROGRESS, X,             X,      X },
};
#undef X

const char *case_state_name(enum case_state s)
{
    return (unsigned)s < CASE_STATE_COUNT ? state_names[s] : "unknown";
}

int case_state_parse(const char *name)
{
    for (int i = 0; name && i < CASE_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

const char *case_event_name(enum case_event ev)
{
    return (unsigned)ev < CASE_EVENT_COUNT ? event_names[ev] : "unknown";
}

int case_transition(enum case_state from, enum case_event ev)
{
    if ((unsigned)from >= CASE_STATE_COUNT || (unsigned)ev >= CASE_EVENT_COUNT)
        return -1;
    return next_state[ev][from];
}

size_t case_event_sources(enum case_event ev, enum case_state *out, size_t max)
{
    size_t n = 0;
    if ((unsigned)ev >= CASE_EVENT_COUNT)
        return 0;
    for (int s = 0; s < CASE_STATE_COUNT && n < max; s++)
        if (next_state[ev][s] >= 0)
            out[n++] = (enum case_state)s;
    return n;
}

int case_state_is_open(enum case_state s)
{
    return s == CASE_NEW || s == CASE_ASSIGNED || s == CASE_ACCEPTED || s == CASE_IN_PROGRESS;
}
