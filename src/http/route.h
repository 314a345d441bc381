#ifndef MASHANG_ROUTE_H
#define MASHANG_ROUTE_H
/* The route table of the HTTP server.  The http layer knows no endpoint:
 * the layers above describe theirs (static struct http_route arrays) and
 * register them with the context their handler gets; the server and the
 * fuzz target (tests/fuzz/fuzz_http.c) decide on the same table
 * (http_decide, http_head.h).  Routes are matched in the order they were
 * added; the first whose path and door fit wins. */
#include <stddef.h>

#include <event2/http.h>

struct evhttp_request;

/* The listening sockets a route is served on (docs: listen_internal):
 * with one listener, it serves both. */
enum http_door {
    HTTP_DOOR_PUBLIC = 1,      /* the platforms' webhooks */
    HTTP_DOOR_INTERNAL = 2,    /* the gateway, the administrators, monitoring */
};

/* Every method evhttp lets through but HEAD (only routes that list it take
 * HEAD; every answer to it is bodiless) and CONNECT (always refused). */
#define HTTP_ANY_METHOD                                                                        \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |                   \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH)

/* `path`: the request's whole path; `rest`: what follows the route's
 * prefix ("" for an exact route).  The handler answers `req`, at once or
 * later from the loop. */
typedef void (*http_handler_fn)(void *ctx, struct evhttp_request *req, const char *path,
                                const char *rest);

struct http_route {
    const char *path;          /* exact, or a prefix when it ends in '/' */
    int methods;               /* enum evhttp_cmd_type bits it serves */
    const char *not_allowed;   /* detail of the 405 for another method */
    int doors;                 /* enum http_door bits */
    http_handler_fn handler;
};

struct http_routes;

struct http_routes *http_routes_new(void);
void http_routes_free(struct http_routes *t);
/* Appends `n` routes, each to be handled with `ctx`.  The routes are
 * referenced, not copied (they are static descriptions); the table owns
 * nothing of `ctx`.  Returns 0, -1 on OOM. */
int http_routes_add(struct http_routes *t, const struct http_route *routes, size_t n, void *ctx);

/* The first route serving `path` on a door of kind `doors`, its context in
 * *ctx; NULL when none. */
const struct http_route *http_routes_find(const struct http_routes *t, const char *path,
                                          int doors, void **ctx);
/* The 405 detail for a HEAD on a route that does not list it: "HEAD is
 * for <the paths that list it> only". */
const char *http_routes_head_detail(const struct http_routes *t);

#endif
