/* Text helpers fed by every channel: UTF-8 validation, Kannel's UTF-16BE
 * text, phone numbers from gateways and rosters, SMS segment arithmetic,
 * masking and trimming.  Checks the promises of util.h, not just memory
 * safety: converted UTF-16 is valid UTF-8, a normalised phone is E.164
 * and normalising it again is a fixed point, masks never show the whole
 * number and always fit. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/util.h"
#include "base/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_phone(const char *in)
{
    char out[32], again[32], small[8];

    if (phone_normalize(in, "86", out, sizeof(out)) == 0) {
        size_t n = strlen(out);
        FUZZ_CHECK(out[0] == '+' && n >= 2 && n <= 16);
        for (size_t i = 1; i < n; i++)
            FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
        FUZZ_CHECK(phone_normalize(out, "86", again, sizeof(again)) == 0);
        FUZZ_CHECK(strcmp(out, again) == 0);
    }
    phone_normalize(in, "1", small, sizeof(small));
    phone_normalize(in, "", out, sizeof(out));

    char mask[24], tiny[4];
    address_mask(in, mask, sizeof(mask));
    FUZZ_CHECK(memchr(mask, '\0', sizeof(mask)) != NULL);
    address_mask(in, tiny, sizeof(tiny));
    FUZZ_CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
    if (strlen(in) >= 11 && strcmp(mask, in) == 0 && strchr(in, '*') == NULL)
        FUZZ_CHECK(!"address_mask returned the address unmasked");
}

/* The two decoders agree on well-formed input, the lossy one always
 * advances, the strict one accepts exactly what utf8_valid accepts, and
 * what is decoded encodes back to the same bytes. */
static void check_utf8(const char *s, size_t size)
{
    bool valid = true;
    for (size_t i = 0; i < size;) {
        uint32_t cp = 0, lc = 0;
        char enc[UTF8_MAX];
        size_t n = utf8_decode(s + i, size - i, &cp);
        size_t ln = utf8_decode_lossy(s + i, size - i, &lc);
        FUZZ_CHECK(ln >= 1 && ln <= size - i && ln <= UTF8_MAX);
        if (n) {
            FUZZ_CHECK(n == ln && cp == lc && n == utf8_seq_len((unsigned char)s[i]));
            FUZZ_CHECK(utf8_encode(cp, enc) == n && memcmp(enc, s + i, n) == 0);
        } else {
            valid = false;
            FUZZ_CHECK(lc == 0xFFFD);
        }
        i += ln;
    }
    FUZZ_CHECK(valid == utf8_valid(s, size));
    for (size_t max = 0; max <= size && max < 8; max++) {
        size_t cut = utf8_cut(s, size, max);
        FUZZ_CHECK(cut <= max || cut == size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    check_utf8(s, size);

    if (utf8_valid(s, size)) {
        FUZZ_CHECK(utf8_length(s, size) <= size);
        int seg = sms_segments(s, size);
        FUZZ_CHECK(seg >= 0);
        FUZZ_CHECK(size == 0 || seg >= 1);
    }

    size_t outlen = 0;
    char *u8 = utf16be_to_utf8(data, size, &outlen);
    if (u8) {
        FUZZ_CHECK(size % 2 == 0);
        FUZZ_CHECK(u8[outlen] == '\0');
        FUZZ_CHECK(utf8_valid(u8, outlen));
        FUZZ_CHECK(utf8_length(u8, outlen) <= size / 2);
        free(u8);
    }

    char *c = fuzz_cstr(data, size);
    check_phone(c);
    char *t = str_trim_dup(c);
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(strlen(t) <= strlen(c));
    FUZZ_CHECK(strstr(c, t) != NULL);
    free(t);
    free(c);
    return 0;
}
