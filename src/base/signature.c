/* Digests, constant-time comparison and the X-Mashang-Signature webhook
 * scheme.  See signature.h. */
#include "mashang/signature.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define SIG_PREFIX WEBHOOK_SIG_PREFIX
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)
/* 18 digits cannot overflow int64 while parsing; longer is no Unix time. */
#define TS_MAX_DIGITS 18

struct byte_span {
    const void *data;
    size_t len;
};

static void to_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

void sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) {
        /* Cannot happen with a working libcrypto; an empty string never
         * matches a 40-digit signature, so callers fail closed. */
        out[0] = '\0';
        return;
    }
    to_hex(md, mdlen, out);
}

/* HMAC-SHA256 over the concatenation of `parts`, streamed so a large body
 * is never copied just to prepend the timestamp. */
static int hmac_sha256_parts(const void *key, size_t keylen,
                             const struct byte_span *parts, size_t nparts,
                             char out[SHA256_HEX_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int rc = -1;
    /* EVP_MAC_init rejects a NULL key even when it is empty. */
    static const unsigned char empty_key[1] = { 0 };
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()
    };

    out[0] = '\0';
    EVP_MAC *mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac_alg ? EVP_MAC_CTX_new(mac_alg) : NULL;
    if (!ctx)
        goto done;
    if (!EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, params))
        goto done;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len && !EVP_MAC_update(ctx, parts[i].data, parts[i].len))
            goto done;
    }
    if (!EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) || maclen != 32)
        goto done;
    to_hex(mac, maclen, out);
    rc = 0;
done:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac_alg);
    return rc;
}

int hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                    char out[SHA256_HEX_LEN + 1])
{
    struct byte_span part = { data, len };
    return hmac_sha256_parts(key, keylen, &part, 1, out);
}

bool secure_mem_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (!a || !b || alen != blen)
        return false;
    return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

bool secure_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    return secure_mem_equal(a, strlen(a), b, strlen(b));
}

/* Parses a plain decimal Unix time: digits only, no sign or spaces, so
 * the string that was signed is exactly the number we judge. */
static bool parse_timestamp(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;

    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= TS_MAX_DIGITS)
            return false;
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0)
        return false;
    *out = v;
    return true;
}

enum webhook_sig_result webhook_signature_check(const char *secret,
                                                const char *sig_header,
                                                const char *ts_header,
                                                const void *body, size_t body_len,
                                                int64_t now)
{
    char given[SHA256_HEX_LEN + 1];
    char expected[SHA256_HEX_LEN + 1];
    int64_t ts;

    if (!secret || !sig_header || !ts_header || (!body && body_len))
        return WEBHOOK_SIG_MALFORMED;
    if (strncmp(sig_header, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
        return WEBHOOK_SIG_MALFORMED;
    const char *hex = sig_header + SIG_PREFIX_LEN;
    if (strlen(hex) != SHA256_HEX_LEN)
        return WEBHOOK_SIG_MALFORMED;
    for (size_t i = 0; i < SHA256_HEX_LEN; i++) {
        char c = hex[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return WEBHOOK_SIG_MALFORMED;
        given[i] = c;
    }
    given[SHA256_HEX_LEN] = '\0';
    if (!parse_timestamp(ts_header, &ts))
        return WEBHOOK_SIG_MALFORMED;

    struct byte_span parts[] = {
        { ts_header, strlen(ts_header) }, { ".", 1 }, { body, body_len }
    };
    if (hmac_sha256_parts(secret, strlen(secret), parts, 3, expected) != 0)
        return WEBHOOK_SIG_BAD;
    if (!secure_mem_equal(given, SHA256_HEX_LEN, expected, strlen(expected)))
        return WEBHOOK_SIG_BAD;

    int64_t skew = now > ts ? now - ts : ts - now;
    if (skew > WEBHOOK_MAX_SKEW_S)
        return WEBHOOK_SIG_STALE;
    return WEBHOOK_SIG_OK;
}

int webhook_signature_header(const char *secret, int64_t timestamp,
                             const void *body, size_t body_len,
                             char *out, size_t outsz)
{
    char ts[24];
    char hex[SHA256_HEX_LEN + 1];

    if (!secret || !out || outsz < WEBHOOK_SIG_HEADER_SIZE || timestamp < 0 ||
        (!body && body_len))
        return -1;
    snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    struct byte_span parts[] = { { ts, strlen(ts) }, { ".", 1 }, { body, body_len } };
    if (hmac_sha256_parts(secret, strlen(secret), parts, 3, hex) != 0)
        return -1;
    snprintf(out, outsz, SIG_PREFIX "%s", hex);
    return 0;
}

const char *webhook_sig_result_str(enum webhook_sig_result r)
{
    switch (r) {
    case WEBHOOK_SIG_OK: return "ok";
    case WEBHOOK_SIG_MALFORMED: return "malformed";
    case WEBHOOK_SIG_BAD: return "bad_signature";
    case WEBHOOK_SIG_STALE: return "stale_timestamp";
    }
    return "unknown";
}
