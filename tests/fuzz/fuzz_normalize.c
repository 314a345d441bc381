/* normalize_text: every resident's text goes through it before matching.
 * The matcher runs PCRE2 with PCRE2_NO_UTF_CHECK on the result, so the
 * result must be valid UTF-8 whenever the input is: checked here. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <opencc/opencc.h>

#include "fuzz_common.h"
#include "intents/normalize.h"
#include "base/utf8.h"

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

/* t2s itself is not idempotent: it maps 薴 to 苧 and 苧 to 苎.  Returns
 * true when converting `s` again changes it, i.e. a second normalisation
 * may differ for OpenCC's reasons, not ours. */
static bool t2s_changes(const char *s, size_t len)
{
    static opencc_t cc = (opencc_t)-1;   /* opened once per process */
    if (cc == (opencc_t)-1) {
        cc = opencc_open("t2s.json");
        FUZZ_CHECK(cc != (opencc_t)-1);
    }
    char *c = opencc_convert_utf8(cc, s, len);
    FUZZ_CHECK(c != NULL);
    bool changed = strcmp(c, s) != 0;
    opencc_convert_utf8_free(c);
    return changed;
}

/* Normalising is idempotent: matching the result again must see the
 * same text (mashangctl shows it, admins copy it into examples). */
static void check_idempotent(struct normalizer *n, const char *out, size_t outlen)
{
    char *first = fuzz_cstr((const uint8_t *)out, outlen);
    size_t againlen = 0;
    const char *again = normalize_text(n, first, outlen, &againlen);
    FUZZ_CHECK(again != NULL);
    if ((againlen != outlen || memcmp(again, first, outlen) != 0) &&
        !t2s_changes(first, outlen)) {
        fprintf(stderr, "not idempotent: \"%s\" -> \"%s\"\n", first, again);
        abort();
    }
    free(first);
}

/* Valid text without NUL normalises to valid UTF-8, idempotently. */
static void check_text(struct normalizer *n, const char *in, size_t size)
{
    size_t outlen = 0;
    const char *out = normalize_text(n, in, size, &outlen);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(out[outlen] == '\0');
    FUZZ_CHECK(utf8_valid(out, outlen));
    check_idempotent(n, out, outlen);
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
        size_t len;
        char *text = fuzz_text(data, size, &len);
        if (text && memchr(text, '\0', len) == NULL)
            check_text(n, text, len);
        free(text);
        return 0;
    }
    check_text(n, in, size);
    return 0;
}
