/* http_client against a real evhttp server on 127.0.0.1, both on the
 * same event_base.  Every test builds a fresh base, server and client. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "http/http_client.h"

#define MAX_BODY (1024 * 1024)
#define MAX_HUNG 16

struct fixture {
    struct event_base *base;
    struct evhttp *http;
    int port;
    struct http_client *hc;
    struct evhttp_request *hung[MAX_HUNG]; /* never answered by the server */
    size_t nhung;
    int requests_seen;
    char urlbuf[128];
};

/* What a done callback saw, copied because res is only valid inside it. */
struct result {
    int calls;
    long status;
    int curl_code;
    char *error;
    char *body;
    size_t body_len;
    double total_ms;
    size_t pending_in_cb;
    struct http_client *hc;
};

/* ---- server ----------------------------------------------------------------- */

static void reply_text(struct evhttp_request *req, int code, const char *text) {
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "X", b);
    evbuffer_free(b);
}

static void reply_echo(struct evhttp_request *req) {
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    const char *xt = evhttp_find_header(in, "X-Test");
    const char *ct = evhttp_find_header(in, "Content-Type");
    const char *ex = evhttp_find_header(in, "Expect");
    const char *method = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET";
    struct evbuffer *b = evbuffer_new();

    evbuffer_add_printf(b, "%s|%s|%s|%s|%zu|", method, xt ? xt : "-", ct ? ct : "-",
                        ex ? ex : "-", evbuffer_get_length(body));
    if (evbuffer_get_length(body) <= 64 * 1024) evbuffer_add_buffer(b, body);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void reply_big(struct evhttp_request *req, size_t n, int chunked) {
    struct evbuffer *b = evbuffer_new();
    char chunk[65536];

    memset(chunk, 'x', sizeof(chunk));
    if (!chunked) {
        for (size_t left = n; left;) {
            size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
            evbuffer_add(b, chunk, k);
            left -= k;
        }
        evhttp_send_reply(req, 200, "OK", b);
    } else {
        /* No Content-Length: the client only learns the size by reading. */
        evhttp_send_reply_start(req, 200, "OK");
        for (size_t left = n; left;) {
            size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
            evbuffer_add(b, chunk, k);
            evhttp_send_reply_chunk(req, b);
            left -= k;
        }
        evhttp_send_reply_end(req);
    }
    evbuffer_free(b);
}

static void on_server_request(struct evhttp_request *req, void *arg) {
    struct fixture *fx = arg;
    const char *uri = evhttp_request_get_uri(req);
    unsigned long n;

    fx->requests_seen++;
    if (strcmp(uri, "/hello") == 0) {
        reply_text(req, 200, "hello world");
    } else if (strcmp(uri, "/echo") == 0) {
        reply_echo(req);
    } else if (strcmp(uri, "/fail") == 0) {
        reply_text(req, 500, "boom");
    } else if (strcmp(uri, "/redirect") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/hello");
        evhttp_send_reply(req, 302, "Found", NULL);
    } else if (sscanf(uri, "/id/%lu", &n) == 1) {
        char text[32];
        snprintf(text, sizeof(text), "id:%lu", n);
        reply_text(req, 200, text);
    } else if (sscanf(uri, "/big/%lu", &n) == 1) {
        reply_big(req, n, 0);
    } else if (sscanf(uri, "/chunked/%lu", &n) == 1) {
        reply_big(req, n, 1);
    } else if (strcmp(uri, "/hang") == 0 && fx->nhung < MAX_HUNG) {
        fx->hung[fx->nhung++] = req; /* answered (or freed) in teardown */
    } else {
        reply_text(req, 404, "no");
    }
}

static int bound_port(struct evhttp_bound_socket *bs) {
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return -1;
    return ntohs(sa.sin_port);
}

/* A port nobody listens on: bind, read the port, close. */
static int closed_port(void) {
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- fixture and loop helpers ------------------------------------------------ */

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    curl_global_cleanup();
    return 0;
}

static int setup(void **state) {
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) return -1;
    fx->base = event_base_new();
    fx->http = evhttp_new(fx->base);
    if (fx->base == NULL || fx->http == NULL) return -1;
    evhttp_set_gencb(fx->http, on_server_request, fx);
    evhttp_set_allowed_methods(fx->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(fx->http, "127.0.0.1", 0);
    if (bs == NULL) return -1;
    fx->port = bound_port(bs);
    fx->hc = http_client_new(fx->base);
    if (fx->port <= 0 || fx->hc == NULL) return -1;
    *state = fx;
    return 0;
}

static void on_guard(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until *flag reaches `want` or `secs` pass.  Returns 1 on
 * success.  The guard timer keeps a broken client from hanging the test. */
static int run_until(struct fixture *fx, const int *flag, int want, int secs) {
    int expired = 0;
    struct event *guard = evtimer_new(fx->base, on_guard, &expired);
    struct timeval tv = { secs, 0 };
    evtimer_add(guard, &tv);
    while (*flag < want && !expired) event_base_loop(fx->base, EVLOOP_ONCE);
    event_free(guard);
    return *flag >= want;
}

/* Lets the loop process whatever is ready, for about `ms`. */
static void run_for(struct fixture *fx, int ms) {
    int expired = 0;
    struct event *guard = evtimer_new(fx->base, on_guard, &expired);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(guard, &tv);
    while (!expired) event_base_loop(fx->base, EVLOOP_ONCE);
    event_free(guard);
}

static int teardown(void **state) {
    struct fixture *fx = *state;
    http_client_free(fx->hc);
    run_for(fx, 20); /* let the server notice closed connections */
    for (size_t i = 0; i < fx->nhung; i++)
        evhttp_send_reply(fx->hung[i], 503, "Bye", NULL); /* frees detached ones */
    evhttp_free(fx->http);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

static void on_done_record(const struct http_response *res, void *arg) {
    struct result *r = arg;
    r->calls++;
    r->status = res->status;
    r->curl_code = res->curl_code;
    free(r->error);
    free(r->body);
    r->error = res->error ? strdup(res->error) : NULL;
    assert_non_null(res->body);
    assert_int_equal(res->body[res->body_len], '\0');
    r->body = malloc(res->body_len + 1);
    memcpy(r->body, res->body, res->body_len + 1);
    r->body_len = res->body_len;
    r->total_ms = res->total_ms;
    if (r->hc) r->pending_in_cb = http_client_pending(r->hc);
}

static void result_clear(struct result *r) {
    free(r->error);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Scratch URL in the fixture: the client copies it before returning. */
static const char *url(struct fixture *fx, const char *path) {
    snprintf(fx->urlbuf, sizeof(fx->urlbuf), "http://127.0.0.1:%d%s", fx->port, path);
    return fx->urlbuf;
}

static void get(struct fixture *fx, const char *path, long timeout_ms, struct result *r) {
    struct http_request req = { .method = "GET", .url = url(fx, path), .timeout_ms = timeout_ms };
    assert_int_equal(http_client_request(fx->hc, &req, on_done_record, r), 0);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_get_200_with_body(void **state) {
    struct fixture *fx = *state;
    struct result r = { .hc = fx->hc };

    get(fx, "/hello", 0, &r);
    assert_int_equal(http_client_pending(fx->hc), 1);
    assert_int_equal(r.calls, 0); /* never called from inside request() */
    assert_true(run_until(fx, &r.calls, 1, 5));
    run_for(fx, 10);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.curl_code, 0);
    assert_null(r.error);
    assert_int_equal(r.body_len, 11);
    assert_string_equal(r.body, "hello world");
    assert_true(r.total_ms > 0.0);
    assert_int_equal(r.pending_in_cb, 0);
    assert_int_equal(http_client_pending(fx->hc), 0);
    result_clear(&r);
}

static void test_post_body_and_headers_echoed(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };
    const char *headers[] = { "X-Test: abc 123", "Content-Type: application/json", NULL };
    char body[] = { 'a', '\0', 'b' }; /* length, not strlen, decides */
    struct http_request req = { .method = "POST", .url = url(fx, "/echo"),
                                .headers = headers, .body = body, .body_len = sizeof(body) };

    assert_int_equal(http_client_request(fx->hc, &req, on_done_record, &r), 0);
    body[0] = 'Z'; /* the client must have copied it */
    assert_true(run_until(fx, &r.calls, 1, 5));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.curl_code, 0);
    const char want[] = "POST|abc 123|application/json|-|3|a\0b";
    assert_int_equal(r.body_len, sizeof(want) - 1);
    assert_memory_equal(r.body, want, sizeof(want) - 1);
    result_clear(&r);
}

/* curl would add "Expect: 100-continue" to big POSTs and stall on peers
 * that never answer it; the client must suppress that header. */
static void test_post_large_body_without_expect(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };
    size_t n = 3 * 1024 * 1024 / 2;
    char *body = malloc(n);
    memset(body, 'q', n);
    struct http_request req = { .method = "POST", .url = url(fx, "/echo"),
                                .body = body, .body_len = n };

    assert_int_equal(http_client_request(fx->hc, &req, on_done_record, &r), 0);
    free(body);
    assert_true(run_until(fx, &r.calls, 1, 10));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.curl_code, 0);
    char want[96];
    snprintf(want, sizeof(want), "POST|-|application/x-www-form-urlencoded|-|%zu|", n);
    assert_string_equal(r.body, want);
    result_clear(&r);
}

static void test_500_is_a_status_not_an_error(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };

    get(fx, "/fail", 0, &r);
    assert_true(run_until(fx, &r.calls, 1, 5));
    assert_int_equal(r.status, 500);
    assert_int_equal(r.curl_code, 0);
    assert_null(r.error);
    assert_string_equal(r.body, "boom");
    result_clear(&r);
}

static void test_redirect_not_followed(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };

    get(fx, "/redirect", 0, &r);
    assert_true(run_until(fx, &r.calls, 1, 5));
    assert_int_equal(r.status, 302);
    assert_int_equal(r.curl_code, 0);
    assert_int_equal(fx->requests_seen, 1);
    result_clear(&r);
}

static void test_connection_refused(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", closed_port());
    struct http_request req = { .method = "GET", .url = u };

    assert_int_equal(http_client_request(fx->hc, &req, on_done_record, &r), 0);
    assert_true(run_until(fx, &r.calls, 1, 5));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.curl_code, CURLE_COULDNT_CONNECT);
    assert_non_null(r.error);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(http_client_pending(fx->hc), 0);
    result_clear(&r);
}

static void test_timeout(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };

    get(fx, "/hang", 200, &r);
    assert_true(run_until(fx, &r.calls, 1, 5));
    run_for(fx, 50);
    assert_int_equal(r.calls, 1);
    assert_int_equal(fx->nhung, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_non_null(r.error);
    assert_true(r.total_ms >= 150.0);
    assert_true(r.total_ms < 3000.0);
    result_clear(&r);
}

static void test_unsupported_protocol_reported_from_loop(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };
    struct http_request req = { .url = "ftp://127.0.0.1/x" }; /* NULL method = GET */

    assert_int_equal(http_client_request(fx->hc, &req, on_done_record, &r), 0);
    assert_int_equal(r.calls, 0);
    assert_true(run_until(fx, &r.calls, 1, 5));
    assert_int_equal(r.curl_code, CURLE_UNSUPPORTED_PROTOCOL);
    assert_non_null(r.error);
    result_clear(&r);
}

static void test_invalid_requests_rejected(void **state) {
    struct fixture *fx = *state;
    struct result r = { 0 };
    const char *smuggle[] = { "X-A: 1\r\nX-B: 2", NULL };
    const char *nocolon[] = { "X-A 1", NULL };
    struct http_request ok = { .method = "GET", .url = url(fx, "/hello") };
    struct http_request bad;

    assert_int_equal(http_client_request(NULL, &ok, on_done_record, &r), -1);
    assert_int_equal(http_client_request(fx->hc, NULL, on_done_record, &r), -1);
    assert_int_equal(http_client_request(fx->hc, &ok, NULL, &r), -1);
    bad = ok; bad.url = NULL;
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    bad = ok; bad.method = "PUT";
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    bad = ok; bad.headers = smuggle;
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    bad = ok; bad.headers = nocolon;
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    bad = ok; bad.timeout_ms = -1;
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    bad = ok; bad.method = "POST"; bad.body = NULL; bad.body_len = 5;
    assert_int_equal(http_client_request(fx->hc, &bad, on_done_record, &r), -1);
    assert_int_equal(http_client_pending(fx->hc), 0);
    run_for(fx, 20);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fx->requests_seen, 0);
}

static void test_body_cap(void **state) {
    struct fixture *fx = *state;
    struct result at = { 0 }, over = { 0 }, chunked_at = { 0 }, chunked_over = { 0 };
    char p1[32], p2[32], p3[32], p4[32];
    snprintf(p1, sizeof(p1), "/big/%d", MAX_BODY);
    snprintf(p2, sizeof(p2), "/big/%d", MAX_BODY + 1);
    snprintf(p3, sizeof(p3), "/chunked/%d", MAX_BODY);
    snprintf(p4, sizeof(p4), "/chunked/%d", MAX_BODY + 1);
    int done = 0;

    get(fx, p1, 0, &at);
    get(fx, p2, 0, &over);
    get(fx, p3, 0, &chunked_at);
    get(fx, p4, 0, &chunked_over);
    for (int i = 0; i < 200 && done < 4; i++) {
        run_for(fx, 50);
        done = at.calls + over.calls + chunked_at.calls + chunked_over.calls;
    }
    assert_int_equal(done, 4);

    assert_int_equal(at.curl_code, 0);
    assert_int_equal(at.body_len, MAX_BODY);
    assert_int_equal(chunked_at.curl_code, 0);
    assert_int_equal(chunked_at.body_len, MAX_BODY);
    assert_int_equal(chunked_at.body[MAX_BODY - 1], 'x');

    /* Content-Length known up front, and discovered while reading. */
    assert_int_not_equal(over.curl_code, 0);
    assert_int_equal(over.body_len, 0);
    assert_non_null(strstr(over.error, "exceeds"));
    assert_int_not_equal(chunked_over.curl_code, 0);
    assert_int_equal(chunked_over.body_len, 0);
    assert_non_null(strstr(chunked_over.error, "exceeds"));
    result_clear(&at);
    result_clear(&over);
    result_clear(&chunked_at);
    result_clear(&chunked_over);
}

#define CONCURRENT 200

struct tagged {
    int index;
    int calls;
    int ok;
    int *total;
};

static void on_done_tagged(const struct http_response *res, void *arg) {
    struct tagged *t = arg;
    char want[32];
    snprintf(want, sizeof(want), "id:%d", t->index);
    t->calls++;
    (*t->total)++;
    t->ok = res->status == 200 && res->curl_code == 0 && strcmp(res->body, want) == 0;
}

static void test_concurrent_requests_complete_once(void **state) {
    struct fixture *fx = *state;
    struct tagged *t = calloc(CONCURRENT, sizeof(*t));
    int total = 0;

    for (int i = 0; i < CONCURRENT; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/id/%d", i);
        t[i].index = i;
        t[i].total = &total;
        struct http_request req = { .method = "GET", .url = url(fx, path) };
        assert_int_equal(http_client_request(fx->hc, &req, on_done_tagged, &t[i]), 0);
    }
    assert_int_equal(http_client_pending(fx->hc), CONCURRENT);
    assert_true(run_until(fx, &total, CONCURRENT, 30));
    run_for(fx, 50); /* any duplicate completion would show up here */
    assert_int_equal(total, CONCURRENT);
    for (int i = 0; i < CONCURRENT; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_true(t[i].ok);
    }
    assert_int_equal(http_client_pending(fx->hc), 0);
    free(t);
}

struct chain {
    struct fixture *fx;
    int started;
    int completed;
    int want;
    int all_ok;
};

static void on_done_chain(const struct http_response *res, void *arg) {
    struct chain *ch = arg;
    ch->completed++;
    if (res->status != 200 || http_client_pending(ch->fx->hc) != 0) ch->all_ok = 0;
    if (ch->started < ch->want) {
        struct http_request req = { .method = "GET", .url = url(ch->fx, "/hello") };
        if (http_client_request(ch->fx->hc, &req, on_done_chain, ch) == 0) ch->started++;
        else ch->all_ok = 0;
        if (http_client_pending(ch->fx->hc) != 1) ch->all_ok = 0;
    }
}

static void test_request_from_done_callback(void **state) {
    struct fixture *fx = *state;
    struct chain ch = { .fx = fx, .want = 5, .all_ok = 1 };
    struct http_request req = { .method = "GET", .url = url(fx, "/hello") };

    assert_int_equal(http_client_request(fx->hc, &req, on_done_chain, &ch), 0);
    ch.started = 1;
    assert_true(run_until(fx, &ch.completed, 5, 10));
    run_for(fx, 20);
    assert_int_equal(ch.started, 5);
    assert_int_equal(ch.completed, 5);
    assert_true(ch.all_ok);
    assert_int_equal(fx->requests_seen, 5);
    assert_int_equal(http_client_pending(fx->hc), 0);
}

static void on_done_must_not_run(const struct http_response *res, void *arg) {
    (void)res;
    (*(int *)arg)++;
}

static void test_free_with_requests_in_flight(void **state) {
    struct fixture *fx = *state;
    int calls = 0;
    int hung_target = 3;
    const char *headers[] = { "X-Test: 1", NULL };

    for (int i = 0; i < hung_target; i++) {
        struct http_request req = { .method = "GET", .url = url(fx, "/hang") };
        assert_int_equal(http_client_request(fx->hc, &req, on_done_must_not_run, &calls), 0);
    }
    /* Wait until the server holds all of them: sockets are live. */
    int seen = 0;
    for (int i = 0; i < 100 && seen < hung_target; i++) {
        run_for(fx, 20);
        seen = (int)fx->nhung;
    }
    assert_int_equal(seen, hung_target);
    /* And some that have not even connected yet (timer still pending). */
    for (int i = 0; i < 2; i++) {
        struct http_request req = { .method = "POST", .url = url(fx, "/echo"),
                                    .headers = headers, .body = "x", .body_len = 1 };
        assert_int_equal(http_client_request(fx->hc, &req, on_done_must_not_run, &calls), 0);
    }
    assert_int_equal(http_client_pending(fx->hc), 5);
    http_client_free(fx->hc);
    fx->hc = NULL;
    run_for(fx, 50); /* no stale event may fire into freed memory */
    assert_int_equal(calls, 0);
}

static void test_new_free_idle(void **state) {
    struct fixture *fx = *state;
    struct http_client *hc = http_client_new(fx->base);
    assert_non_null(hc);
    assert_int_equal(http_client_pending(hc), 0);
    http_client_free(hc);
    http_client_free(NULL);
    assert_null(http_client_new(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_200_with_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body_and_headers_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_large_body_without_expect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_is_a_status_not_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_protocol_reported_from_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_requests_complete_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_from_done_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_requests_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_free_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
