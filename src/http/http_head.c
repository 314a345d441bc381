/* The request path's own decisions, apart from sockets and evhttp state:
 * the head scanner, the framing verdict and the route table (see
 * mashang/http_head.h; used by src/http/server.c, fuzzed by tests/fuzz/fuzz_http.c). */
#include "http/http_head.h"

#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

void head_scan_reset(struct head_scan *s)
{
    *s = (struct head_scan){ .in_head = true, .line_start = true, .line_empty = true };
}

size_t head_scan_bytes(struct head_scan *s, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && s->in_head; i++) {
        unsigned char c = p[i];
        if (c == '\n') {
            if (s->line_empty && s->seen_request_line)
                s->in_head = false;          /* the empty line: the body follows */
            else if (!s->line_empty)
                s->seen_request_line = true;
            s->line_start = true;
            s->line_empty = true;
            continue;
        }
        if (s->line_start && s->seen_request_line && (c == ' ' || c == '\t'))
            s->folded = true;
        s->line_start = false;
        if (c != '\r')
            s->line_empty = false;
    }
    return i;
}

size_t http_header_count(const struct evkeyvalq *headers, const char *name)
{
    size_t n = 0;
    for (const struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next)
        if (evutil_ascii_strcasecmp(h->key, name) == 0)
            n++;
    return n;
}

/* What evhttp lets through and a proxy in front of us may read otherwise. */
const char *http_framing_problem(const struct http_framing *f)
{
    if (f->folded)
        return "obsolete header line folding";
    if (f->content_length > 1)
        return "more than one Content-Length";
    if (f->content_length && f->transfer_encoding)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

static void method_not_allowed(struct http_verdict *v, const char *detail)
{
    v->ep = HTTP_EP_METHOD_NOT_ALLOWED;
    v->error = "method_not_allowed";
    v->detail = detail;
}

/* `ep` if cmd is one of `methods`, else a 405 with `detail`. */
static void endpoint(struct http_verdict *v, int cmd, int methods, enum http_endpoint ep,
                     const char *detail)
{
    if (cmd & methods)
        v->ep = ep;
    else
        method_not_allowed(v, detail);
}

void http_decide(const struct http_framing *f, int cmd, const char *path, bool pub,
                 bool internal, struct http_verdict *v)
{
    *v = (struct http_verdict){ .ep = HTTP_EP_NONE };
    const char *problem = http_framing_problem(f);
    if (problem) {
        v->refused = 400;
        v->error = "bad_request";
        v->detail = problem;
        return;
    }
    if (cmd == EVHTTP_REQ_CONNECT) {
        /* evhttp never closes after CONNECT; the server does. */
        v->refused = 405;
        v->error = "method_not_allowed";
        v->detail = "CONNECT is not served";
        return;
    }
    const int any = ~0;
    if (strcmp(path, "/healthz") == 0) {
        v->ep = HTTP_EP_HEALTHZ;
    } else if (cmd & EVHTTP_REQ_HEAD) {
        /* Only /healthz answers HEAD; every answer to it is bodiless. */
        method_not_allowed(v, "HEAD is for /healthz only");
    } else if (internal && strcmp(path, "/sms/kannel") == 0) {
        endpoint(v, cmd, EVHTTP_REQ_GET | EVHTTP_REQ_POST, HTTP_EP_SMS_KANNEL, "use GET or POST");
    } else if (internal && strcmp(path, "/sms/kannel/dlr") == 0) {
        endpoint(v, cmd, EVHTTP_REQ_GET | EVHTTP_REQ_POST, HTTP_EP_SMS_KANNEL_DLR, "use GET");
    } else if (pub && strncmp(path, "/wechat/", 8) == 0) {
        endpoint(v, cmd, any, HTTP_EP_WECHAT, NULL);
        v->tail = 8;
    } else if (pub && strncmp(path, "/chat/", 6) == 0) {
        endpoint(v, cmd, EVHTTP_REQ_POST, HTTP_EP_CHAT, "use POST");
        v->tail = 6;
    } else if (internal && strcmp(path, "/sms/http") == 0) {
        endpoint(v, cmd, EVHTTP_REQ_POST, HTTP_EP_SMS_HTTP, "use POST");
    } else if (internal && strcmp(path, "/metrics") == 0) {
        v->ep = HTTP_EP_METRICS;
    } else if (internal && strncmp(path, "/admin/", 7) == 0) {
        v->ep = HTTP_EP_ADMIN;
    } else {
        v->ep = HTTP_EP_NOT_FOUND;
        v->error = "not_found";
        v->detail = "no such endpoint";
    }
}
