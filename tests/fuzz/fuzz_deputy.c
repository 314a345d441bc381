/* A deputy's text ("接单 M1001", "进展 1001 已联系路灯所", "待办"): command
 * intents are tried too, and the case id slot goes through case_id_parse()
 * as the step does.  See fuzz_intents_match.h. */
#include "fuzz_intents_match.h"
#include "base/case_id.h"
#include "core/step.h"

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
    free(text);
    return 0;
}
