/* The request path's head scanner, framing verdict and route table
 * (mashang/http_head.h), without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <event2/http.h>

#include "http/http_head.h"

/* Scans `s` whole; returns the head's length (strlen(s) if unfinished). */
static size_t scan(const char *s, struct head_scan *st)
{
    head_scan_reset(st);
    return head_scan_bytes(st, (const unsigned char *)s, strlen(s));
}

static void test_scanner_finds_the_end_of_the_head(void **state)
{
    struct head_scan s;
    (void)state;
    const char *two = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    assert_int_equal(scan(two, &s), strlen("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_false(s.in_head);
    assert_false(s.folded);
    /* blank lines before the request line do not end it */
    assert_int_equal(scan("\r\n\r\nGET / HTTP/1.1\n\nrest", &s), strlen("\r\n\r\nGET / HTTP/1.1\n\n"));
    assert_int_equal(scan("GET / HTTP/1.1\r\nHost: x\r\n", &s), strlen("GET / HTTP/1.1\r\nHost: x\r\n"));
    assert_true(s.in_head);
}

static void test_scanner_sees_folding_in_any_split(void **state)
{
    const char *h = "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n";
    size_t n = strlen(h);
    (void)state;
    for (size_t cut = 0; cut <= n; cut++) {
        struct head_scan s;
        head_scan_reset(&s);
        size_t a = head_scan_bytes(&s, (const unsigned char *)h, cut);
        size_t b = head_scan_bytes(&s, (const unsigned char *)h + cut, n - cut);
        assert_int_equal(a + b, n);
        assert_false(s.in_head);
        assert_true(s.folded);
    }
    struct head_scan s;
    scan(" GET / HTTP/1.1\r\n\r\n", &s);   /* a space before the request line is not folding */
    assert_false(s.folded);
}

static void test_framing_refusals(void **state)
{
    struct http_verdict v;
    (void)state;
    struct http_framing ok = { .content_length = 1 };
    http_decide(&ok, EVHTTP_REQ_POST, "/chat/web", true, true, &v);
    assert_int_equal(v.refused, 0);
    assert_int_equal(v.ep, HTTP_EP_CHAT);
    assert_int_equal(v.tail, 6);

    struct http_framing folded = { .folded = true };
    http_decide(&folded, EVHTTP_REQ_GET, "/healthz", true, true, &v);
    assert_int_equal(v.refused, 400);
    assert_int_equal(v.ep, HTTP_EP_NONE);
    assert_string_equal(v.detail, "obsolete header line folding");

    struct http_framing two = { .content_length = 2 };
    http_decide(&two, EVHTTP_REQ_POST, "/chat/web", true, true, &v);
    assert_int_equal(v.refused, 400);
    assert_string_equal(v.detail, "more than one Content-Length");

    struct http_framing both = { .content_length = 1, .transfer_encoding = 1 };
    http_decide(&both, EVHTTP_REQ_POST, "/chat/web", true, true, &v);
    assert_int_equal(v.refused, 400);
    assert_string_equal(v.detail, "both Content-Length and Transfer-Encoding");

    struct http_framing te = { .transfer_encoding = 1 };
    assert_null(http_framing_problem(&te));

    struct http_framing none = { 0 };
    http_decide(&none, EVHTTP_REQ_CONNECT, "/healthz", true, true, &v);
    assert_int_equal(v.refused, 405);
    assert_int_equal(v.ep, HTTP_EP_NONE);
    assert_string_equal(v.detail, "CONNECT is not served");
}

static void test_routes_by_door_and_method(void **state)
{
    struct http_framing f = { 0 };
    struct http_verdict v;
    (void)state;
    http_decide(&f, EVHTTP_REQ_HEAD, "/healthz", true, false, &v);
    assert_int_equal(v.ep, HTTP_EP_HEALTHZ);
    http_decide(&f, EVHTTP_REQ_HEAD, "/metrics", true, true, &v);
    assert_int_equal(v.ep, HTTP_EP_METHOD_NOT_ALLOWED);
    assert_string_equal(v.detail, "HEAD is for /healthz only");
    http_decide(&f, EVHTTP_REQ_GET, "/sms/kannel", true, true, &v);
    assert_int_equal(v.ep, HTTP_EP_SMS_KANNEL);
    http_decide(&f, EVHTTP_REQ_GET, "/sms/kannel", true, false, &v);
    assert_int_equal(v.ep, HTTP_EP_NOT_FOUND);
    http_decide(&f, EVHTTP_REQ_PUT, "/sms/kannel/dlr", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_METHOD_NOT_ALLOWED);
    assert_string_equal(v.detail, "use GET");
    http_decide(&f, EVHTTP_REQ_DELETE, "/wechat/gh_1", true, false, &v);
    assert_int_equal(v.ep, HTTP_EP_WECHAT);
    assert_int_equal(v.tail, 8);
    http_decide(&f, EVHTTP_REQ_POST, "/wechat/gh_1", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_NOT_FOUND);
    http_decide(&f, EVHTTP_REQ_GET, "/chat/web", true, false, &v);
    assert_int_equal(v.ep, HTTP_EP_METHOD_NOT_ALLOWED);
    assert_string_equal(v.detail, "use POST");
    http_decide(&f, EVHTTP_REQ_GET, "/sms/http", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_METHOD_NOT_ALLOWED);
    http_decide(&f, EVHTTP_REQ_POST, "/sms/http", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_SMS_HTTP);
    http_decide(&f, EVHTTP_REQ_GET, "/metrics", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_METRICS);
    http_decide(&f, EVHTTP_REQ_GET, "/admin/cases", false, true, &v);
    assert_int_equal(v.ep, HTTP_EP_ADMIN);
    http_decide(&f, EVHTTP_REQ_GET, "/admin/cases", true, false, &v);
    assert_int_equal(v.ep, HTTP_EP_NOT_FOUND);
    http_decide(&f, EVHTTP_REQ_GET, "/", true, true, &v);
    assert_int_equal(v.ep, HTTP_EP_NOT_FOUND);
    assert_int_equal(v.refused, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_finds_the_end_of_the_head),
        cmocka_unit_test(test_scanner_sees_folding_in_any_split),
        cmocka_unit_test(test_framing_refusals),
        cmocka_unit_test(test_routes_by_door_and_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
