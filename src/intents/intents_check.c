/* Self-test of an intent set: every `example` must come out with its
 * intent's label (a rule's example: decided by that rule), every `counter`
 * must not match its intent at all.  Commands are
 * tried as a deputy would send them, everything else as a resident. */
#include "intents/intents_internal.h"

#include <string.h>

static enum intent_role role_for(const struct intent *it)
{
    return it->kind == INTENT_COMMAND ? ROLE_DEPUTY : ROLE_RESIDENT;
}

static bool among_candidates(const struct intent_result *r, const char *name)
{
    for (size_t i = 0; i < r->ncandidates; i++)
        if (strcmp(r->candidates[i].intent, name) == 0)
            return true;
    return false;
}

int intent_set_check(const struct intent_set *s, struct intent_matcher *m, struct diag *d)
{
    int failures = 0;
    struct intent_result r;
    for (size_t i = 0; i < s->n; i++) {
        const struct intent *it = &s->intents[i];
        for (size_t k = 0; k < it->nexamples; k++) {
            const struct intent_text *ex = &it->examples[k];
            if (intent_match(s, m, ex->text, strlen(ex->text), role_for(it), &r) < 0) {
                diag_add(d, "%s:%d: example for [%s] is not valid UTF-8", it->file, ex->line,
                         it->name);
                failures++;
            } else if (r.kind == INTENT_NONE) {
                diag_add(d, "%s:%d: example for [%s] matches no intent: %s", it->file, ex->line,
                         it->name, ex->text);
                failures++;
            } else if (it->rule ? strcmp(r.intent, it->name) != 0
                                : strcmp(r.label, it->label) != 0) {
                /* A rule's example must be decided by that rule; any other
                 * example must come out with its block's label, whichever
                 * block of that label speaks for it. */
                diag_add(d, "%s:%d: example for [%s] is won by [%s] (%s, %s %.2f)%s: %s",
                         it->file, ex->line, it->name, r.intent, r.label,
                         r.by_rule ? "rule" : "confidence", r.confidence,
                         among_candidates(&r, it->name) ? "" : ", [this] does not match",
                         ex->text);
                failures++;
            }
        }
        for (size_t k = 0; k < it->ncounters; k++) {
            const struct intent_text *co = &it->counters[k];
            if (intent_match(s, m, co->text, strlen(co->text), role_for(it), &r) < 0)
                continue; /* cannot match anything, so it holds */
            if (intents_intent_matches(it, m, intent_matcher_normalized(m))) {
                diag_add(d, "%s:%d: counter matches [%s]: %s", it->file, co->line, it->name,
                         co->text);
                failures++;
            }
        }
    }
    return failures;
}

void intent_set_counts(const struct intent_set *s, size_t *nexamples, size_t *ncounters)
{
    *nexamples = *ncounters = 0;
    for (size_t i = 0; i < s->n; i++) {
        *nexamples += s->intents[i].nexamples;
        *ncounters += s->intents[i].ncounters;
    }
}
