#ifndef MASHANG_FUZZ_INTENTS_MATCH_H
#define MASHANG_FUZZ_INTENTS_MATCH_H
/* Shared body of fuzz_intents.c (residents) and fuzz_deputy.c (deputy
 * commands): match text against the shipped intents/ and check the
 * result's invariants. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/diag.h"
#include "intents/intents.h"
#include "base/util.h"
#include "base/utf8.h"

/* Longer inputs are cut: SMS and WeChat texts are far shorter, and it keeps
 * each run inside PCRE2's match limit rather than libFuzzer's timeout. */
#define FUZZ_INTENTS_MAX_INPUT 4096

struct fuzz_intents {
    struct intent_set *set;
    struct intent_matcher *m;
};

static inline struct fuzz_intents *fuzz_intents_once(void)
{
    static struct fuzz_intents fi;   /* compiled once per process */
    if (!fi.set) {
        const char *dir = getenv("MASHANG_FUZZ_INTENTS");
        struct diag d;
        diag_init(&d);
        /* The shipped set trains on thousands of examples: every target
         * process after the first reads the models from the cache. */
        fi.set = intent_set_load_cached(dir && *dir ? dir : "intents", "build/fuzz/intents-cache",
                                        &d);
        if (!fi.set)
            diag_print(&d, stderr);
        diag_free(&d);
        FUZZ_CHECK(fi.set != NULL);
        fi.m = intent_matcher_new();
        FUZZ_CHECK(fi.m != NULL);
    }
    return &fi;
}

static inline void fuzz_intents_check(const struct intent_result *r, size_t nlen,
                                      enum intent_role role)
{
    FUZZ_CHECK(r->label != NULL);
    FUZZ_CHECK(r->ncandidates <= INTENT_MAX_CANDIDATES);
    FUZZ_CHECK(r->nslots <= INTENT_MAX_SLOTS);
    /* With learned weights a label may win without any pattern matching,
     * but "nothing at all" never comes with candidates. */
    FUZZ_CHECK(r->kind != INTENT_NONE || r->ncandidates == 0);
    FUZZ_CHECK(r->confidence >= 0 && r->confidence <= 1);
    FUZZ_CHECK(!r->by_rule || (r->certain && r->confidence == 1));
    FUZZ_CHECK(r->nalts <= INTENT_MAX_ALTS);
    for (size_t i = 1; i < r->nalts; i++)
        FUZZ_CHECK(r->alts[i - 1].p >= r->alts[i].p);
    FUZZ_CHECK(r->kind == INTENT_NONE || intent_label_for_role(r->label, role));
    for (size_t i = 0; i < r->ncandidates; i++) {
        FUZZ_CHECK(r->candidates[i].start <= r->candidates[i].end);
        FUZZ_CHECK(r->candidates[i].end <= nlen);
    }
    for (size_t i = 0; i < r->nslots; i++) {
        const char *v = r->slots[i].value;
        size_t vlen = strnlen(v, sizeof(r->slots[i].value));
        FUZZ_CHECK(vlen < sizeof(r->slots[i].value));
        FUZZ_CHECK(utf8_valid(v, vlen));
        FUZZ_CHECK(intent_slot(r, r->slots[i].name) != NULL);
    }
    for (const char *const *n = r->needs; n && *n; n++)
        FUZZ_CHECK(**n != '\0');
}

static inline void fuzz_intents_run(const uint8_t *data, size_t size, enum intent_role role)
{
    struct fuzz_intents *fi = fuzz_intents_once();
    struct intent_result r;

    if (size > FUZZ_INTENTS_MAX_INPUT)
        size = FUZZ_INTENTS_MAX_INPUT;
    /* The raw bytes: invalid UTF-8 and NUL are refused (docs/intents.md). */
    int rc = intent_match(fi->set, fi->m, (const char *)data, size, role, &r);
    if (!utf8_valid((const char *)data, size) || memchr(data, '\0', size))
        FUZZ_CHECK(rc == -1);
    else
        FUZZ_CHECK(rc == 0);

    /* The same bytes as text, so matching itself is what gets fuzzed. */
    size_t len;
    char *text = fuzz_text(data, size, &len);
    if (!text)
        return;
    if (memchr(text, '\0', len) == NULL) {
        FUZZ_CHECK(intent_match(fi->set, fi->m, text, len, role, &r) == 0);
        const char *norm = intent_matcher_normalized(fi->m);
        FUZZ_CHECK(norm != NULL);
        fuzz_intents_check(&r, strlen(norm), role);
    }
    free(text);
}

#endif
