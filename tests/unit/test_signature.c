/* signature: digests against published vectors (FIPS 180, RFC 4231) and
 * the X-Mashang-Signature scheme against values computed with Python's
 * hmac module. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mashang/signature.h"

#define BODY "{\"user\":\"u1\",\"text\":\"\xe4\xbd\xa0\xe5\xa5\xbd\",\"id\":\"m1\",\"time\":1700000000}"
#define BODY_SIG "sha256=b26e04d4f831ea975a90db6ad3d8e60159bafd59ab834400b9c213b64129dfad"
#define TS "1700000000"
#define NOW 1700000000

static void test_sha1_vectors(void **state)
{
    (void)state;
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("15147114921714036504AAAAA", 25, hex);   /* WeChat TV-1 */
    assert_string_equal(hex, "f464b24fc39322e44b38aa78f5edd27bd1441696");
}

static void test_hmac_sha256_vectors(void **state)
{
    (void)state;
    char hex[SHA256_HEX_LEN + 1];
    /* RFC 4231 test case 2 */
    assert_int_equal(hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Empty key and data are legal HMAC inputs. */
    assert_int_equal(hmac_sha256_hex("", 0, "", 0, hex), 0);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    /* RFC 4231 test case 6: key longer than the block size (131 x 0xaa). */
    unsigned char key[131];
    memset(key, 0xaa, sizeof(key));
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(hmac_sha256_hex(key, sizeof(key), data, strlen(data), hex), 0);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_secure_compare(void **state)
{
    (void)state;
    assert_true(secure_str_equal("abc", "abc"));
    assert_true(secure_str_equal("", ""));
    assert_false(secure_str_equal("abc", "abd"));
    assert_false(secure_str_equal("abc", "abcd"));   /* prefix is not equal */
    assert_false(secure_str_equal("abcd", "abc"));
    assert_false(secure_str_equal("abc", NULL));
    assert_false(secure_str_equal(NULL, NULL));
    assert_true(secure_mem_equal("a\0b", 3, "a\0b", 3));
    assert_false(secure_mem_equal("a\0b", 3, "a\0c", 3));
    assert_true(secure_mem_equal("x", 0, "y", 0));
}

static void test_webhook_ok(void **state)
{
    (void)state;
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, strlen(BODY), NOW),
                     WEBHOOK_SIG_OK);
    /* Upper-case hex is the same signature. */
    char upper[sizeof(BODY_SIG)];
    strcpy(upper, BODY_SIG);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(webhook_signature_check("s3cret", upper, TS, BODY, strlen(BODY), NOW),
                     WEBHOOK_SIG_OK);
    /* Empty body. */
    assert_int_equal(webhook_signature_check("s3cret",
                     "sha256=21948100f1d7a89f3338f6b1106fc4f7a702fbe1493b833a3382f80193bde3fe",
                     TS, NULL, 0, NOW), WEBHOOK_SIG_OK);
}

static void test_webhook_skew_window(void **state)
{
    (void)state;
    size_t n = strlen(BODY);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n, NOW + 300), WEBHOOK_SIG_OK);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n, NOW - 300), WEBHOOK_SIG_OK);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n, NOW + 301), WEBHOOK_SIG_STALE);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n, NOW - 301), WEBHOOK_SIG_STALE);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n, 0), WEBHOOK_SIG_STALE);
    /* A stale request with a wrong signature is reported as forged. */
    assert_int_equal(webhook_signature_check("other", BODY_SIG, TS, BODY, n, NOW + 9999), WEBHOOK_SIG_BAD);
}

static void test_webhook_bad(void **state)
{
    (void)state;
    size_t n = strlen(BODY);
    char sig[sizeof(BODY_SIG)];
    assert_int_equal(webhook_signature_check("s3creT", BODY_SIG, TS, BODY, n, NOW), WEBHOOK_SIG_BAD);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, TS, BODY, n - 1, NOW), WEBHOOK_SIG_BAD);
    /* The timestamp is signed: moving it invalidates the signature. */
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, "1700000001", BODY, n, NOW), WEBHOOK_SIG_BAD);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, "01700000000", BODY, n, NOW), WEBHOOK_SIG_BAD);
    strcpy(sig, BODY_SIG);
    sig[sizeof(sig) - 2] = sig[sizeof(sig) - 2] == '0' ? '1' : '0';
    assert_int_equal(webhook_signature_check("s3cret", sig, TS, BODY, n, NOW), WEBHOOK_SIG_BAD);
}

static void test_webhook_malformed(void **state)
{
    (void)state;
    size_t n = strlen(BODY);
    const char *hex = BODY_SIG + 7;
    char buf[128];

    assert_int_equal(webhook_signature_check("s3cret", NULL, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, NULL, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    assert_int_equal(webhook_signature_check(NULL, BODY_SIG, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    assert_int_equal(webhook_signature_check("s3cret", hex, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), "sha1=%s", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), "SHA256=%s", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), "sha256=%.63s", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), "sha256=%s0", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), "sha256=%.63sg", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    snprintf(buf, sizeof(buf), " sha256=%s", hex);
    assert_int_equal(webhook_signature_check("s3cret", buf, TS, BODY, n, NOW), WEBHOOK_SIG_MALFORMED);
    const char *bad_ts[] = { "", "-1700000000", "+1700000000", " 1700000000", "1700000000 ",
                             "1.7e9", "17000000000000000000000", "abc" };
    for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++)
        assert_int_equal(webhook_signature_check("s3cret", BODY_SIG, bad_ts[i], BODY, n, NOW),
                         WEBHOOK_SIG_MALFORMED);
}

static void test_webhook_header_round_trip(void **state)
{
    (void)state;
    char hdr[WEBHOOK_SIG_HEADER_SIZE];
    char small[WEBHOOK_SIG_HEADER_SIZE - 1];
    assert_int_equal(webhook_signature_header("s3cret", NOW, BODY, strlen(BODY), hdr, sizeof(hdr)), 0);
    assert_string_equal(hdr, BODY_SIG);
    assert_int_equal(webhook_signature_check("s3cret", hdr, TS, BODY, strlen(BODY), NOW + 5),
                     WEBHOOK_SIG_OK);
    assert_int_equal(webhook_signature_header("s3cret", NOW, BODY, strlen(BODY), small, sizeof(small)), -1);
    assert_int_equal(webhook_signature_header("s3cret", -1, BODY, strlen(BODY), hdr, sizeof(hdr)), -1);
    assert_int_equal(webhook_signature_header(NULL, NOW, BODY, strlen(BODY), hdr, sizeof(hdr)), -1);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(webhook_sig_result_str(WEBHOOK_SIG_OK), "ok");
    assert_string_equal(webhook_sig_result_str(WEBHOOK_SIG_BAD), "bad_signature");
    assert_string_equal(webhook_sig_result_str(WEBHOOK_SIG_STALE), "stale_timestamp");
    assert_string_equal(webhook_sig_result_str(WEBHOOK_SIG_MALFORMED), "malformed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_hmac_sha256_vectors),
        cmocka_unit_test(test_secure_compare),
        cmocka_unit_test(test_webhook_ok),
        cmocka_unit_test(test_webhook_skew_window),
        cmocka_unit_test(test_webhook_bad),
        cmocka_unit_test(test_webhook_malformed),
        cmocka_unit_test(test_webhook_header_round_trip),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
