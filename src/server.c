/* evhttp server: routing, limits and reply helpers. */
#include "mashang/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <netdb.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mashang/admin.h"
#include "mashang/chat.h"
#include "mashang/config.h"
#include "mashang/log.h"
#include "mashang/metrics.h"
#include "mashang/outbox.h"
#include "mashang/sms_kannel.h"
#include "mashang/store.h"
#include "mashang/wechat.h"

#define MASHANG_VERSION "0.1.0"

struct server {
    struct app *app;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    size_t inflight;
};

void http_send_json(struct evhttp_request *req, int code, const char *json_text)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf)
        evbuffer_add_printf(buf, "%s\n", json_text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (code == 503)   /* a worker starting, or Redis and spool both away: soon */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    const char *reason = code == 200 ? "OK" : code == 400 ? "Bad Request" : code == 401 ? "Unauthorized"
                       : code == 403 ? "Forbidden" : code == 404 ? "Not Found"
                       : code == 405 ? "Method Not Allowed" : code == 413 ? "Payload Too Large"
                       : code == 503 ? "Service Unavailable" : "Error";
    evhttp_send_reply(req, code, reason, buf);
    if (buf)
        evbuffer_free(buf);
}

/* Escapes `s` for a JSON string body (the texts here are our own, ASCII). */
static void json_escape(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; s && *s && o + 2 < outsz; s++) {
        if (*s == '"' || *s == '\\')
            out[o++] = '\\';
        out[o++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    out[o] = '\0';
}

void http_send_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
    char e[64], d[256], body[400];
    json_escape(error, e, sizeof(e));
    json_escape(detail, d, sizeof(d));
    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}", e, d);
    http_send_json(req, code, body);
}

char *http_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *body = malloc(n + 1);
    if (!body)
        return NULL;
    evbuffer_copyout(in, body, n);
    body[n] = '\0';
    *len = n;
    return body;
}

/* Per-request bookkeeping, freed when evhttp reports the request done. */
struct request_ctx {
    struct server *srv;
    struct timeval started;
};

static void on_request_complete(struct evhttp_request *req, void *arg)
{
    struct request_ctx *ctx = arg;
    struct timeval now;
    (void)req;
    gettimeofday(&now, NULL);
    metrics_http(ctx->srv->app->metrics, (double)(now.tv_sec - ctx->started.tv_sec) +
                                         (double)(now.tv_usec - ctx->started.tv_usec) / 1e6);
    ctx->srv->inflight--;
    free(ctx);
}

static void handle_healthz(struct server *srv, struct evhttp_request *req)
{
    struct app *app = srv->app;
    char body[256];
    int ok = store_connected(app->store);
    snprintf(body, sizeof(body),
             "{\"status\":\"%s\",\"redis\":%s,\"version\":\"%s\",\"redis_pending\":%zu,"
             "\"outbox_inflight\":%zu}",
             ok ? "ok" : "degraded", ok ? "true" : "false", MASHANG_VERSION,
             store_pending(app->store), app->outbox ? outbox_inflight(app->outbox) : 0);
    http_send_json(req, ok ? 200 : 503, body);
}

static int method_is(struct evhttp_request *req, int mask)
{
    return (evhttp_request_get_command(req) & mask) != 0;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    struct request_ctx *ctx = malloc(sizeof(*ctx));
    if (ctx) {
        ctx->srv = srv;
        gettimeofday(&ctx->started, NULL);
        srv->inflight++;
        evhttp_request_set_on_complete_cb(req, on_request_complete, ctx);
    }
    if (!path)
        path = "/";

    if (strcmp(path, "/healthz") == 0) {
        handle_healthz(srv, req);
    } else if (strcmp(path, "/sms/kannel") == 0) {
        if (!method_is(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST))
            http_send_error(req, 405, "method_not_allowed", "use GET or POST");
        else
            sms_kannel_inbound(srv->app, req);
    } else if (strcmp(path, "/sms/kannel/dlr") == 0) {
        if (!method_is(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST))
            http_send_error(req, 405, "method_not_allowed", "use GET");
        else
            sms_kannel_dlr(srv->app, req);
    } else if (strncmp(path, "/wechat/", 8) == 0) {
        wechat_handle(srv->app, req, path + 8);
    } else if (strncmp(path, "/chat/", 6) == 0) {
        if (!method_is(req, EVHTTP_REQ_POST))
            http_send_error(req, 405, "method_not_allowed", "use POST");
        else
            chat_handle(srv->app, req, path + 6);
    } else if (strcmp(path, "/sms/http") == 0) {
        if (!method_is(req, EVHTTP_REQ_POST))
            http_send_error(req, 405, "method_not_allowed", "use POST");
        else
            sms_http_handle(srv->app, req);
    } else if (strcmp(path, "/metrics") == 0) {
        metrics_handle(srv->app, req);
    } else if (strncmp(path, "/admin/", 7) == 0) {
        admin_handle(srv->app, req, path);
    } else {
        http_send_error(req, 404, "not_found", "no such endpoint");
    }
}

/* A listening socket of its own for each worker: with SO_REUSEPORT the
 * kernel spreads new connections over the workers' sockets. */
static evutil_socket_t listen_socket(const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char portstr[16];
    int one = 1;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
        return -1;
    evutil_socket_t fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0 ||
        evutil_make_socket_nonblocking(fd) < 0) {
        if (fd >= 0)
            evutil_closesocket(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

struct server *server_new(struct app *app)
{
    const struct config *cfg = app->cfg;
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->app = app;
    srv->http = evhttp_new(app->base);
    if (!srv->http) {
        free(srv);
        return NULL;
    }
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->limits.body_max);
    evhttp_set_max_headers_size(srv->http, 16384);
    evhttp_set_timeout(srv->http, 30);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(srv->http, dispatch, srv);
    evutil_socket_t fd = listen_socket(cfg->listen_host, cfg->listen_port);
    srv->sock = fd >= 0 ? evhttp_accept_socket_with_handle(srv->http, fd) : NULL;
    if (!srv->sock) {
        log_error("listen_failed", "addr=%s:%d", cfg->listen_host, cfg->listen_port);
        if (fd >= 0)
            evutil_closesocket(fd);
        evhttp_free(srv->http);
        free(srv);
        return NULL;
    }
    log_info("listening", "addr=%s:%d", cfg->listen_host, cfg->listen_port);
    return srv;
}

void server_stop_accepting(struct server *srv)
{
    if (srv->sock) {
        evhttp_del_accept_socket(srv->http, srv->sock);
        srv->sock = NULL;
    }
}

size_t server_inflight(const struct server *srv)
{
    return srv->inflight;
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    evhttp_free(srv->http);
    free(srv);
}
