/* wechat_crypto against the verified vectors of shared/notes/wechat.md
 * (TV-1..TV-5), in both directions where the vector allows, plus
 * hand-built malformed plaintexts that must hit each error code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "channels/wechat/wechat_crypto.h"

/* ---- vectors ------------------------------------------------------------- */

#define TV4_KEY "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
#define TV4_TOKEN "123456"
#define TV4_ID "wx49f0ab532d5d035a"
#define TV4_ECHOSTR "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
#define TV4_INBOUND \
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
#define TV4_REPLY_XML \
    "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n" \
    "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n" \
    "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n" \
    "<CreateTime>1411525903</CreateTime>\n</xml>"
#define TV4_REPLY_ENCRYPT \
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"

#define TV5_KEY "CyjBvGm4tJNmcThkeL5Wajzom4jKlBygKtpTkYeqsnE"
#define TV5_TOKEN "pcoLldqMu2WQQtYBeDX5HiXPsBFlTnDM"
#define TV5_ID "wwedab3d5fc43636d8"
#define TV5_ENCRYPT \
    "ZBY4h9SD1Y/v+ighMGU4yHSVWyMuf2UdQQfFuB8S/SY5il9MynR1rtKIJDG871vOqaCs0FVje6bX0VyhvL02PG7FXjRR+rAyiwVv7T7nBGgamkPeOv4n/jXgFQnY6NEt3Zym09t4aI+21pDcE6uN6JzcC+hxw5sBfVyza3NHyuLiyhvalsFbasA4HNcnK+4/3eZLMo+e6yvHUsY4WhmZWW5u5mHcDZm1jtI2fUtzod6Sx7PrCOhm+zUO1I98OD0EmICxHHMjMkGmSFuGhG8vXRKaRavzvV/fkscZK1HjW+XJOV0c9wYDZT+/LTjDS/yx5KkM5lIksiw57DsCro9gvmE1WdvB3bw3m+5ie2x1ZRSuh6ik1rbMTiXgJXt0MnbV8VsyPe1zhkbug1cwdhT9zcOTieb0oyiIl3wSAEkNNBNBaWB+78V1hM/ngMoZgKaaasJUCGtPH/rN+YnxGicDOg=="
#define TV5_MSG \
    "<xml><ToUserName><![CDATA[wwedab3d5fc43636d8]]></ToUserName><FromUserName><![CDATA[WangChaoYi]]></FromUserName>" \
    "<CreateTime>1623301925</CreateTime><MsgType><![CDATA[text]]></MsgType>" \
    "<Content><![CDATA[\xe5\xaf\x86\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95]]></Content>" \
    "<MsgId>6972028683187026694</MsgId><AgentID>1000005</AgentID></xml>"

/* ---- test-side helpers (independent of the code under test) ------------- */

static void key_of(const char *eak, unsigned char key[WECHAT_AES_KEY_LEN])
{
    assert_int_equal(wechat_aes_key_decode(eak, key), WXC_OK);
}

/* Raw AES-256-CBC (IV = key[0..15], no padding) of an arbitrary, already
 * padded plaintext, base64 encoded: lets tests forge malformed layouts. */
static char *forge(const unsigned char key[32], const unsigned char *pt, size_t len)
{
    unsigned char ct[512];
    int n1 = 0, n2 = 0;
    assert_true(len % 16 == 0 && len <= sizeof(ct));
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_non_null(ctx);
    assert_true(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key));
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_true(EVP_EncryptUpdate(ctx, ct, &n1, pt, (int)len));
    assert_true(EVP_EncryptFinal_ex(ctx, ct + n1, &n2));
    EVP_CIPHER_CTX_free(ctx);
    char *b64 = malloc(len / 3 * 4 + 8);
    assert_non_null(b64);
    EVP_EncodeBlock((unsigned char *)b64, ct, n1 + n2);
    return b64;
}

/* The 16-byte random prefix of a vector = AES^-1(C0) xor IV. */
static void recover_prefix(const unsigned char key[32], const char *b64, unsigned char out[16])
{
    unsigned char ct[48], pt[32];
    int n = 0;
    assert_true(EVP_DecodeBlock(ct, (const unsigned char *)b64, 44) >= 32);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_true(EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key));
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_true(EVP_DecryptUpdate(ctx, pt, &n, ct, 32));
    EVP_CIPHER_CTX_free(ctx);
    memcpy(out, pt, 16);
}

/* Builds random(16)||be32(len)||msg||id, then `pad` bytes of `padbyte`. */
static size_t layout(unsigned char *buf, uint32_t declared_len, const char *msg,
                     const char *id, size_t pad, unsigned char padbyte)
{
    size_t ml = strlen(msg), il = strlen(id), n = 0;
    memset(buf, 'r', 16);
    n = 16;
    buf[n++] = (unsigned char)(declared_len >> 24);
    buf[n++] = (unsigned char)(declared_len >> 16);
    buf[n++] = (unsigned char)(declared_len >> 8);
    buf[n++] = (unsigned char)declared_len;
    memcpy(buf + n, msg, ml);
    n += ml;
    memcpy(buf + n, id, il);
    n += il;
    memset(buf + n, padbyte, pad);
    return n + pad;
}

static int decrypt_forged(const unsigned char *pt, size_t len, const char *id)
{
    unsigned char key[32];
    char *msg = (char *)"sentinel";
    size_t mlen = 99;
    key_of(TV4_KEY, key);
    char *b64 = forge(key, pt, len);
    int rc = wechat_decrypt(key, b64, id, &msg, &mlen);
    if (rc != WXC_OK) {
        assert_null(msg);
        assert_int_equal(mlen, 0);
    }
    free(msg);
    free(b64);
    return rc;
}

/* ---- signatures ---------------------------------------------------------- */

static void test_tv1_url_verification(void **state)
{
    (void)state;
    char sig[41];
    wechat_signature("AAAAA", "1714036504", "1514711492", sig);
    assert_string_equal(sig, "f464b24fc39322e44b38aa78f5edd27bd1441696");
    assert_true(wechat_check_signature("AAAAA", "1714036504", "1514711492",
                                       "f464b24fc39322e44b38aa78f5edd27bd1441696"));
    /* One digit off, wrong token, swapped inputs only matter via sort. */
    assert_false(wechat_check_signature("AAAAA", "1714036504", "1514711492",
                                        "f464b24fc39322e44b38aa78f5edd27bd1441697"));
    assert_false(wechat_check_signature("AAAAB", "1714036504", "1514711492",
                                        "f464b24fc39322e44b38aa78f5edd27bd1441696"));
    assert_false(wechat_check_signature("AAAAA", "1714036504", "1514711492",
                                        "F464B24FC39322E44B38AA78F5EDD27BD1441696"));
    assert_false(wechat_check_signature("AAAAA", "1714036504", "1514711492", ""));
    assert_false(wechat_check_signature("AAAAA", "1714036504", "1514711492",
                                        "f464b24fc39322e44b38aa78f5edd27bd144169"));
    assert_false(wechat_check_signature("AAAAA", NULL, "1514711492",
                                        "f464b24fc39322e44b38aa78f5edd27bd1441696"));
    assert_false(wechat_check_signature("AAAAA", "1714036504", "1514711492", NULL));
}

static void test_tv2_plain_post_signature(void **state)
{
    (void)state;
    char sig[41];
    wechat_signature("AAAAA", "1714037059", "486452656", sig);
    assert_string_equal(sig, "899cf89e464efb63f54ddac96b0a0a235f53aa78");
    /* The order of the arguments must not matter: WeChat sorts them. */
    wechat_signature("486452656", "AAAAA", "1714037059", sig);
    assert_string_equal(sig, "899cf89e464efb63f54ddac96b0a0a235f53aa78");
}

static void test_tv3_msg_signature(void **state)
{
    (void)state;
    char sig[41];
    wechat_msg_signature("RMNlACHlV5ThzfRlVS4D4", "timestamp", "nonce", "encrypt", sig);
    assert_string_equal(sig, "8edac0945683c119ee71c9f6256d76c48aa08a96");
    assert_true(wechat_check_msg_signature("RMNlACHlV5ThzfRlVS4D4", "timestamp", "nonce",
                                           "encrypt", "8edac0945683c119ee71c9f6256d76c48aa08a96"));
    assert_false(wechat_check_msg_signature("RMNlACHlV5ThzfRlVS4D4", "timestamp", "nonce",
                                            "encrypT", "8edac0945683c119ee71c9f6256d76c48aa08a96"));
}

/* Pitfall 1: the 3-value signature must not validate a safe-mode POST. */
static void test_signature_is_not_msg_signature(void **state)
{
    (void)state;
    char sig[41];
    wechat_signature(TV4_TOKEN, "1411525903", "461056294", sig);
    assert_string_not_equal(sig, "74d92dfeb87ba7c714f89d98870ae5eb62dff26d");
    assert_true(wechat_check_msg_signature(TV4_TOKEN, "1411525903", "461056294", TV4_INBOUND,
                                           "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"));
    assert_false(wechat_check_signature(TV4_TOKEN, "1411525903", "461056294",
                                        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"));
}

/* ---- key ----------------------------------------------------------------- */

static void test_aes_key_decode(void **state)
{
    (void)state;
    unsigned char key[32], again[32];
    /* Non-canonical last char (spare bits set) must be accepted. */
    assert_int_equal(wechat_aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", key), WXC_OK);
    assert_int_equal(key[0], 0x69);   /* 'abc' -> 0x69 0xb7 0x1d */
    assert_int_equal(key[1], 0xb7);
    assert_int_equal(key[2], 0x1d);
    key_of(TV4_KEY, key);
    key_of(TV4_KEY, again);
    assert_memory_equal(key, again, 32);

    assert_int_equal(wechat_aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", key), WXC_EKEY);
    assert_int_equal(wechat_aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", key), WXC_EKEY);
    assert_int_equal(wechat_aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=", key), WXC_EKEY);
    assert_int_equal(wechat_aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDE+/", key), WXC_EKEY);
    assert_int_equal(wechat_aes_key_decode("", key), WXC_EKEY);
    assert_int_equal(wechat_aes_key_decode(NULL, key), WXC_EKEY);
}

/* ---- TV-4 ------------------------------------------------------------------ */

static void test_tv4_echostr_both_directions(void **state)
{
    (void)state;
    unsigned char key[32];
    char *msg = NULL, *b64 = NULL;
    size_t len = 0;
    key_of(TV4_KEY, key);

    assert_true(wechat_check_msg_signature(TV4_TOKEN, "1411443780", "437374425", TV4_ECHOSTR,
                                           "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"));
    assert_int_equal(wechat_decrypt(key, TV4_ECHOSTR, TV4_ID, &msg, &len), WXC_OK);
    assert_string_equal(msg, "5927782489442352469");
    assert_int_equal(len, 19);
    free(msg);

    assert_int_equal(wechat_encrypt(key, "5927782489442352469", 19, TV4_ID,
                                    (const unsigned char *)"2304fc2fe146f1f8", &b64), WXC_OK);
    assert_string_equal(b64, TV4_ECHOSTR);
    free(b64);

    /* The echo is for this AppID only. */
    assert_int_equal(wechat_decrypt(key, TV4_ECHOSTR, "wx49f0ab532d5d035b", &msg, &len), WXC_ERECEIVER);
    assert_null(msg);
    assert_int_equal(wechat_decrypt(key, TV4_ECHOSTR, "", &msg, &len), WXC_ERECEIVER);
    assert_int_equal(wechat_decrypt(key, TV4_ECHOSTR, "wx49f0ab532d5d035", &msg, &len), WXC_ERECEIVER);
}

static void test_tv4_inbound_both_directions(void **state)
{
    (void)state;
    unsigned char key[32], prefix[16];
    char *msg = NULL, *b64 = NULL;
    size_t len = 0;
    key_of(TV4_KEY, key);

    assert_true(wechat_check_msg_signature(TV4_TOKEN, "1411525903", "461056294", TV4_INBOUND,
                                           "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"));
    assert_int_equal(wechat_decrypt(key, TV4_INBOUND, TV4_ID, &msg, &len), WXC_OK);
    assert_int_equal(strlen(msg), len);
    assert_non_null(strstr(msg, "<FromUserName><![CDATA[messense]]></FromUserName>"));
    assert_non_null(strstr(msg, "<Content><![CDATA[test]]></Content>"));
    assert_non_null(strstr(msg, "<MsgId>4363689963896700987</MsgId>"));
    assert_non_null(strstr(msg, "<AgentID>1</AgentID>"));
    assert_non_null(strchr(msg, '\n'));

    recover_prefix(key, TV4_INBOUND, prefix);
    assert_int_equal(wechat_encrypt(key, msg, len, TV4_ID, prefix, &b64), WXC_OK);
    assert_string_equal(b64, TV4_INBOUND);
    free(b64);
    free(msg);
}

static void test_tv4_deterministic_reply_envelope(void **state)
{
    (void)state;
    unsigned char key[32];
    struct wechat_envelope env;
    char *msg = NULL;
    size_t len = 0;
    key_of(TV4_KEY, key);

    assert_int_equal(wechat_envelope_build(key, TV4_TOKEN, TV4_ID, TV4_REPLY_XML,
                                           strlen(TV4_REPLY_XML), "1411525903", "461056294",
                                           (const unsigned char *)"1234567890123456", &env),
                     WXC_OK);
    assert_string_equal(env.encrypt, TV4_REPLY_ENCRYPT);
    assert_string_equal(env.msg_signature, "407518b7649e86ef23978113f92d27afa9296533");
    assert_string_equal(env.timestamp, "1411525903");
    assert_string_equal(env.nonce, "461056294");

    assert_int_equal(wechat_decrypt(key, env.encrypt, TV4_ID, &msg, &len), WXC_OK);
    assert_int_equal(len, strlen(TV4_REPLY_XML));
    assert_string_equal(msg, TV4_REPLY_XML);
    free(msg);
    wechat_envelope_clear(&env);
    assert_null(env.encrypt);

    /* ms timestamps (a known production failure) and empty nonces refused. */
    assert_int_equal(wechat_envelope_build(key, TV4_TOKEN, TV4_ID, "x", 1, "1469610775634",
                                           "1", NULL, &env), WXC_EARG);
    assert_null(env.encrypt);
    assert_int_equal(wechat_envelope_build(key, TV4_TOKEN, TV4_ID, "x", 1, "14696107a",
                                           "1", NULL, &env), WXC_EARG);
    assert_int_equal(wechat_envelope_build(key, TV4_TOKEN, TV4_ID, "x", 1, "1411525903",
                                           "", NULL, &env), WXC_EARG);
}

/* ---- TV-5 (WeCom, CJK, pad 24) ------------------------------------------ */

static void test_tv5_wecom_cjk_both_directions(void **state)
{
    (void)state;
    unsigned char key[32], prefix[16];
    char *msg = NULL, *b64 = NULL;
    size_t len = 0;
    key_of(TV5_KEY, key);

    assert_true(wechat_check_msg_signature(TV5_TOKEN, "1623301925", "1624217036", TV5_ENCRYPT,
                                           "d728d2bea7e28585ebd14eacbd330d84073fe7f1"));
    assert_int_equal(wechat_decrypt(key, TV5_ENCRYPT, TV5_ID, &msg, &len), WXC_OK);
    assert_int_equal(len, 290);
    assert_int_equal(strlen(TV5_MSG), 290);
    assert_string_equal(msg, TV5_MSG);
    free(msg);

    recover_prefix(key, TV5_ENCRYPT, prefix);
    assert_int_equal(wechat_encrypt(key, TV5_MSG, 290, TV5_ID, prefix, &b64), WXC_OK);
    assert_string_equal(b64, TV5_ENCRYPT);
    free(b64);

    /* Right ciphertext, other account's key: garbage, never OK. */
    unsigned char other[32];
    key_of(TV4_KEY, other);
    assert_int_not_equal(wechat_decrypt(other, TV5_ENCRYPT, TV5_ID, &msg, &len), WXC_OK);
    assert_null(msg);
}

/* ---- round trips ------------------------------------------------------------ */

static void test_round_trip_random_prefix(void **state)
{
    (void)state;
    unsigned char key[32];
    /* CJK, a 4-byte emoji, an embedded NUL and "]]>" */
    static const char text[] = "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 a\0b ]]> /::)";
    size_t tlen = sizeof(text) - 1;
    char *a = NULL, *b = NULL, *msg = NULL;
    size_t len = 0;
    key_of(TV5_KEY, key);

    assert_int_equal(wechat_encrypt(key, text, tlen, "gh_abc", NULL, &a), WXC_OK);
    assert_int_equal(wechat_encrypt(key, text, tlen, "gh_abc", NULL, &b), WXC_OK);
    assert_string_not_equal(a, b);   /* RAND_bytes prefix differs */
    assert_int_equal(wechat_decrypt(key, a, "gh_abc", &msg, &len), WXC_OK);
    assert_int_equal(len, tlen);
    assert_memory_equal(msg, text, tlen);
    free(msg);
    free(a);
    free(b);
}

/* Every pad value 1..32 (including a whole extra block) round-trips. */
static void test_round_trip_every_pad_length(void **state)
{
    (void)state;
    unsigned char key[32];
    char text[64];
    key_of(TV4_KEY, key);
    memset(text, 'x', sizeof(text));
    for (size_t n = 0; n < 40; n++) {
        char *b64 = NULL, *msg = NULL;
        size_t len = 99;
        assert_int_equal(wechat_encrypt(key, text, n, "id", NULL, &b64), WXC_OK);
        size_t blen = strlen(b64);
        size_t raw = blen / 4 * 3 - (b64[blen - 1] == '=') - (b64[blen - 2] == '=');
        assert_int_equal(raw % 32, 0);   /* block 32, padding never omitted */
        assert_int_equal(wechat_decrypt(key, b64, "id", &msg, &len), WXC_OK);
        assert_int_equal(len, n);
        assert_memory_equal(msg, text, n);
        free(msg);
        free(b64);
    }
    /* Empty message with an empty receiveId (WeCom robots). */
    char *b64 = NULL, *msg = NULL;
    size_t len = 1;
    assert_int_equal(wechat_encrypt(key, NULL, 0, "", NULL, &b64), WXC_OK);
    assert_int_equal(wechat_decrypt(key, b64, "", &msg, &len), WXC_OK);
    assert_int_equal(len, 0);
    assert_string_equal(msg, "");
    free(msg);
    free(b64);
}

/* ---- malformed input --------------------------------------------------------- */

static void test_bad_base64(void **state)
{
    (void)state;
    unsigned char key[32];
    char *msg = (char *)"x";
    size_t len = 7;
    key_of(TV4_KEY, key);
    const char *bad[] = {
        "", "abc", "abc$", "ab=c", "a===", "====",
        "4ByGGj+sVCYcvGeQ YhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=",
        " 4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
        "4ByGGj-sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==\n",
        "<xml>not base64</xml>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wechat_decrypt(key, bad[i], TV4_ID, &msg, &len), WXC_EBASE64);
        assert_null(msg);
        assert_int_equal(len, 0);
    }
    assert_int_equal(wechat_decrypt(key, NULL, TV4_ID, &msg, &len), WXC_EARG);
    assert_int_equal(wechat_decrypt(key, TV4_ECHOSTR, NULL, &msg, &len), WXC_EARG);
}

static void test_truncated_and_short_ciphertext(void **state)
{
    (void)state;
    unsigned char key[32];
    char *msg = NULL;
    size_t len = 0;
    char buf[sizeof(TV4_INBOUND)];
    key_of(TV4_KEY, key);

    /* Drop the last 4 base64 chars: 3 bytes short, not a block multiple. */
    size_t n = strlen(TV4_INBOUND);
    memcpy(buf, TV4_INBOUND, n - 4);
    buf[n - 4] = '\0';
    assert_int_equal(wechat_decrypt(key, buf, TV4_ID, &msg, &len), WXC_ELENGTH);
    /* One block only (16 bytes). */
    assert_int_equal(wechat_decrypt(key, "AAAAAAAAAAAAAAAAAAAAAA==", TV4_ID, &msg, &len), WXC_ELENGTH);
    /* Cut a whole trailing block: decrypts, but the tail is not padding or
     * the declared length overruns — never OK. */
    memcpy(buf, TV4_ECHOSTR, 64);   /* 48 bytes of ciphertext */
    buf[64] = '\0';
    assert_int_not_equal(wechat_decrypt(key, buf, TV4_ID, &msg, &len), WXC_OK);
    assert_null(msg);
}

static void test_tampered_ciphertext(void **state)
{
    (void)state;
    unsigned char key[32];
    char *msg = NULL;
    size_t len = 0;
    char buf[sizeof(TV4_INBOUND)];
    key_of(TV4_KEY, key);

    char *orig = NULL;
    size_t olen = 0;
    assert_int_equal(wechat_decrypt(key, TV4_INBOUND, TV4_ID, &orig, &olen), WXC_OK);
    /* CBC has no integrity (msg_signature is the authentication), so a
     * flipped char either breaks the layout or yields a different message,
     * never the original one. */
    for (size_t pos = 0; pos + 2 < strlen(TV4_INBOUND); pos += 7) {
        strcpy(buf, TV4_INBOUND);
        buf[pos] = buf[pos] == 'A' ? 'B' : 'A';
        int rc = wechat_decrypt(key, buf, TV4_ID, &msg, &len);
        if (rc == WXC_OK) {
            assert_false(len == olen && memcmp(msg, orig, len) == 0);
            free(msg);
            msg = NULL;
        } else {
            assert_null(msg);
        }
    }
    free(orig);
    /* The last block carries padding and receiveId: flipping it fails. */
    strcpy(buf, TV4_INBOUND);
    size_t n = strlen(buf);
    buf[n - 3] = buf[n - 3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(wechat_decrypt(key, buf, TV4_ID, &msg, &len), WXC_OK);
    assert_null(msg);
}

static void test_forged_layouts(void **state)
{
    (void)state;
    unsigned char pt[256];
    size_t n;

    /* Sanity: a correct forged layout decrypts. 20+2+6 = 28, pad 4. */
    n = layout(pt, 2, "hi", "abcdef", 4, 4);
    assert_int_equal(n, 32);
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_OK);
    /* Pad byte 0 and 33. */
    n = layout(pt, 2, "hi", "abcdef", 4, 0);
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_EPADDING);
    n = layout(pt, 2, "hi", "abcdefghij", 32, 33);   /* 32+32 = 64 */
    assert_int_equal(n, 64);
    assert_int_equal(decrypt_forged(pt, n, "abcdefghij"), WXC_EPADDING);
    /* Inconsistent pad bytes. */
    n = layout(pt, 2, "hi", "abcdef", 4, 4);
    pt[n - 3] = 3;
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_EPADDING);
    /* Pad of 32 covering the whole of a 32-byte plaintext: nothing left. */
    memset(pt, 32, 32);
    assert_int_equal(decrypt_forged(pt, 32, ""), WXC_ELENGTH);
    /* Declared length overruns the data (and a huge one). */
    n = layout(pt, 9, "hi", "abcdef", 4, 4);
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_ELENGTH);
    n = layout(pt, 0xffffffffu, "hi", "abcdef", 4, 4);
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_ELENGTH);
    /* Declared length too short: the rest is taken as the id -> mismatch. */
    n = layout(pt, 1, "hi", "abcdef", 4, 4);
    assert_int_equal(decrypt_forged(pt, n, "abcdef"), WXC_ERECEIVER);
    /* AES-16 style padding (pad to 16, not 32) is still valid PKCS#7 of
     * value <= 32 and must be accepted: 20+2+2 = 24, pad 8 -> 32. */
    n = layout(pt, 2, "hi", "ab", 8, 8);
    assert_int_equal(decrypt_forged(pt, n, "ab"), WXC_OK);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(wechat_crypto_strerror(WXC_EBASE64), "bad_base64");
    assert_string_equal(wechat_crypto_strerror(WXC_ERECEIVER), "receive_id_mismatch");
    assert_string_equal(wechat_crypto_strerror(WXC_EPADDING), "bad_padding");
    assert_string_equal(wechat_crypto_strerror(12345), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tv1_url_verification),
        cmocka_unit_test(test_tv2_plain_post_signature),
        cmocka_unit_test(test_tv3_msg_signature),
        cmocka_unit_test(test_signature_is_not_msg_signature),
        cmocka_unit_test(test_aes_key_decode),
        cmocka_unit_test(test_tv4_echostr_both_directions),
        cmocka_unit_test(test_tv4_inbound_both_directions),
        cmocka_unit_test(test_tv4_deterministic_reply_envelope),
        cmocka_unit_test(test_tv5_wecom_cjk_both_directions),
        cmocka_unit_test(test_round_trip_random_prefix),
        cmocka_unit_test(test_round_trip_every_pad_length),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_truncated_and_short_ciphertext),
        cmocka_unit_test(test_tampered_ciphertext),
        cmocka_unit_test(test_forged_layouts),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
