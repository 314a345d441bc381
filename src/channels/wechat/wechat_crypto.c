/* WeChat signatures and safe-mode AES.  See wechat_crypto.h and
 * shared/notes/wechat.md §3.8 for the OpenSSL-specific traps (padding to
 * 32 done by hand, EVP_DecodeBlock not stripping '='). */
#include "channels/wechat/wechat_crypto.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define WXC_BLOCK 32          /* WeChat's PKCS#7 block, not AES's 16 */
#define WXC_HEADER_LEN 20     /* random(16) + uint32 length */
/* Far above any WeChat body (notes: cap 1 MiB); keeps every length an int
 * for EVP and every size_t sum far from overflow. */
#define WXC_MAX_B64 (16u * 1024 * 1024)

const char *wechat_crypto_strerror(int err)
{
    switch (err) {
    case WXC_OK: return "ok";
    case WXC_EARG: return "bad_argument";
    case WXC_EKEY: return "bad_aes_key";
    case WXC_EBASE64: return "bad_base64";
    case WXC_ELENGTH: return "bad_length";
    case WXC_EPADDING: return "bad_padding";
    case WXC_ERECEIVER: return "receive_id_mismatch";
    case WXC_ECRYPTO: return "crypto_failure";
    case WXC_ENOMEM: return "out_of_memory";
    }
    return "unknown";
}

/* ---- signatures ---------------------------------------------------------- */

/* sha1 over the bytewise-sorted concatenation of `parts`, streamed so no
 * buffer has to be sized for a large Encrypt value. */
static void sorted_sha1_hex(const char **parts, size_t n, char out[SHA1_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok;

    /* Insertion sort: n <= 4, and strcmp orders bytes as unsigned char,
     * which is what every SDK's string sort does for ASCII input. */
    for (size_t i = 1; i < n; i++) {
        const char *v = parts[i];
        size_t j = i;
        for (; j > 0 && strcmp(parts[j - 1], v) > 0; j--)
            parts[j] = parts[j - 1];
        parts[j] = v;
    }

    out[0] = '\0';
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return;
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return;   /* "" never matches: callers fail closed */
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[2 * mdlen] = '\0';
}

void wechat_signature(const char *token, const char *timestamp, const char *nonce,
                      char out[SHA1_HEX_LEN + 1])
{
    const char *parts[] = { token ? token : "", timestamp ? timestamp : "",
                            nonce ? nonce : "" };
    sorted_sha1_hex(parts, 3, out);
}

void wechat_msg_signature(const char *token, const char *timestamp, const char *nonce,
                          const char *encrypt, char out[SHA1_HEX_LEN + 1])
{
    const char *parts[] = { token ? token : "", timestamp ? timestamp : "",
                            nonce ? nonce : "", encrypt ? encrypt : "" };
    sorted_sha1_hex(parts, 4, out);
}

bool wechat_check_signature(const char *token, const char *timestamp,
                            const char *nonce, const char *signature)
{
    char expected[SHA1_HEX_LEN + 1];

    if (!token || !timestamp || !nonce || !signature)
        return false;
    wechat_signature(token, timestamp, nonce, expected);
    return expected[0] != '\0' && secure_str_equal(expected, signature);
}

bool wechat_check_msg_signature(const char *token, const char *timestamp,
                                const char *nonce, const char *encrypt,
                                const char *msg_signature)
{
    char expected[SHA1_HEX_LEN + 1];

    if (!token || !timestamp || !nonce || !encrypt || !msg_signature)
        return false;
    wechat_msg_signature(token, timestamp, nonce, encrypt, expected);
    return expected[0] != '\0' && secure_str_equal(expected, msg_signature);
}

/* ---- base64 -------------------------------------------------------------- */

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict standard base64: length a multiple of 4, alphabet only, at most
 * two '=' and only at the end.  (EVP_DecodeBlock alone would skip
 * surrounding whitespace and keep the '=' bytes in its count.)  On
 * success *out is malloc'd (caller frees). */
static int b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
    size_t len = strlen(in);
    size_t pad = 0;

    *out = NULL;
    if (len == 0 || len % 4 != 0 || len > WXC_MAX_B64)
        return WXC_EBASE64;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++) {
        if (!b64_char((unsigned char)in[i]))
            return WXC_EBASE64;
    }
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return WXC_ENOMEM;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3) {
        free(buf);
        return WXC_EBASE64;
    }
    *out = buf;
    *outlen = (size_t)n - pad;
    return WXC_OK;
}

/* On success *out is a malloc'd NUL-terminated string (caller frees). */
static int b64_encode(const unsigned char *in, size_t len, char **out)
{
    *out = NULL;
    if (len > WXC_MAX_B64)
        return WXC_EARG;
    char *buf = malloc((len + 2) / 3 * 4 + 1);
    if (!buf)
        return WXC_ENOMEM;
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return WXC_OK;
}

int wechat_aes_key_decode(const char *encoding_aes_key,
                          unsigned char key[WECHAT_AES_KEY_LEN])
{
    char padded[WECHAT_ENCODING_AES_KEY_LEN + 2];
    unsigned char raw[33];

    if (!encoding_aes_key || !key ||
        strlen(encoding_aes_key) != WECHAT_ENCODING_AES_KEY_LEN)
        return WXC_EKEY;
    for (size_t i = 0; i < WECHAT_ENCODING_AES_KEY_LEN; i++) {
        unsigned char c = (unsigned char)encoding_aes_key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return WXC_EKEY;
    }
    memcpy(padded, encoding_aes_key, WECHAT_ENCODING_AES_KEY_LEN);
    padded[WECHAT_ENCODING_AES_KEY_LEN] = '=';
    padded[WECHAT_ENCODING_AES_KEY_LEN + 1] = '\0';
    /* 44 chars decode to 33 bytes, the last one made of the '=' and the
     * spare bits of char 43 (often non-zero: tolerated, notes §3.2). */
    if (EVP_DecodeBlock(raw, (const unsigned char *)padded, 44) != 33)
        return WXC_EKEY;
    memcpy(key, raw, WECHAT_AES_KEY_LEN);
    OPENSSL_cleanse(raw, sizeof(raw));
    return WXC_OK;
}

/* ---- AES-256-CBC, no cipher padding ---------------------------------------- */

/* `len` is a multiple of 16; `out` has room for `len` bytes. */
static int aes_cbc(const unsigned char key[WECHAT_AES_KEY_LEN], int encrypt,
                   const unsigned char *in, size_t len, unsigned char *out)
{
    int n1 = 0, n2 = 0;
    int rc = WXC_ECRYPTO;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

    if (!ctx)
        return WXC_ENOMEM;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key, encrypt) &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) &&
        EVP_CipherUpdate(ctx, out, &n1, in, (int)len) &&
        EVP_CipherFinal_ex(ctx, out + n1, &n2) && (size_t)(n1 + n2) == len)
        rc = WXC_OK;
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static uint32_t read_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int wechat_decrypt(const unsigned char key[WECHAT_AES_KEY_LEN],
                   const char *encrypt_b64, const char *receive_id,
                   char **msg, size_t *msg_len)
{
    unsigned char *ct = NULL, *pt = NULL;
    size_t ctlen = 0;
    int rc;

    if (msg)
        *msg = NULL;
    if (msg_len)
        *msg_len = 0;
    if (!key || !encrypt_b64 || !receive_id || !msg || !msg_len)
        return WXC_EARG;

    rc = b64_decode(encrypt_b64, &ct, &ctlen);
    if (rc != WXC_OK)
        return rc;
    /* The smallest valid plaintext (20-byte header, empty msg and id)
     * pads to one 32-byte block. */
    if (ctlen < WXC_BLOCK || ctlen % 16 != 0) {
        rc = WXC_ELENGTH;
        goto done;
    }
    pt = malloc(ctlen);
    if (!pt) {
        rc = WXC_ENOMEM;
        goto done;
    }
    rc = aes_cbc(key, 0, ct, ctlen, pt);
    if (rc != WXC_OK)
        goto done;

    /* Pad values up to 32 are legal here (TV-5 has 24), which is why the
     * cipher's own 16-byte PKCS#7 is off. */
    size_t pad = pt[ctlen - 1];
    if (pad < 1 || pad > WXC_BLOCK) {
        rc = WXC_EPADDING;
        goto done;
    }
    for (size_t i = ctlen - pad; i < ctlen; i++) {
        if (pt[i] != pad) {
            rc = WXC_EPADDING;
            goto done;
        }
    }
    size_t plain = ctlen - pad;
    if (plain < WXC_HEADER_LEN) {
        rc = WXC_ELENGTH;
        goto done;
    }
    size_t len = read_be32(pt + 16);
    if (len > plain - WXC_HEADER_LEN) {
        rc = WXC_ELENGTH;
        goto done;
    }
    const unsigned char *id = pt + WXC_HEADER_LEN + len;
    size_t idlen = plain - WXC_HEADER_LEN - len;
    if (!secure_mem_equal(id, idlen, receive_id, strlen(receive_id))) {
        rc = WXC_ERECEIVER;
        goto done;
    }
    char *out = malloc(len + 1);
    if (!out) {
        rc = WXC_ENOMEM;
        goto done;
    }
    memcpy(out, pt + WXC_HEADER_LEN, len);
    out[len] = '\0';
    *msg = out;
    *msg_len = len;
    rc = WXC_OK;
done:
    if (pt) {
        OPENSSL_cleanse(pt, ctlen);   /* residents' messages: do not leave in freed heap */
        free(pt);
    }
    free(ct);
    return rc;
}

int wechat_encrypt(const unsigned char key[WECHAT_AES_KEY_LEN],
                   const char *msg, size_t msg_len, const char *receive_id,
                   const unsigned char *random16, char **out_b64)
{
    int rc;

    if (out_b64)
        *out_b64 = NULL;
    if (!key || (!msg && msg_len) || !receive_id || !out_b64)
        return WXC_EARG;
    size_t idlen = strlen(receive_id);
    /* WXC_MAX_B64 bounds both, so no sum below can overflow. */
    if (msg_len > WXC_MAX_B64 / 2 || idlen > WXC_MAX_B64 / 2)
        return WXC_EARG;

    size_t body = WXC_HEADER_LEN + msg_len + idlen;
    size_t pad = WXC_BLOCK - body % WXC_BLOCK;   /* 1..32: always pad once */
    size_t total = body + pad;
    unsigned char *pt = malloc(total);
    unsigned char *ct = malloc(total);
    if (!pt || !ct) {
        rc = WXC_ENOMEM;
        goto done;
    }
    if (random16) {
        memcpy(pt, random16, WECHAT_RANDOM_LEN);
    } else if (RAND_bytes(pt, WECHAT_RANDOM_LEN) != 1) {
        rc = WXC_ECRYPTO;
        goto done;
    }
    pt[16] = (unsigned char)(msg_len >> 24);
    pt[17] = (unsigned char)(msg_len >> 16);
    pt[18] = (unsigned char)(msg_len >> 8);
    pt[19] = (unsigned char)msg_len;
    if (msg_len)
        memcpy(pt + WXC_HEADER_LEN, msg, msg_len);
    memcpy(pt + WXC_HEADER_LEN + msg_len, receive_id, idlen);
    memset(pt + body, (int)pad, pad);

    rc = aes_cbc(key, 1, pt, total, ct);
    if (rc == WXC_OK)
        rc = b64_encode(ct, total, out_b64);
done:
    if (pt) {
        OPENSSL_cleanse(pt, total);
        free(pt);
    }
    free(ct);
    return rc;
}

/* ---- encrypted reply envelope ---------------------------------------------- */

void wechat_envelope_clear(struct wechat_envelope *env)
{
    if (!env)
        return;
    free(env->encrypt);
    free(env->timestamp);
    free(env->nonce);
    memset(env, 0, sizeof(*env));
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

int wechat_envelope_build(const unsigned char key[WECHAT_AES_KEY_LEN],
                          const char *token, const char *receive_id,
                          const char *reply_xml, size_t reply_len,
                          const char *timestamp, const char *nonce,
                          const unsigned char *random16,
                          struct wechat_envelope *env)
{
    int rc;

    if (!env)
        return WXC_EARG;
    memset(env, 0, sizeof(*env));
    /* A millisecond TimeStamp is a known cause of rejected replies
     * (notes §3.6), so only plain seconds of sane length pass. */
    if (!token || !timestamp || !nonce || !*nonce || !all_digits(timestamp) ||
        strlen(timestamp) > 11)
        return WXC_EARG;
    rc = wechat_encrypt(key, reply_xml, reply_len, receive_id, random16, &env->encrypt);
    if (rc != WXC_OK)
        return rc;
    env->timestamp = strdup(timestamp);
    env->nonce = strdup(nonce);
    if (!env->timestamp || !env->nonce) {
        wechat_envelope_clear(env);
        return WXC_ENOMEM;
    }
    wechat_msg_signature(token, timestamp, nonce, env->encrypt, env->msg_signature);
    if (!env->msg_signature[0]) {
        wechat_envelope_clear(env);
        return WXC_ECRYPTO;
    }
    return WXC_OK;
}
