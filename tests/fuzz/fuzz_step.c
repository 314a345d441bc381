/* case_id_parse and step_rating_value: the slot values a resident or deputy
 * typed ("m1024", "给五星") turned into a case id and a 1-5 rating; and a
 * resident's answer to the revisit question or a row of aspect scores
 * (core/resident_words.c). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/case_id.h"
#include "core/resident_words.h"
#include "core/step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *slot = fuzz_cstr(data, size);
    char buf[16], tiny[4];

    const char *id = case_id_parse(slot, "M", buf, sizeof(buf));
    if (id) {
        FUZZ_CHECK(id == buf && buf[0] == 'M');
        size_t n = strlen(buf);
        FUZZ_CHECK(n >= 2 && n < sizeof(buf));
        FUZZ_CHECK(strspn(buf + 1, "0123456789") == n - 1);
    }
    id = case_id_parse(slot, "CASE", tiny, sizeof(tiny));
    FUZZ_CHECK(id == NULL);   /* the prefix alone does not fit */
    case_id_parse(slot, "", tiny, sizeof(tiny));

    int v = step_rating_value(slot);
    FUZZ_CHECK(v >= 0 && v <= 5);

    int r = resident_revisit_answer(slot);
    FUZZ_CHECK(r >= 0 && r <= 2);
    int scores[5];
    for (size_t n = 0; n <= 5; n++) {
        size_t got = resident_aspect_scores(slot, n, scores);
        FUZZ_CHECK(got == 0 || (got == n && n >= 2));
        for (size_t i = 0; i < got; i++)
            FUZZ_CHECK(scores[i] >= 1 && scores[i] <= 5);
    }
    free(slot);
    return 0;
}
