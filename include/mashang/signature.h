#ifndef MASHANG_SIGNATURE_H
#define MASHANG_SIGNATURE_H
/* Digests and webhook signatures (pure functions over OpenSSL libcrypto,
 * no I/O, no global state).
 *
 * Signed webhooks (spec §3, `POST /chat/{channel}`, `POST /sms/http`, and
 * outbound chat POSTs) carry two headers:
 *   X-Mashang-Timestamp: <unix seconds, decimal>
 *   X-Mashang-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 * The timestamp string is signed exactly as sent. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA1_HEX_LEN 40
#define SHA256_HEX_LEN 64
#define WEBHOOK_SIG_PREFIX "sha256="
/* "sha256=" + 64 hex digits + NUL */
#define WEBHOOK_SIG_HEADER_SIZE (7 + SHA256_HEX_LEN + 1)
/* Accepted clock skew between the signer's timestamp and our `now`. */
#define WEBHOOK_MAX_SKEW_S 300

/* Writes 40 lowercase hex digits and a NUL into `out`. */
void sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1]);

/* Writes 64 lowercase hex digits and a NUL into `out`.  Returns 0, or -1
 * if OpenSSL failed (then `out` is the empty string). */
int hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                    char out[SHA256_HEX_LEN + 1]);

/* Constant-time equality of two byte strings.  The time depends only on
 * the lengths (unequal lengths are simply unequal), never on where the
 * contents first differ.  NULL never equals anything. */
bool secure_mem_equal(const void *a, size_t alen, const void *b, size_t blen);
bool secure_str_equal(const char *a, const char *b);

enum webhook_sig_result {
    WEBHOOK_SIG_OK = 0,
    WEBHOOK_SIG_MALFORMED,   /* header missing, not "sha256=<64 hex>", timestamp not digits */
    WEBHOOK_SIG_BAD,         /* well-formed but the HMAC does not match */
    WEBHOOK_SIG_STALE        /* authentic, but timestamp is more than 300 s from now */
};

/* Checks a signed webhook.  `sig_header` and `ts_header` are the header
 * values (NULL when absent); the hex may be upper or lower case.  The
 * HMAC is checked before the clock, so STALE means "genuine but old"
 * (a replay or a skewed clock) and BAD never leaks timing about the
 * secret.  Map OK -> accept, anything else -> 403. */
enum webhook_sig_result webhook_signature_check(const char *secret,
                                                const char *sig_header,
                                                const char *ts_header,
                                                const void *body, size_t body_len,
                                                int64_t now);

/* Produces the X-Mashang-Signature value ("sha256=<hex>") for an outbound
 * POST signed at `timestamp`; the caller sends the same `timestamp` in
 * decimal as X-Mashang-Timestamp.  Returns 0, or -1 if OpenSSL failed or
 * `outsz` < WEBHOOK_SIG_HEADER_SIZE. */
int webhook_signature_header(const char *secret, int64_t timestamp,
                             const void *body, size_t body_len,
                             char *out, size_t outsz);

/* Short, stable name for logs and metrics ("ok", "malformed", ...). */
const char *webhook_sig_result_str(enum webhook_sig_result r);

#endif
