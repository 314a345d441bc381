/* A resident's SMS/WeChat text against the shipped intents/ (normalise,
 * PCRE2 match, rank, fill slots).  See fuzz_intents_match.h. */
#include "fuzz_intents_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_intents_run(data, size, ROLE_RESIDENT);
    return 0;
}
