/* A deputy's text ("接单 M1001", "进展 1001 已联系路灯所", "待办"): command
 * intents are tried too, and the case id slot goes through case_id_parse()
 * as the step does; a common issue's number (R1003) is written as a case
 * number first, as the step does, and the text's signature (similar.h)
 * must be well formed and alike to itself.  See fuzz_intents_match.h. */
#include "fuzz_intents_match.h"
#include "base/case_id.h"
#include "core/step.h"
#include "intents/similar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_intents *fi = fuzz_intents_once();
    struct intent_result r;

    fuzz_intents_run(data, size, ROLE_DEPUTY);
    size_t len;
    char *text = fuzz_text(data, size > FUZZ_INTENTS_MAX_INPUT ? FUZZ_INTENTS_MAX_INPUT : size, &len);
    if (text && intent_match(fi->set, fi->m, text, len, ROLE_DEPUTY, &r) == 0) {
        const char *cid = intent_slot(&r, "case");
        char buf[32];
        if (cid) {
            const char *id = case_id_parse(cid, "M", buf, sizeof(buf));
            FUZZ_CHECK(id == NULL || (id[0] == 'M' && strlen(id) < sizeof(buf)));
        }
        const char *rating = intent_slot(&r, "rating");
        if (rating) {
            int v = step_rating_value(rating);
            FUZZ_CHECK(v >= 0 && v <= 5);
        }
    }
    /* texts with NUL bytes never reach the engine (fuzz_intents_run) */
    if (text && memchr(text, '\0', len) == NULL) {
        char digits[CASE_ID_MAX_DIGITS + 1];
        size_t slen = 0;
        char *swapped = case_id_swap_prefix(text, len, "R", "M", digits, &slen);
        if (swapped) {
            FUZZ_CHECK(strlen(swapped) == slen && strlen(digits) >= 3);
            intent_match(fi->set, fi->m, swapped, slen, ROLE_DEPUTY, &r);
            free(swapped);
        }
        const char *norm = intent_matcher_normalized(fi->m);
        char sig[SIMILAR_SIG_SIZE];
        int n = similar_signature(norm, strlen(norm), 0, strlen(norm) / 2, sig);
        FUZZ_CHECK(n >= 0 && n <= SIMILAR_SIG_MAX && strlen(sig) == (size_t)n * SIMILAR_HEX);
        FUZZ_CHECK(n == 0 || similar_cosine(sig, sig) > 0.999);
    }
    free(text);
    return 0;
}
