/* The request path's own decisions, apart from sockets and evhttp state:
 * the head scanner, the framing verdict and the decision on the route
 * table (see http/http_head.h; used by src/http/server.c, fuzzed by tests/fuzz/fuzz_http.c). */
#include "http/http_head.h"

#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "http/route.h"

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

static void not_allowed(struct http_verdict *v, const char *detail)
{
    v->outcome = HTTP_NOT_ALLOWED;
    v->error = "method_not_allowed";
    v->detail = detail;
}

void http_decide(const struct http_routes *routes, const struct http_framing *f, int cmd,
                 const char *path, int doors, struct http_verdict *v)
{
    *v = (struct http_verdict){ .outcome = HTTP_REFUSED };
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
    void *ctx = NULL;
    const struct http_route *r = http_routes_find(routes, path, doors, &ctx);
    if ((cmd & EVHTTP_REQ_HEAD) && !(r && (r->methods & EVHTTP_REQ_HEAD))) {
        /* Every answer to HEAD is bodiless: only the routes that say so. */
        not_allowed(v, http_routes_head_detail(routes));
    } else if (!r) {
        v->outcome = HTTP_NOT_FOUND;
        v->error = "not_found";
        v->detail = "no such endpoint";
    } else if (!(cmd & r->methods)) {
        not_allowed(v, r->not_allowed ? r->not_allowed : "method not served here");
    } else {
        v->outcome = HTTP_ROUTED;
        v->route = r;
        v->ctx = ctx;
        v->tail = strlen(r->path);   /* the path starts with it */
    }
}
