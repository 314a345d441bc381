/* The route table of a worker: /healthz here, the rest from admin and the
 * channel table. */
#include "daemon/routes.h"

#include <stdbool.h>
#include <stdio.h>

#include "base/config.h"
#include "core/app.h"
#include "core/tenant.h"

#include "admin/admin.h"
#include "admin/console.h"
#include "core/outbox.h"
#include "daemon/channels.h"
#include "http/reply.h"
#include "http/route.h"
#include "store/store.h"

#define MASHANG_VERSION "0.1.0"

static void handle_healthz(void *ctx, struct evhttp_request *req, const char *path,
                           const char *rest)
{
    struct app *app = ctx;
    char body[256];
    (void)path;
    (void)rest;
    /* Degraded while any county's Redis is away (its messages spool). */
    size_t up = 0, pending = 0, inflight = 0, n = tenant_count(app);
    for (size_t i = 0; i < n; i++) {
        const struct app *t = tenant_at(app, i);
        up += store_connected(t->store) ? 1 : 0;
        pending += store_pending(t->store);
        inflight += t->outbox ? outbox_inflight(t->outbox) : 0;
    }
    bool ok = up == n;
    snprintf(body, sizeof(body),
             "{\"status\":\"%s\",\"redis\":%s,\"version\":\"%s\",\"redis_pending\":%zu,"
             "\"outbox_inflight\":%zu,\"tenants\":%zu,\"tenants_redis_up\":%zu}",
             ok ? "ok" : "degraded", ok ? "true" : "false", MASHANG_VERSION, pending, inflight, n, up);
    http_send_json(req, ok ? 200 : 503, body);
}

/* On both doors, for load balancers and the gateway alike; the one route
 * that answers HEAD. */
static const struct http_route healthz[] = {
    { "/healthz", HTTP_ANY_METHOD | EVHTTP_REQ_HEAD, NULL, HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL,
      handle_healthz },
};

struct http_routes *daemon_routes(struct app *app)
{
    struct http_routes *t = http_routes_new();
    if (!t || http_routes_add(t, healthz, 1, app) < 0 || channels_routes(t, app) < 0 ||
        admin_routes(t, app) < 0 || console_routes(t, app) < 0) {
        http_routes_free(t);
        return NULL;
    }
    return t;
}
