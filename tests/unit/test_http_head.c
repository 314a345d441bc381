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

#include "daemon/routes.h"
#include "http/http_head.h"
#include "http/route.h"

/* Every test that decides works on the daemon's own table (no app: nothing
 * is handled here). */
static int setup(void **state)
{
    *state = daemon_routes(NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    http_routes_free(*state);
    return 0;
}

static void assert_routed(const struct http_verdict *v, const char *route_path)
{
    assert_int_equal(v->outcome, HTTP_ROUTED);
    assert_int_equal(v->refused, 0);
    assert_non_null(v->route);
    assert_string_equal(v->route->path, route_path);
    assert_int_equal(v->tail, strlen(route_path));
}

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
    const struct http_routes *routes = *state;
    struct http_verdict v;
    struct http_framing ok = { .content_length = 1 };
    http_decide(routes, &ok, EVHTTP_REQ_POST, "/chat/web", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.refused, 0);
    assert_routed(&v, "/chat/");
    assert_int_equal(v.tail, 6);

    struct http_framing folded = { .folded = true };
    http_decide(routes, &folded, EVHTTP_REQ_GET, "/healthz", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.refused, 400);
    assert_int_equal(v.outcome, HTTP_REFUSED);
    assert_string_equal(v.detail, "obsolete header line folding");

    struct http_framing two = { .content_length = 2 };
    http_decide(routes, &two, EVHTTP_REQ_POST, "/chat/web", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.refused, 400);
    assert_string_equal(v.detail, "more than one Content-Length");

    struct http_framing both = { .content_length = 1, .transfer_encoding = 1 };
    http_decide(routes, &both, EVHTTP_REQ_POST, "/chat/web", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.refused, 400);
    assert_string_equal(v.detail, "both Content-Length and Transfer-Encoding");

    struct http_framing te = { .transfer_encoding = 1 };
    assert_null(http_framing_problem(&te));

    struct http_framing none = { 0 };
    http_decide(routes, &none, EVHTTP_REQ_CONNECT, "/healthz", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.refused, 405);
    assert_int_equal(v.outcome, HTTP_REFUSED);
    assert_string_equal(v.detail, "CONNECT is not served");
}

static void test_routes_by_door_and_method(void **state)
{
    const struct http_routes *routes = *state;
    struct http_framing f = { 0 };
    struct http_verdict v;
    http_decide(routes, &f, EVHTTP_REQ_HEAD, "/healthz", HTTP_DOOR_PUBLIC, &v);
    assert_routed(&v, "/healthz");
    http_decide(routes, &f, EVHTTP_REQ_HEAD, "/metrics", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    assert_string_equal(v.detail, "HEAD is for /healthz only");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/sms/kannel", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/sms/kannel");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/sms/kannel", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_decide(routes, &f, EVHTTP_REQ_PUT, "/sms/kannel/dlr", HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    assert_string_equal(v.detail, "use GET");
    http_decide(routes, &f, EVHTTP_REQ_DELETE, "/wechat/gh_1", HTTP_DOOR_PUBLIC, &v);
    assert_routed(&v, "/wechat/");
    assert_int_equal(v.tail, 8);
    http_decide(routes, &f, EVHTTP_REQ_POST, "/wechat/gh_1", HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_decide(routes, &f, EVHTTP_REQ_GET, "/chat/web", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    assert_string_equal(v.detail, "use POST");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/sms/http", HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    http_decide(routes, &f, EVHTTP_REQ_POST, "/sms/http", HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/sms/http");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/metrics", HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/metrics");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/admin/cases", HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/admin/");
    http_decide(routes, &f, EVHTTP_REQ_GET, "/admin/cases", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_decide(routes, &f, EVHTTP_REQ_GET, "/console/stats.js", HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/console/");
    http_decide(routes, &f, EVHTTP_REQ_POST, "/console/login", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_decide(routes, &f, EVHTTP_REQ_GET, "/", HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    assert_int_equal(v.refused, 0);
}

/* A table of another layer's routes: first match wins, prefixes end in
 * '/', the context comes back with the route, HEAD goes only where listed. */
static void test_a_table_of_its_own(void **state)
{
    static const struct http_route r[] = {
        { "/a/", EVHTTP_REQ_GET, "use GET", HTTP_DOOR_PUBLIC, NULL },
        { "/a/b", EVHTTP_REQ_POST, "use POST", HTTP_DOOR_PUBLIC, NULL },
        { "/ping", EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, NULL, HTTP_DOOR_INTERNAL, NULL },
    };
    int ctx;
    struct http_framing f = { 0 };
    struct http_verdict v;
    (void)state;
    struct http_routes *t = http_routes_new();
    assert_non_null(t);
    assert_int_equal(http_routes_add(t, r, 3, &ctx), 0);
    http_decide(t, &f, EVHTTP_REQ_GET, "/a/b", HTTP_DOOR_PUBLIC, &v);
    assert_routed(&v, "/a/");
    assert_ptr_equal(v.route, &r[0]);
    assert_ptr_equal(v.ctx, &ctx);
    http_decide(t, &f, EVHTTP_REQ_POST, "/a/b", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    assert_string_equal(v.detail, "use GET");
    http_decide(t, &f, EVHTTP_REQ_GET, "/a", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_decide(t, &f, EVHTTP_REQ_HEAD, "/a/x", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_ALLOWED);
    assert_string_equal(v.detail, "HEAD is for /ping only");
    http_decide(t, &f, EVHTTP_REQ_HEAD, "/ping", HTTP_DOOR_INTERNAL, &v);
    assert_routed(&v, "/ping");
    http_decide(t, &f, EVHTTP_REQ_GET, "/ping", HTTP_DOOR_PUBLIC, &v);
    assert_int_equal(v.outcome, HTTP_NOT_FOUND);
    http_routes_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_finds_the_end_of_the_head),
        cmocka_unit_test(test_scanner_sees_folding_in_any_split),
        cmocka_unit_test_setup_teardown(test_framing_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_by_door_and_method, setup, teardown),
        cmocka_unit_test(test_a_table_of_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
