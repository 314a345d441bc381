#ifndef MASHANG_ADMIN_H
#define MASHANG_ADMIN_H
/* The administrators' HTTP API under /admin/ (contract §3): bearer-token
 * authentication, cases, deputies, statistics, reassignment, reload and
 * intent testing.  JSON everywhere; statistics also as CSV. */
#include "core/app.h"

struct evhttp_request;
struct http_routes;

/* Registers /admin/ and /metrics (internal door) with `app` as context.
 * Returns 0, -1 on OOM. */
int admin_routes(struct http_routes *t, struct app *app);

/* Handles any request whose path starts with "/admin/". */
void admin_handle(struct app *app, struct evhttp_request *req, const char *path);

/* GET /metrics: the process's counters (every worker's, summed) plus gauges
 * read from Redis. */
void metrics_handle(struct app *app, struct evhttp_request *req);

#endif
