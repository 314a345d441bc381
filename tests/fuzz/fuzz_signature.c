/* webhook_signature_check on fuzzed headers and body.  Input:
 * "signature\0timestamp\0body".  Besides memory safety: a header we
 * produced ourselves for the same body and timestamp must verify. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mashang/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"
#define NOW INT64_C(1714036504)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest, *body;
    size_t restlen, bodylen;
    char *sig = fuzz_split(data, size, &rest, &restlen);
    char *ts = fuzz_split(rest, restlen, &body, &bodylen);

    enum webhook_sig_result r = webhook_signature_check(SECRET, sig, ts, body, bodylen, NOW);
    FUZZ_CHECK(r <= WEBHOOK_SIG_STALE);
    FUZZ_CHECK(webhook_sig_result_str(r) != NULL);
    webhook_signature_check(SECRET, NULL, ts, body, bodylen, NOW);
    webhook_signature_check(SECRET, sig, NULL, body, bodylen, NOW);
    webhook_signature_check("", sig, ts, body, bodylen, NOW);

    /* Round trip with our own signer. */
    char header[WEBHOOK_SIG_HEADER_SIZE], tsbuf[24];
    FUZZ_CHECK(webhook_signature_header(SECRET, NOW, body, bodylen, header, sizeof(header)) == 0);
    snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, NOW);
    FUZZ_CHECK(webhook_signature_check(SECRET, header, tsbuf, body, bodylen, NOW) == WEBHOOK_SIG_OK);
    /* A fuzzed header only verifies if it is exactly ours (any hex case). */
    if (r == WEBHOOK_SIG_OK)
        FUZZ_CHECK(strcmp(ts, tsbuf) == 0 ? strcasecmp(sig, header) == 0 : 1);

    char a[SHA1_HEX_LEN + 1], h[SHA256_HEX_LEN + 1];
    sha1_hex(body, bodylen, a);
    FUZZ_CHECK(strlen(a) == SHA1_HEX_LEN);
    FUZZ_CHECK(hmac_sha256_hex(sig, strlen(sig), body, bodylen, h) == 0);
    FUZZ_CHECK(secure_mem_equal(body, bodylen, body, bodylen));
    FUZZ_CHECK(secure_str_equal(sig, sig));
    free(ts);
    free(sig);
    return 0;
}
