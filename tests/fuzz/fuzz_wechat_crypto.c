/* wechat_decrypt of a fuzzed Encrypt field with the TV-4 key
 * (shared/notes/wechat.md §3.9): base64, AES-CBC, PKCS#7, the length
 * prefix and receiveId trailer all come from the network once the
 * signature is forged or the key leaks.  Also: the fuzzed bytes as a
 * message round-trip through wechat_encrypt/wechat_decrypt, and the
 * signature helpers take fuzzed token/timestamp/nonce. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "channels/wechat/wechat_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AES_KEY "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
#define APPID "wx49f0ab532d5d035a"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char key[WECHAT_AES_KEY_LEN];
    char *msg = NULL;
    size_t msg_len = 0;

    FUZZ_CHECK(wechat_aes_key_decode(AES_KEY, key) == WXC_OK);
    char *b64 = fuzz_cstr(data, size);

    /* 1. Decrypt the input as a received Encrypt field. */
    for (int i = 0; i < 2; i++) {
        int rc = wechat_decrypt(key, b64, i ? "" : APPID, &msg, &msg_len);
        FUZZ_CHECK(wechat_crypto_strerror(rc) != NULL);
        if (rc == WXC_OK) {
            FUZZ_CHECK(msg != NULL && msg[msg_len] == '\0');
            free(msg);
        } else {
            FUZZ_CHECK(msg == NULL);
        }
    }
    /* The input as an EncodingAESKey. */
    wechat_aes_key_decode(b64, key);
    FUZZ_CHECK(wechat_aes_key_decode(AES_KEY, key) == WXC_OK);

    /* 2. Round trip of the raw bytes as a message. */
    static const unsigned char random16[16] = "1234567890123456";
    char *enc = NULL;
    FUZZ_CHECK(wechat_encrypt(key, (const char *)data, size, APPID, random16, &enc) == WXC_OK);
    FUZZ_CHECK(wechat_decrypt(key, enc, APPID, &msg, &msg_len) == WXC_OK);
    FUZZ_CHECK(msg_len == size && (size == 0 || memcmp(msg, data, size) == 0));
    free(msg);
    FUZZ_CHECK(wechat_decrypt(key, enc, "wx_other", &msg, &msg_len) == WXC_ERECEIVER);

    /* 3. Signatures over fuzzed strings: ours always verifies. */
    char sig[SHA1_HEX_LEN + 1];
    wechat_signature(b64, "1411525903", "461056294", sig);
    FUZZ_CHECK(wechat_check_signature(b64, "1411525903", "461056294", sig));
    FUZZ_CHECK(!wechat_check_signature(b64, "1411525903", "461056294", b64) ||
               strcmp(b64, sig) == 0);
    wechat_msg_signature("123456", "1411525903", "461056294", enc, sig);
    FUZZ_CHECK(wechat_check_msg_signature("123456", "1411525903", "461056294", enc, sig));
    wechat_check_msg_signature("123456", b64, b64, b64, b64);

    /* 4. Envelope with the fuzzed text as the nonce. */
    struct wechat_envelope env;
    if (wechat_envelope_build(key, "123456", APPID, "<xml/>", 6, "1411525903", b64,
                              random16, &env) == WXC_OK) {
        FUZZ_CHECK(wechat_check_msg_signature("123456", env.timestamp, env.nonce,
                                              env.encrypt, env.msg_signature));
        wechat_envelope_clear(&env);
    }
    free(enc);
    free(b64);
    return 0;
}
