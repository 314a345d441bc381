#ifndef MASHANG_INTENTS_PREFILTER_H
#define MASHANG_INTENTS_PREFILTER_H
/* Literal prefilter of an intent set, private to src/intents/intents*.c.
 *
 * For each intent the parser derives, from its patterns' source, a set of
 * literal strings of which every match must contain at least one (the
 * "necessary literals").  One scan of the normalised text then tells which
 * intents cannot match at all, and their PCRE2 gate and patterns are not
 * run.  An intent whose patterns give no such set (a class, `.` or an
 * optional part where the literal would be) is never filtered: the
 * prefilter only ever skips work whose result is known to be "no match". */
#include <stdbool.h>
#include <stddef.h>

struct intent_prefilter;

struct intent_prefilter *intent_prefilter_new(void);
void intent_prefilter_free(struct intent_prefilter *pf);

/* Derives the necessary literals of regex `re` (PCRE2 syntax, UTF, no
 * options) for intent number `intent`.  When none can be derived, or on
 * out of memory, the intent stays unfiltered. */
void intent_prefilter_add(struct intent_prefilter *pf, size_t intent, const char *re);

/* Sets hit[i] for every intent i < n that may match `text`: the
 * unfiltered ones, and the filtered ones one of whose literals occurs. */
void intent_prefilter_scan(const struct intent_prefilter *pf, const char *text, size_t len,
                           unsigned char *hit, size_t n);

#endif
