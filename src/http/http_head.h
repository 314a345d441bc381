#ifndef MASHANG_HTTP_HEAD_H
#define MASHANG_HTTP_HEAD_H
/* Internal to the HTTP server (src/http/server.c), declared here so the fuzz
 * target tests/fuzz/fuzz_http.c can drive it without a network: the head
 * scanner that reads request bytes before evhttp does, the framing
 * verdict, and the route table.  None of it touches a socket or libevent
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

/* What the request path does with a request evhttp has parsed. */
enum http_endpoint {
    HTTP_EP_NONE,              /* refused: no route (status 400 or 405) */
    HTTP_EP_HEALTHZ,
    HTTP_EP_METHOD_NOT_ALLOWED,/* 405 with `detail`, connection kept */
    HTTP_EP_SMS_KANNEL,
    HTTP_EP_SMS_KANNEL_DLR,
    HTTP_EP_WECHAT,            /* path + tail: the account */
    HTTP_EP_CHAT,              /* path + tail: the channel */
    HTTP_EP_SMS_HTTP,
    HTTP_EP_METRICS,
    HTTP_EP_ADMIN,             /* the whole path */
    HTTP_EP_NOT_FOUND,
    HTTP_EP_COUNT
};

struct http_verdict {
    int refused;               /* 0, or 400 / 405: answered and the connection closed */
    const char *error;         /* for a refusal or HTTP_EP_METHOD_NOT_ALLOWED */
    const char *detail;
    enum http_endpoint ep;     /* HTTP_EP_NONE iff refused */
    size_t tail;               /* offset into the path handed to the handler */
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
 * CONNECT 405, anything else goes to the route of `path` for a door serving
 * the public endpoints (/wechat/, /chat/), the internal ones (/sms/,
 * /admin/, /metrics), or both.  `cmd` is evhttp's enum evhttp_cmd_type. */
void http_decide(const struct http_framing *f, int cmd, const char *path, bool serves_public,
                 bool serves_internal, struct http_verdict *v);

#endif
