/* Text helpers fed by every channel: UTF-8 validation, Kannel's UTF-16BE
 * text, phone numbers from gateways and rosters, SMS segment arithmetic,
 * masking and trimming.  Checks the promises of util.h, not just memory
 * safety: converted UTF-16 is valid UTF-8, a normalised phone is E.164
 * and normalising it again is a fixed point, masks never show the whole
 * number and always fit. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/util.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

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
