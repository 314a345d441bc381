/* CIDR parsing and peer matching (channels.sms.allow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/cidr.h"

/* A peer address as evhttp reports it. */
static struct sockaddr_storage peer(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return ss;
}

static bool matches(const char *const *ranges, size_t n, const char *ip)
{
    struct cidr list[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cidr_parse(ranges[i], &list[i]), 0);
    struct sockaddr_storage ss = peer(ip);
    return cidr_match(list, n, (const struct sockaddr *)&ss);
}

static void test_parse_accepts_v4_v6_and_hosts(void **state)
{
    struct cidr c;
    (void)state;
    assert_int_equal(cidr_parse("127.0.0.0/8", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.bits, 8);
    assert_int_equal(cidr_parse("10.1.2.3", &c), 0);
    assert_int_equal(c.bits, 32);
    assert_int_equal(cidr_parse("::1", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.bits, 128);
    assert_int_equal(cidr_parse("fd00::/8", &c), 0);
    assert_int_equal(c.bits, 8);
    assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
    assert_int_equal(c.bits, 0);
    /* Host bits past the prefix are cleared: 10.1.2.3/8 is 10.0.0.0/8. */
    assert_int_equal(cidr_parse("10.1.2.3/8", &c), 0);
    assert_int_equal(c.addr[0], 10);
    assert_int_equal(c.addr[1] | c.addr[2] | c.addr[3], 0);
    assert_int_equal(cidr_parse("192.168.255.255/20", &c), 0);
    assert_int_equal(c.addr[2], 0xF0);
    assert_int_equal(c.addr[3], 0);
}

static void test_parse_rejects_junk(void **state)
{
    static const char *const bad[] = {
        "", "/8", "127.0.0.0/", "127.0.0.0/33", "::1/129", "127.0.0.0/-1", "127.0.0.0/+8",
        "127.0.0.0/08", "127.0.0.0/8 ", " 127.0.0.0/8", "127.0.0.0/8/8", "localhost",
        "127.0.0", "127.0.0.256", "1.2.3.4.5", "::1::2", "127.0.0.0/a",
    };
    struct cidr c;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cidr_parse(bad[i], &c) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(cidr_parse(NULL, &c), -1);
}

static void test_default_loopback_list(void **state)
{
    static const char *const loop[] = { "127.0.0.0/8", "::1" };
    (void)state;
    assert_true(matches(loop, 2, "127.0.0.1"));
    assert_true(matches(loop, 2, "127.255.3.4"));
    assert_true(matches(loop, 2, "::1"));
    assert_true(matches(loop, 2, "::ffff:127.0.0.1"));   /* dual-stack listener */
    assert_false(matches(loop, 2, "128.0.0.1"));
    assert_false(matches(loop, 2, "10.0.0.1"));
    assert_false(matches(loop, 2, "::2"));
    assert_false(matches(loop, 2, "::ffff:10.0.0.1"));
    assert_false(matches(loop, 2, "fe80::1"));
}

static void test_prefix_boundaries(void **state)
{
    static const char *const r20[] = { "192.168.16.0/20" };
    static const char *const r0[] = { "0.0.0.0/0" };
    static const char *const v6[] = { "2001:db8:abcd::/48" };
    (void)state;
    assert_true(matches(r20, 1, "192.168.16.0"));
    assert_true(matches(r20, 1, "192.168.31.255"));
    assert_false(matches(r20, 1, "192.168.32.0"));
    assert_false(matches(r20, 1, "192.168.15.255"));
    assert_true(matches(r0, 1, "8.8.8.8"));
    assert_false(matches(r0, 1, "::1"));               /* families never mix */
    assert_true(matches(v6, 1, "2001:db8:abcd:ffff::1"));
    assert_false(matches(v6, 1, "2001:db8:abce::1"));
    assert_false(matches(v6, 1, "10.0.0.1"));
}

static void test_no_peer_never_matches(void **state)
{
    struct cidr all;
    struct sockaddr_storage unix_peer;
    (void)state;
    assert_int_equal(cidr_parse("0.0.0.0/0", &all), 0);
    memset(&unix_peer, 0, sizeof(unix_peer));
    unix_peer.ss_family = AF_UNIX;
    assert_false(cidr_match(&all, 1, NULL));
    assert_false(cidr_match(&all, 1, (const struct sockaddr *)&unix_peer));
    assert_false(cidr_match(NULL, 0, (const struct sockaddr *)&unix_peer));
}

static void test_peer_string(void **state)
{
    char buf[64];
    struct sockaddr_storage ss = peer("::ffff:10.1.2.3");
    (void)state;
    cidr_peer_string((const struct sockaddr *)&ss, buf, sizeof(buf));
    assert_string_equal(buf, "10.1.2.3");
    ss = peer("fd00::7");
    cidr_peer_string((const struct sockaddr *)&ss, buf, sizeof(buf));
    assert_string_equal(buf, "fd00::7");
    cidr_peer_string(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_v4_v6_and_hosts),
        cmocka_unit_test(test_parse_rejects_junk),
        cmocka_unit_test(test_default_loopback_list),
        cmocka_unit_test(test_prefix_boundaries),
        cmocka_unit_test(test_no_peer_never_matches),
        cmocka_unit_test(test_peer_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
