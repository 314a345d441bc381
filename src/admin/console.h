#ifndef MASHANG_CONSOLE_H
#define MASHANG_CONSOLE_H
/* The web console (docs/console.md): its static files under /console/,
 * sign-in and sign-out, and the session cookie that the administrators'
 * API accepts beside the bearer token.  A session is one Redis key with
 * an expiry holding its CSRF token; every write made with a session must
 * carry that token in the X-CSRF-Token header. */
#include "core/app.h"

struct evhttp_request;
struct http_routes;

/* What runs once a session was found valid for a request. */
typedef void (*console_then_fn)(struct app *app, struct evhttp_request *req, const char *path);

/* Registers /console and /console/ (internal door) with `app` as context.
 * Returns 0, -1 on OOM. */
int console_routes(struct http_routes *t, struct app *app);

/* When `req` carries a session cookie: looks the session up in Redis and
 * either calls `then(app, req, path)` (valid session; CSRF token checked
 * for anything but GET and HEAD) or answers 401/403 itself; returns 1
 * (the request is answered now or later).  Returns 0 when there is no
 * session cookie at all: the caller answers. */
int console_session_auth(struct app *app, struct evhttp_request *req, const char *path,
                         console_then_fn then);

#endif
