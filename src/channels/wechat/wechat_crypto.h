#ifndef MASHANG_WECHAT_CRYPTO_H
#define MASHANG_WECHAT_CRYPTO_H
/* WeChat Official Account / WeCom message signatures and safe-mode
 * (消息加解密) encryption.  Pure functions over OpenSSL libcrypto: no I/O,
 * no global state.  Facts and test vectors: shared/notes/wechat.md §1-3, §6.
 *
 * Safe-mode plaintext layout, padded with PKCS#7 to a multiple of 32:
 *   random(16) || uint32_be(len(msg)) || msg || receiveId
 * encrypted with AES-256-CBC, key = base64(EncodingAESKey + "="),
 * IV = key[0..15], no cipher-level padding, then base64 encoded.
 * receiveId is the AppID for an OA, the CorpID for a WeCom app. */
#include <stdbool.h>
#include <stddef.h>

#include "mashang/signature.h"

#define WECHAT_AES_KEY_LEN 32
#define WECHAT_ENCODING_AES_KEY_LEN 43
#define WECHAT_RANDOM_LEN 16

enum wechat_crypto_err {
    WXC_OK = 0,
    WXC_EARG,          /* NULL or oversized argument */
    WXC_EKEY,          /* EncodingAESKey is not 43 chars of [A-Za-z0-9] */
    WXC_EBASE64,       /* Encrypt is not valid base64 */
    WXC_ELENGTH,       /* ciphertext not a multiple of 16 / too short, or msg_len overruns */
    WXC_EPADDING,      /* PKCS#7 pad byte outside 1..32 or pad bytes inconsistent */
    WXC_ERECEIVER,     /* trailing receiveId differs from the expected AppID/CorpID */
    WXC_ECRYPTO,       /* OpenSSL failure (cipher, RNG) */
    WXC_ENOMEM
};

/* Short, stable name for logs ("bad_base64", ...). */
const char *wechat_crypto_strerror(int err);

/* signature = hex(sha1(sort(token, timestamp, nonce) joined)), bytewise
 * sort.  Used by the OA on every request (GET verification and POST). */
void wechat_signature(const char *token, const char *timestamp, const char *nonce,
                      char out[SHA1_HEX_LEN + 1]);

/* msg_signature = hex(sha1(sort(token, timestamp, nonce, encrypt) joined)),
 * `encrypt` being the base64 text exactly as received. */
void wechat_msg_signature(const char *token, const char *timestamp, const char *nonce,
                          const char *encrypt, char out[SHA1_HEX_LEN + 1]);

/* Constant-time checks of a received signature (lowercase hex, as WeChat
 * sends).  Any NULL argument -> false. */
bool wechat_check_signature(const char *token, const char *timestamp,
                            const char *nonce, const char *signature);
bool wechat_check_msg_signature(const char *token, const char *timestamp,
                                const char *nonce, const char *encrypt,
                                const char *msg_signature);

/* Decodes the 43-character EncodingAESKey into the 32-byte AES key.
 * Returns WXC_OK or WXC_EKEY. */
int wechat_aes_key_decode(const char *encoding_aes_key,
                          unsigned char key[WECHAT_AES_KEY_LEN]);

/* Decrypts a base64 `Encrypt` field (or a WeCom echostr).  Check the
 * msg_signature FIRST: it is the only authentication, and decrypting
 * unauthenticated input would expose a padding oracle.
 * `receive_id` is the expected AppID/CorpID ("" for WeCom robots) and
 * must match the trailer exactly.
 * On WXC_OK, *msg is a malloc'd NUL-terminated copy of the message (the
 * caller frees it) and *msg_len its byte length (it may contain NULs, so
 * use the length).  On error *msg is NULL. */
int wechat_decrypt(const unsigned char key[WECHAT_AES_KEY_LEN],
                   const char *encrypt_b64, const char *receive_id,
                   char **msg, size_t *msg_len);

/* Encrypts `msg` for `receive_id`.  `random16` is the 16-byte random
 * prefix; pass NULL to draw it from RAND_bytes (tests inject fixed bytes).
 * On WXC_OK *out_b64 is a malloc'd NUL-terminated base64 string (caller
 * frees); on error it is NULL. */
int wechat_encrypt(const unsigned char key[WECHAT_AES_KEY_LEN],
                   const char *msg, size_t msg_len, const char *receive_id,
                   const unsigned char *random16, char **out_b64);

/* The four values of an encrypted passive reply (notes §3.6).  Owned by
 * the struct: release with wechat_envelope_clear(). */
struct wechat_envelope {
    char *encrypt;                        /* base64 ciphertext */
    char msg_signature[SHA1_HEX_LEN + 1]; /* sha1(sort(token, timestamp, nonce, encrypt)) */
    char *timestamp;                      /* decimal Unix seconds */
    char *nonce;
};

/* Encrypts `reply_xml` and signs it.  Pass the request's `timestamp` and
 * `nonce` back (WeChat's own advice); `timestamp` must be decimal digits
 * (seconds, never ms) and `nonce` non-empty.  `random16` as for
 * wechat_encrypt.  On error `env` is left zeroed. */
int wechat_envelope_build(const unsigned char key[WECHAT_AES_KEY_LEN],
                          const char *token, const char *receive_id,
                          const char *reply_xml, size_t reply_len,
                          const char *timestamp, const char *nonce,
                          const unsigned char *random16,
                          struct wechat_envelope *env);
void wechat_envelope_clear(struct wechat_envelope *env);

#endif
