#ifndef MASHANG_SERVER_H
#define MASHANG_SERVER_H
/* The inbound HTTP server (evhttp): its listeners, connection limits and
 * request deadlines.  It knows no endpoint: requests go to the routes the
 * layers above registered (route.h); replies are in reply.h. */
#include <stddef.h>

struct config;
struct event_base;
struct http_routes;
struct metrics;
struct server;

/* Binds cfg->listen_host:listen_port, and cfg->listen_internal_* when set
 * (then the public listener serves only the routes of HTTP_DOOR_PUBLIC and
 * the internal one those of HTTP_DOOR_INTERNAL; a single listener serves
 * both).  Holds at most `conn_cap` client connections (accept pauses at
 * the cap, the internal listener has a little headroom beyond it); a
 * request's line and headers must arrive within limits.header_timeout_s,
 * its body within limits.body_timeout_s after them.  Takes `routes`
 * (freed with the server, or at once on failure; NULL fails); `cfg`, `base` and
 * `metrics` must outlive it.  NULL (logged) on failure. */
struct server *server_new(struct event_base *base, const struct config *cfg,
                          struct http_routes *routes, struct metrics *metrics, size_t conn_cap);
void server_free(struct server *srv);
/* Stops taking new connections; requests in flight still complete. */
void server_stop_accepting(struct server *srv);
/* Requests accepted and not yet answered. */
size_t server_inflight(const struct server *srv);

#endif
