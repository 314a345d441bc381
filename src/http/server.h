#ifndef MASHANG_SERVER_H
#define MASHANG_SERVER_H
/* The inbound HTTP server (evhttp) and its routes (contract §3), plus the
 * small reply helpers every endpoint uses. */
#include <stddef.h>

#include "core/app.h"

struct evhttp_request;
struct server;

/* Binds cfg->listen_host:listen_port, and cfg->listen_internal_* when set
 * (then the public listener serves only /wechat/, /chat/ and /healthz and
 * the internal one /sms/, /admin/, /metrics and /healthz).  Holds at most
 * `conn_cap` client connections (accept pauses at the cap, the internal
 * listener has a little headroom beyond it); a request's line and headers
 * must arrive within limits.header_timeout_s, its body within
 * limits.body_timeout_s after them.  NULL (logged) on failure. */
struct server *server_new(struct app *app, size_t conn_cap);
void server_free(struct server *srv);
/* Stops taking new connections; requests in flight still complete. */
void server_stop_accepting(struct server *srv);
/* Requests accepted and not yet answered. */
size_t server_inflight(const struct server *srv);

/* Sends a JSON object {"error":..., "detail":...} with `code`. */
void http_send_error(struct evhttp_request *req, int code, const char *error, const char *detail);
/* Sends `json_text` (a complete JSON document) with `code`. */
void http_send_json(struct evhttp_request *req, int code, const char *json_text);
/* A malloc'd NUL-terminated copy of the request body and its length;
 * NULL on OOM. */
char *http_body(struct evhttp_request *req, size_t *len);

#endif
