#ifndef MASHANG_HTTP_HEAD_H
#define MASHANG_HTTP_HEAD_H
/* Internal to the HTTP server (src/http/server.c), declared here so the fuzz
 * target tests/fuzz/fuzz_http.c can drive it without a network: the head
 * scanner that reads request bytes before evhttp does, the framing
 * verdict, and the decision on the route table (route.h).  None of it touches a socket or libevent
 * state; src/http/http_head.c holds it. */
#include <stdbool.h>
#include <stddef.h>

struct evkeyvalq;

/* Looks at request bytes as they arrive, before evhttp parses them, for
 * what evhttp accepts and we refuse: obsolete line folding (a header line
 * starting with a space or tab).  It follows one request head from its
 * first byte to its empty line; the body is not looked at, and scanning
 * restarts on the bytes after the request when it is dispatched. */
struct head_scan {
    bool in_head;
    bool seen_request_line;
    bool line_start;
    bool line_empty;       /* nothing but CR yet on this line */
    bool folded;
};

void head_scan_reset(struct head_scan *s);
/* Scans p[0..n) and returns how many bytes it looked at: n, or fewer when
 * the head ended inside them (the bytes after the empty line's '\n' are the
 * body or the next request).  Feeding a stream in any split gives the same
 * state as feeding it whole. */
size_t head_scan_bytes(struct head_scan *s, const unsigned char *p, size_t n);

/* Headers called `name` (ASCII case-insensitive) in `headers`. */
size_t http_header_count(const struct evkeyvalq *headers, const char *name);

struct http_routes;
struct http_route;

/* What becomes of a request evhttp has parsed. */
enum http_outcome {
    HTTP_REFUSED,              /* 400 or 405, answered and the connection closed */
    HTTP_ROUTED,               /* to `route`'s handler */
    HTTP_NOT_ALLOWED,          /* 405 with `detail`, connection kept */
    HTTP_NOT_FOUND,            /* 404, connection kept */
};

struct http_verdict {
    enum http_outcome outcome;
    int refused;               /* HTTP_REFUSED: 400 or 405, else 0 */
    const char *error;         /* for every outcome but HTTP_ROUTED */
    const char *detail;
    const struct http_route *route;  /* HTTP_ROUTED only */
    void *ctx;                 /* its context */
    size_t tail;               /* offset into the path of what follows the route's prefix */
};

/* The framing facts of one request: from its head scan and evhttp's
 * parsed headers. */
struct http_framing {
    bool folded;
    size_t content_length;     /* Content-Length headers */
    size_t transfer_encoding;  /* Transfer-Encoding headers */
};

/* NULL if the request is framed unambiguously, else why not. */
const char *http_framing_problem(const struct http_framing *f);

/* The whole decision for one request: a framing problem is refused 400,
 * CONNECT 405, anything else goes to the route of `path` in `routes` among
 * those served on a door of kind `doors` (enum http_door bits, route.h);
 * HEAD reaches only routes that list it.  `cmd` is evhttp's enum
 * evhttp_cmd_type. */
void http_decide(const struct http_routes *routes, const struct http_framing *f, int cmd,
                 const char *path, int doors, struct http_verdict *v);

#endif
