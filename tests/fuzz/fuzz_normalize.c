/* normalize_text: every resident's text goes through it before matching.
 * The matcher runs PCRE2 with PCRE2_NO_UTF_CHECK on the result, so the
 * result must be valid UTF-8 whenever the input is: checked here. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mashang/normalize.h"
#include "mashang/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct normalizer *normalizer_once(void)
{
    static struct normalizer *n;   /* OpenCC setup is slow: once per process */
    if (!n) {
        n = normalizer_new();
        FUZZ_CHECK(n != NULL);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct normalizer *n = normalizer_once();
    const char *in = (const char *)data;
    size_t outlen = 0;
    const char *out = normalize_text(n, in, size, &outlen);

    /* NUL is refused on purpose (docs/intents.md): it would cut the text. */
    if (!utf8_valid(in, size) || memchr(in, '\0', size)) {
        FUZZ_CHECK(out == NULL);
        return 0;
    }
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(out[outlen] == '\0');
    FUZZ_CHECK(utf8_valid(out, outlen));

    /* Normalising is idempotent: matching the result again must see the
     * same text (mashangctl shows it, admins copy it into examples). */
    char *first = fuzz_cstr((const uint8_t *)out, outlen);
    size_t againlen = 0;
    const char *again = normalize_text(n, first, outlen, &againlen);
    FUZZ_CHECK(again != NULL);
    if (againlen != outlen || memcmp(again, first, outlen) != 0) {
        fprintf(stderr, "not idempotent: \"%s\" -> \"%s\"\n", first, again);
        abort();
    }
    free(first);
    return 0;
}
