/* evhttp server: listeners, connection limits and deadlines, and dispatch
 * through the route table the layers above filled (route.h). */
#include "http/server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <netdb.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/http_head.h"
#include "http/reply.h"
#include "http/route.h"

/* How often repeated warnings are summed up in one log line. */
#define WARN_INTERVAL_S 10
/* After accept() fails (EMFILE, ENFILE, ENOBUFS...) the listener rests until
 * the next server tick instead of spinning on a socket that stays readable. */
#define TICK_MS 500
/* The internal listener may take this many connections beyond the worker's
 * cap, so the gateway, the admin and /healthz get in while the public door
 * is full. */
#define INTERNAL_HEADROOM 32
/* evhttp's own idle timeout (a reply the client does not read). */
#define IDLE_TIMEOUT_S 30

enum warn_kind { WARN_AT_CAP, WARN_DEADLINE, WARN_ACCEPT, WARN_FRAMING, WARN_KINDS };

static const char *const warn_events[WARN_KINDS] = {
    "connections_at_cap", "request_deadline", "accept_failed", "request_refused",
};

/* A warning that may repeat: the first is logged at once, the rest of each
 * WARN_INTERVAL_S as one line with their count. */
struct warn_counter {
    bool open;             /* an interval is running */
    time_t since;
    unsigned long count;   /* events since `since` not yet logged */
    char detail[96];       /* of the last one */
};

struct server;

/* One listening socket with its evhttp. */
struct door {
    struct server *srv;
    const char *name;      /* "public", "internal" or "all" */
    int doors;             /* enum http_door bits: the routes it serves */
    size_t headroom;       /* connections it may take beyond the cap */
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    bool enabled;          /* accept is on */
    bool resting;          /* accept failed; back on at the next tick */
};

/* One accepted connection.  evhttp owns the connection and its
 * bufferevent; this follows it from accept to evhttp's close callback. */
struct conn {
    struct door *door;
    struct bufferevent *bev;
    struct evbuffer_cb_entry *input_cb;  /* on_input on bev's input */
    struct evhttp_connection *evcon;   /* NULL until adopted */
    evutil_socket_t fd;
    struct event *deadline;
    struct conn *next_adopt;
    struct head_scan scan;
    bool in_handler;                   /* a request of it is being answered */
    bool doomed;                       /* close after the answer in flight */
};

struct server {
    struct event_base *base;
    struct metrics *metrics;
    struct http_routes *routes;  /* owned */
    struct door doors[2];
    int ndoors;
    size_t inflight;
    size_t conns;            /* open client connections, all doors */
    size_t cap;
    struct timeval header_timeout;   /* from accept or the previous answer */
    struct timeval body_timeout;     /* from the end of the headers */
    struct conn **by_fd;     /* adopted connections by descriptor */
    size_t nby_fd;
    struct conn *adopting;   /* accepted, evhttp's connection not yet known */
    struct event *adopt_ev;
    struct event *tick_ev;
    struct warn_counter warns[WARN_KINDS];
    bool closing;
};

/* ---- rate-limited warnings ------------------------------------------------ */

static void warn_log(struct warn_counter *w, enum warn_kind k, unsigned long count, long interval_s)
{
    log_warn(warn_events[k], "count=%lu interval_s=%ld %s", count, interval_s, w->detail);
}

static void warn_event(struct server *srv, enum warn_kind k, const char *detail)
{
    struct warn_counter *w = &srv->warns[k];
    snprintf(w->detail, sizeof(w->detail), "%s", detail);
    if (!w->open) {
        w->open = true;
        w->since = time(NULL);
        w->count = 0;
        warn_log(w, k, 1, 0);
        return;
    }
    w->count++;
}

/* Called every tick: each interval that saw events gets one line. */
static void warn_flush(struct server *srv, bool force)
{
    time_t now = time(NULL);
    for (int k = 0; k < WARN_KINDS; k++) {
        struct warn_counter *w = &srv->warns[k];
        if (!w->open || (!force && now - w->since < WARN_INTERVAL_S))
            continue;
        if (w->count)
            warn_log(w, (enum warn_kind)k, w->count, (long)(now - w->since));
        w->open = w->count > 0 && !force;
        w->since = now;
        w->count = 0;
    }
}

/* ---- request head scanning ------------------------------------------------ */

/* Scans `buf` from byte `from` to its end. */
static void scan_buffer(struct head_scan *s, struct evbuffer *buf, size_t from)
{
    struct evbuffer_ptr pos;
    struct evbuffer_iovec vec[8];
    size_t len = evbuffer_get_length(buf);
    while (s->in_head && from < len) {
        if (evbuffer_ptr_set(buf, &pos, from, EVBUFFER_PTR_SET) < 0)
            return;
        int n = evbuffer_peek(buf, (ev_ssize_t)(len - from), &pos, vec, 8);
        if (n <= 0)
            return;
        for (int i = 0; i < n && i < 8 && from < len; i++) {
            size_t take = vec[i].iov_len < len - from ? vec[i].iov_len : len - from;
            head_scan_bytes(s, vec[i].iov_base, take);
            from += take;
        }
    }
}

static void conn_arm(struct conn *c, bool now);

/* Runs as bytes land in the connection's input, before evhttp reads them.
 * The end of the headers starts the body's deadline. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (!info->n_added || !c->scan.in_head)
        return;
    scan_buffer(&c->scan, buf, evbuffer_get_length(buf) - info->n_added);
    if (!c->scan.in_head && !c->in_handler)
        conn_arm(c, false);
}

/* ---- connections and doors ------------------------------------------------ */

static size_t door_cap(const struct door *d)
{
    return d->srv->cap + d->headroom;
}

/* Accept is on while the door is open, not resting and below its cap. */
static void door_update(struct door *d)
{
    struct server *srv = d->srv;
    if (!d->sock)
        return;
    bool want = !srv->closing && !d->resting && srv->conns < door_cap(d);
    if (want == d->enabled)
        return;
    struct evconnlistener *lev = evhttp_bound_socket_get_listener(d->sock);
    if (want)
        evconnlistener_enable(lev);
    else
        evconnlistener_disable(lev);
    d->enabled = want;
    if (!want && !d->resting && !srv->closing) {
        char detail[96];
        snprintf(detail, sizeof(detail), "door=%s connections=%zu cap=%zu", d->name, srv->conns,
                 door_cap(d));
        warn_event(srv, WARN_AT_CAP, detail);
    }
}

static void doors_update(struct server *srv)
{
    for (int i = 0; i < srv->ndoors; i++)
        door_update(&srv->doors[i]);
}

static struct conn *conn_of_fd(const struct server *srv, evutil_socket_t fd)
{
    return fd >= 0 && (size_t)fd < srv->nby_fd ? srv->by_fd[fd] : NULL;
}

static struct conn *conn_of_req(const struct server *srv, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct conn *c = bev ? conn_of_fd(srv, bufferevent_getfd(bev)) : NULL;
    return c && c->evcon == evcon ? c : NULL;
}

static int by_fd_put(struct server *srv, evutil_socket_t fd, struct conn *c)
{
    if (fd < 0)
        return -1;
    if ((size_t)fd >= srv->nby_fd) {
        size_t n = srv->nby_fd ? srv->nby_fd : 256;
        while (n <= (size_t)fd)
            n *= 2;
        struct conn **grown = realloc(srv->by_fd, n * sizeof(*grown));
        if (!grown)
            return -1;
        memset(grown + srv->nby_fd, 0, (n - srv->nby_fd) * sizeof(*grown));
        srv->by_fd = grown;
        srv->nby_fd = n;
    }
    srv->by_fd[fd] = c;
    return 0;
}

/* The connection is going (evhttp's close callback, or evhttp freed it
 * before we adopted it): forget it and reopen the doors. */
static void conn_gone(struct conn *c)
{
    struct server *srv = c->door->srv;
    /* The bufferevent outlives this by a moment (evhttp frees it next). */
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    if (conn_of_fd(srv, c->fd) == c)
        srv->by_fd[c->fd] = NULL;
    if (c->deadline)
        event_free(c->deadline);
    free(c);
    srv->conns--;
    doors_update(srv);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn_gone(arg);
}

/* The request did not arrive in time, or the connection was doomed: close
 * it.  Only armed while no request is in a handler's hands. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (!c->doomed) {
        char detail[96];
        snprintf(detail, sizeof(detail), "door=%s stage=%s", c->door->name,
                 c->scan.in_head ? "headers" : "body");
        warn_event(c->door->srv, WARN_DEADLINE, detail);
    }
    evhttp_connection_free(c->evcon);   /* calls on_conn_close, which frees c */
}

/* (Re)starts the deadline of what the connection is reading: its headers,
 * or its body once the headers are complete; `now` closes it at once.
 * Only called while no request of it is in a handler's hands. */
static void conn_arm(struct conn *c, bool now)
{
    static const struct timeval zero = { 0, 0 };
    const struct server *srv = c->door->srv;
    if (c->deadline)
        event_add(c->deadline, now ? &zero
                               : c->scan.in_head ? &srv->header_timeout : &srv->body_timeout);
}

/* Learns evhttp's connection for what we accepted: evhttp passes it as the
 * argument of the bufferevent callbacks it sets right after bevcb.  A
 * bufferevent evhttp already freed has its callbacks cleared. */
static void adopt(struct conn *c)
{
    struct server *srv = c->door->srv;
    bufferevent_event_cb eventcb = NULL;
    void *arg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &arg);
    c->fd = bufferevent_getfd(c->bev);
    if (!eventcb || !arg || c->fd < 0 || srv->closing) {
        struct bufferevent *bev = c->bev;
        c->fd = -1;
        conn_gone(c);
        bufferevent_decref(bev);
        return;
    }
    c->evcon = arg;
    c->deadline = evtimer_new(srv->base, on_deadline, c);
    if (!c->deadline || by_fd_put(srv, c->fd, c) < 0) {
        /* No deadline, no framing checks: not a connection we serve. */
        evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
        bufferevent_decref(c->bev);
        evhttp_connection_free(c->evcon);
        return;
    }
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
    bufferevent_decref(c->bev);
    conn_arm(c, false);
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    while (srv->adopting) {
        struct conn *c = srv->adopting;
        srv->adopting = c->next_adopt;
        adopt(c);
    }
}

/* evhttp asks for the bufferevent of each connection it accepts: the one
 * place where a new connection is seen before any of its bytes. */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
    struct door *d = arg;
    struct server *srv = d->srv;
    struct conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = c ? bufferevent_socket_new(base, -1, 0) : NULL;
    if (!bev || !(c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c))) {
        if (bev)
            bufferevent_free(bev);
        free(c);
        return NULL;   /* evhttp makes its own; this one goes uncounted */
    }
    c->door = d;
    c->bev = bev;
    c->fd = -1;
    head_scan_reset(&c->scan);
    bufferevent_incref(bev);   /* held until adopt() has looked at it */
    c->next_adopt = srv->adopting;
    srv->adopting = c;
    event_active(srv->adopt_ev, EV_TIMEOUT, 0);
    srv->conns++;
    doors_update(srv);
    return bev;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < srv->ndoors; i++)
        srv->doors[i].resting = false;
    doors_update(srv);
    warn_flush(srv, false);
}

struct find_server {
    struct server *srv;
};

static int match_tick(const struct event_base *base, const struct event *ev, void *arg)
{
    (void)base;
    if (event_get_callback(ev) != on_tick)
        return 0;
    ((struct find_server *)arg)->srv = event_get_callback_arg(ev);
    return 1;
}

/* accept() failed for another reason than a retry (descriptors or memory
 * short): rest the listener until the next tick rather than spin on it.
 * The listener's argument is evhttp's, so the server is found through its
 * tick event on the same loop. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    struct find_server f = { NULL };
    (void)arg;
    evconnlistener_disable(lev);
    event_base_foreach_event(evconnlistener_get_base(lev), match_tick, &f);
    if (!f.srv)
        return;
    for (int i = 0; i < f.srv->ndoors; i++) {
        struct door *d = &f.srv->doors[i];
        if (d->sock && evhttp_bound_socket_get_listener(d->sock) == lev) {
            d->resting = true;
            d->enabled = false;
            char detail[96];
            snprintf(detail, sizeof(detail), "door=%s errno=%d connections=%zu", d->name, err,
                     f.srv->conns);
            warn_event(f.srv, WARN_ACCEPT, detail);
        }
    }
}

/* ---- requests --------------------------------------------------------------- */

/* Per-request bookkeeping, freed when evhttp reports the request done. */
struct request_ctx {
    struct server *srv;
    struct timeval started;
};

static void on_request_complete(struct evhttp_request *req, void *arg)
{
    struct request_ctx *ctx = arg;
    struct server *srv = ctx->srv;
    struct timeval now;
    gettimeofday(&now, NULL);
    metrics_http(srv->metrics, (double)(now.tv_sec - ctx->started.tv_sec) +
                                    (double)(now.tv_usec - ctx->started.tv_usec) / 1e6);
    srv->inflight--;
    free(ctx);
    /* The connection goes back to reading: the next request has its own
     * deadline, and a doomed connection is closed before it reads one. */
    struct conn *c = conn_of_req(srv, req);
    if (c) {
        c->in_handler = false;
        conn_arm(c, c->doomed);
    }
}

/* The framing facts of `req` (c: its connection, if known). */
static struct http_framing framing_of(struct evhttp_request *req, const struct conn *c)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    return (struct http_framing){
        .folded = c && c->scan.folded,
        .content_length = http_header_count(in, "Content-Length"),
        .transfer_encoding = http_header_count(in, "Transfer-Encoding"),
    };
}

/* Answers and closes the connection after the answer. */
static void refuse(struct server *srv, struct evhttp_request *req, struct conn *c, int code,
                   const char *error, const char *detail)
{
    char line[96];
    snprintf(line, sizeof(line), "status=%d error=%s", code, error);
    warn_event(srv, WARN_FRAMING, line);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    if (c)
        c->doomed = true;
    http_send_error(req, code, error, detail);
}

/* Answers what http_decide found. */
static void route(struct evhttp_request *req, const char *path, const struct http_verdict *v)
{
    switch (v->outcome) {
    case HTTP_ROUTED:
        v->route->handler(v->ctx, req, path, path + v->tail);
        break;
    case HTTP_NOT_ALLOWED:
        http_send_error(req, 405, v->error, v->detail);
        break;
    default:
        http_send_error(req, 404, "not_found", "no such endpoint");
        break;
    }
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    struct door *d = arg;
    struct server *srv = d->srv;
    struct conn *c = conn_of_req(srv, req);

    if (c && c->doomed)
        return;   /* pipelined after a refusal: dropped with the connection */
    struct request_ctx *ctx = malloc(sizeof(*ctx));
    if (ctx) {
        ctx->srv = srv;
        gettimeofday(&ctx->started, NULL);
        srv->inflight++;
        evhttp_request_set_on_complete_cb(req, on_request_complete, ctx);
    }
    struct http_framing framing = framing_of(req, c);
    if (c) {
        /* The request is read: it is in our hands now, so no deadline may
         * free its connection; scanning restarts on what follows it. */
        c->in_handler = true;
        event_del(c->deadline);
        head_scan_reset(&c->scan);
        scan_buffer(&c->scan, bufferevent_get_input(c->bev), 0);
    }
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path)
        path = "/";
    /* A framing problem is refused 400, CONNECT 405 (evhttp never closes
     * after CONNECT; c->doomed does), the rest routed. */
    struct http_verdict v;
    http_decide(srv->routes, &framing, (int)evhttp_request_get_command(req), path, d->doors, &v);
    if (v.outcome == HTTP_REFUSED)
        refuse(srv, req, c, v.refused, v.error, v.detail);
    else
        route(req, path, &v);
}

/* ---- listening --------------------------------------------------------------- */

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

static int door_open(struct server *srv, const struct config *cfg, struct door *d,
                     const char *host, int port)
{
    d->srv = srv;
    d->http = evhttp_new(srv->base);
    if (!d->http)
        return -1;
    evhttp_set_max_body_size(d->http, (ev_ssize_t)cfg->limits.body_max);
    evhttp_set_max_headers_size(d->http, 16384);
    evhttp_set_timeout(d->http, IDLE_TIMEOUT_S);
    /* CONNECT is let in only to be refused and closed (evhttp keeps the
     * connection open after its own refusal of CONNECT). */
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_CONNECT);
    evhttp_set_gencb(d->http, dispatch, d);
    evhttp_set_bevcb(d->http, on_accept, d);
    evutil_socket_t fd = listen_socket(host, port);
    d->sock = fd >= 0 ? evhttp_accept_socket_with_handle(d->http, fd) : NULL;
    if (!d->sock) {
        log_error("listen_failed", "door=%s addr=%s:%d", d->name, host, port);
        if (fd >= 0)
            evutil_closesocket(fd);
        return -1;
    }
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(d->sock), on_accept_error);
    d->enabled = true;
    log_info("listening", "door=%s addr=%s:%d", d->name, host, port);
    return 0;
}

struct server *server_new(struct event_base *base, const struct config *cfg,
                          struct http_routes *routes, struct metrics *metrics, size_t conn_cap)
{
    struct server *srv = routes ? calloc(1, sizeof(*srv)) : NULL;
    if (!srv) {   /* no table (its builder ran out of memory) is no server */
        log_error("server_failed", "error=\"out of memory\"");
        http_routes_free(routes);
        return NULL;
    }
    srv->base = base;
    srv->metrics = metrics;
    srv->routes = routes;
    srv->cap = conn_cap ? conn_cap : 1;
    srv->header_timeout.tv_sec = cfg->limits.header_timeout_s;
    srv->body_timeout.tv_sec = cfg->limits.body_timeout_s;
    struct timeval tick = { 0, TICK_MS * 1000 };
    srv->adopt_ev = event_new(base, -1, 0, on_adopt, srv);
    srv->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, srv);
    if (!srv->adopt_ev || !srv->tick_ev || event_add(srv->tick_ev, &tick) < 0) {
        server_free(srv);
        return NULL;
    }
    bool split = cfg->listen_internal_host != NULL;
    srv->doors[0] = (struct door){ .name = split ? "public" : "all",
                                   .doors = split ? HTTP_DOOR_PUBLIC
                                                  : HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL };
    srv->ndoors = 1;
    if (door_open(srv, cfg, &srv->doors[0], cfg->listen_host, cfg->listen_port) < 0) {
        server_free(srv);
        return NULL;
    }
    if (split) {
        srv->doors[1] = (struct door){ .name = "internal", .doors = HTTP_DOOR_INTERNAL,
                                       .headroom = INTERNAL_HEADROOM };
        srv->ndoors = 2;
        if (door_open(srv, cfg, &srv->doors[1], cfg->listen_internal_host,
                      cfg->listen_internal_port) < 0) {
            server_free(srv);
            return NULL;
        }
    }
    return srv;
}

void server_stop_accepting(struct server *srv)
{
    for (int i = 0; i < srv->ndoors; i++) {
        struct door *d = &srv->doors[i];
        if (d->sock) {
            evhttp_del_accept_socket(d->http, d->sock);
            d->sock = NULL;
        }
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
    /* evhttp_free frees the listeners, then each connection (calling
     * on_conn_close): no door may be touched from there. */
    srv->closing = true;
    warn_flush(srv, true);
    for (int i = 0; i < srv->ndoors; i++)
        srv->doors[i].sock = NULL;
    on_adopt(-1, 0, srv);
    for (int i = 0; i < srv->ndoors; i++)
        if (srv->doors[i].http)
            evhttp_free(srv->doors[i].http);
    if (srv->adopt_ev)
        event_free(srv->adopt_ev);
    if (srv->tick_ev)
        event_free(srv->tick_ev);
    free(srv->by_fd);
    http_routes_free(srv->routes);
    free(srv);
}
