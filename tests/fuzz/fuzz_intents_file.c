/* intent_set_load on a directory holding one fuzzed NAME.intents file:
 * the line parser, PCRE2 compilation of administrators' patterns, slot
 * names, weights and priorities.  A set that loads is then matched and
 * its own examples checked, so a parse that "succeeds" with a broken
 * structure shows up too. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "base/diag.h"
#include "intents/intents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Files far larger than any real intents file only slow the fuzzer down. */
#define FUZZ_INTENTS_FILE_MAX 16384

static const char *const cleanup_names[] = { "intents/fuzz.intents", "intents", NULL };

static const char *intents_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/intents", fuzz_tmpdir());
        FUZZ_CHECK(mkdir(dir, 0700) == 0);
        fuzz_cleanup_at_exit(cleanup_names);
    }
    return dir;
}

static struct intent_matcher *matcher_once(void)
{
    static struct intent_matcher *m;   /* holds OpenCC: once per process */
    if (!m) {
        m = intent_matcher_new();
        FUZZ_CHECK(m != NULL);
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const texts[] = {
        "幸福路12号的路灯坏了三天了", "接单 M1001", "5", "", "查询",
    };
    struct diag d;
    const char *dir = intents_dir();

    if (size > FUZZ_INTENTS_FILE_MAX)
        return 0;
    fuzz_write_file("intents/fuzz.intents", data, size);
    diag_init(&d);
    struct intent_set *s = intent_set_load(dir, &d);
    if (!s) {
        FUZZ_CHECK(d.n > 0);   /* a refusal always says why */
        diag_free(&d);
        return 0;
    }
    struct intent_matcher *m = matcher_once();
    struct intent_result r;
    for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
        FUZZ_CHECK(intent_match(s, m, texts[i], strlen(texts[i]), ROLE_DEPUTY, &r) == 0);
        FUZZ_CHECK(r.label != NULL);
        for (size_t k = 0; k < r.ncandidates; k++)
            FUZZ_CHECK(r.candidates[k].intent != NULL);
    }
    size_t nex = 0, nco = 0;
    intent_set_counts(s, &nex, &nco);
    intent_set_check(s, m, &d);
    intent_set_free(s);
    diag_free(&d);
    return 0;
}
