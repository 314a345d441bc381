/* Case states and the transitions between them, from the generated
 * schema (src/core/schema.def). */
#include "core/lifecycle.h"

#include <string.h>

#define STATE_NAME(e, name, open, deadline) [e] = name,
static const char *const state_names[CASE_STATE_COUNT] = { SCHEMA_STATES(STATE_NAME) };
#undef STATE_NAME

#define EVENT_NAME(e, name) [e] = name,
static const char *const event_names[CASE_EVENT_COUNT] = { SCHEMA_EVENTS(EVENT_NAME) };
#undef EVENT_NAME

/* next_plus1[event][from] = to + 1, or 0 when `event` is not allowed
 * there (so the table's default is "not allowed"). */
#define TRANSITION(ev, from, to) [ev][from] = (to) + 1,
static const signed char next_plus1[CASE_EVENT_COUNT][CASE_STATE_COUNT] = {
    SCHEMA_TRANSITIONS(TRANSITION)
};
#undef TRANSITION

#define STATE_OPEN(e, name, open, deadline) [e] = open,
static const unsigned char state_open[CASE_STATE_COUNT] = { SCHEMA_STATES(STATE_OPEN) };
#undef STATE_OPEN

#define STATE_DEADLINE(e, name, open, deadline) [e] = deadline,
static const int state_deadline[CASE_STATE_COUNT] = { SCHEMA_STATES(STATE_DEADLINE) };
#undef STATE_DEADLINE

#define DEADLINE_TIMERS(e, name, mask) [e] = mask,
static const unsigned deadline_timers[CASE_DEADLINE_COUNT] = { SCHEMA_DEADLINES(DEADLINE_TIMERS) };
#undef DEADLINE_TIMERS

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
    return next_plus1[ev][from] - 1;
}

size_t case_event_sources(enum case_event ev, enum case_state *out, size_t max)
{
    size_t n = 0;
    if ((unsigned)ev >= CASE_EVENT_COUNT)
        return 0;
    for (int s = 0; s < CASE_STATE_COUNT && n < max; s++)
        if (next_plus1[ev][s] > 0)
            out[n++] = (enum case_state)s;
    return n;
}

int case_state_is_open(enum case_state s)
{
    return (unsigned)s < CASE_STATE_COUNT && state_open[s];
}

long case_deadline_window(enum case_state s, const long timers[CASE_TIMER_COUNT])
{
    if ((unsigned)s >= CASE_STATE_COUNT || state_deadline[s] < 0)
        return -1;
    long w = -1;
    for (int t = 0; t < CASE_TIMER_COUNT; t++)
        if ((deadline_timers[state_deadline[s]] >> t & 1u) && (w < 0 || timers[t] < w))
            w = timers[t];
    return w;
}

bool case_overdue(enum case_state s, long created, long now, const long timers[CASE_TIMER_COUNT])
{
    long w = case_deadline_window(s, timers);
    return created > 0 && w >= 0 && now - created > w;
}
