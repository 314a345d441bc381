#ifndef MASHANG_DAEMON_ROUTES_H
#define MASHANG_DAEMON_ROUTES_H
/* Every route the daemon serves (contract §3): /healthz, the
 * administrators' and every channel's.  The worker hands the table to its
 * server; the fuzz target of the request path builds the same one. */
#include "core/app.h"

struct http_routes;

/* A new table of every route, each with `app` as its context (`app` may
 * be NULL where nothing will be handled).  NULL on OOM; the caller owns
 * it (http_routes_free, or server_new takes it). */
struct http_routes *daemon_routes(struct app *app);

#endif
