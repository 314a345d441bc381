/* sms_fit: shortens outbound texts (which quote residents' own words) to
 * the channel's segment limit.  Input: one byte of max_segments (0..7),
 * then the text.  Checks the promise: the result fits, stays valid UTF-8,
 * and still names the case id it was asked to keep. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "channels/kannel/sms_kannel.h"
#include "base/util.h"
#include "base/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int max_segments = data[0] & 7;
    /* Outbound texts are valid UTF-8 (they quote residents' Chinese). */
    size_t len;
    char *text = fuzz_text(data + 1, size - 1, &len);
    if (!text)
        return 0;
    len = strlen(text);
    const char *keep = (data[0] & 8) ? "M1001" : NULL;
    char *out = sms_fit(text, max_segments, keep);
    FUZZ_CHECK(out != NULL);
    size_t olen = strlen(out);
    FUZZ_CHECK(utf8_valid(out, olen));
    if (max_segments > 0) {
        int seg = sms_segments(out, olen);
        if (seg > max_segments) {
            fprintf(stderr, "sms_fit(max %d) gave %d segments\n", max_segments, seg);
            abort();
        }
        if (keep && strstr(text, keep))
            FUZZ_CHECK(strstr(out, keep) != NULL);
    } else {
        FUZZ_CHECK(strcmp(out, text) == 0);
    }
    free(out);
    free(text);
    return 0;
}
