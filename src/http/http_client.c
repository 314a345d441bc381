/* Outbound HTTP: one libcurl multi handle driven by a libevent loop.
 *
 * libcurl tells us which sockets it wants watched (socket callback) and
 * when it next needs a tick (timer callback); we translate both into
 * libevent events and hand activity back through
 * curl_multi_socket_action().  Completed transfers are collected with
 * curl_multi_info_read() only after socket_action has returned, so every
 * user callback runs outside libcurl and may safely start new requests.
 *
 * Ownership:
 *   http_client   owns the multi handle, the timer event, every
 *                 sock_watch and every in-flight http_call.
 *   http_call     owns its easy handle, header list, copied URL/body and
 *                 response buffer; freed right after its done callback
 *                 returns (or by http_client_free, without a callback).
 *   sock_watch    owns one libevent event for one curl socket; created on
 *                 the first CURL_POLL_* for that socket, freed on
 *                 CURL_POLL_REMOVE (or by http_client_free).
 *
 * Not re-entrant with respect to http_client_free: it must not be called
 * from inside a done callback of the same client.
 *
 * curl_global_init() is the program's job, once, before the first
 * http_client_new(). */
#include "http/http_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_MAX_BODY (1024 * 1024) /* larger responses fail the request */
#define HTTP_MAX_CACHED_CONNECTIONS 64  /* idle connections kept, all hosts */
#define HTTP_MAX_HOST_CONNECTIONS 16    /* open at once to one host */

struct http_call;
struct sock_watch;

struct http_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct http_call *calls;      /* in flight, doubly linked */
    struct sock_watch *watches;   /* sockets curl asked us to watch */
    size_t pending;
};

struct sock_watch {
    struct http_client *hc;
    struct event *ev;
    struct sock_watch *prev, *next;
};

struct http_call {
    struct http_client *hc;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;                   /* POST body copy (curl does not copy) */
    char *resp;                   /* response body, NUL-terminated */
    size_t resp_len, resp_cap;
    int body_too_large;
    int oom;
    http_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    struct http_call *prev, *next;
};

/* ---- lists ---------------------------------------------------------------- */

static void call_link(struct http_client *hc, struct http_call *c) {
    c->prev = NULL;
    c->next = hc->calls;
    if (hc->calls) hc->calls->prev = c;
    hc->calls = c;
    hc->pending++;
}

static void call_unlink(struct http_client *hc, struct http_call *c) {
    if (c->prev) c->prev->next = c->next;
    else hc->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    hc->pending--;
}

static void watch_free(struct sock_watch *w) {
    struct http_client *hc = w->hc;
    if (w->prev) w->prev->next = w->next;
    else hc->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    event_free(w->ev);
    free(w);
}

/* ---- requests ------------------------------------------------------------- */

/* Caller must already have removed c->easy from the multi handle. */
static void call_free(struct http_call *c) {
    if (c == NULL) return;
    if (c->easy) curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->url);
    free(c->body);
    free(c->resp);
    free(c);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
    struct http_call *c = userp;
    size_t n = size * nmemb;

    if (n == 0) return 0;
    if (n > HTTP_MAX_BODY - c->resp_len) {
        c->body_too_large = 1;
        return 0; /* short count: curl aborts with CURLE_WRITE_ERROR */
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        while (cap < c->resp_len + n + 1) cap *= 2;
        if (cap > HTTP_MAX_BODY + 1) cap = HTTP_MAX_BODY + 1;
        char *p = realloc(c->resp, cap);
        if (p == NULL) {
            c->oom = 1;
            return 0;
        }
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, data, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

static int has_crlf(const char *s) {
    return strpbrk(s, "\r\n") != NULL;
}

static int header_is(const char *line, const char *name) {
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Builds the header list; NULL-safe.  Returns 0 or -1 (bad line / OOM). */
static int call_set_headers(struct http_call *c, const char *const *headers,
                            int is_post) {
    int user_expect = 0;

    for (size_t i = 0; headers && headers[i]; i++) {
        /* A CR or LF would let a caller-supplied value smuggle headers. */
        if (has_crlf(headers[i]) || strchr(headers[i], ':') == NULL) return -1;
        if (header_is(headers[i], "Expect")) user_expect = 1;
        struct curl_slist *l = curl_slist_append(c->headers, headers[i]);
        if (l == NULL) return -1;
        c->headers = l;
    }
    /* Without this curl waits up to a second for "100 Continue" on
     * larger POST bodies, which our peers never send. */
    if (is_post && !user_expect) {
        struct curl_slist *l = curl_slist_append(c->headers, "Expect:");
        if (l == NULL) return -1;
        c->headers = l;
    }
    return 0;
}

static struct http_call *call_new(struct http_client *hc,
                                  const struct http_request *req,
                                  http_done_fn done, void *arg) {
    int is_post;
    long timeout_ms;

    if (req == NULL || req->url == NULL || done == NULL) return NULL;
    if (req->method == NULL || strcmp(req->method, "GET") == 0) is_post = 0;
    else if (strcmp(req->method, "POST") == 0) is_post = 1;
    else return NULL;
    if (!is_post && req->body && req->body_len) return NULL;
    if (req->body == NULL && req->body_len) return NULL;
    if (req->timeout_ms < 0) return NULL;
    timeout_ms = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;

    struct http_call *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->hc = hc;
    c->done = done;
    c->arg = arg;
    c->url = strdup(req->url);
    if (c->url == NULL) goto fail;
    if (is_post) {
        /* +1 so an empty body still gets a valid pointer. */
        c->body = malloc(req->body_len + 1);
        if (c->body == NULL) goto fail;
        if (req->body_len) memcpy(c->body, req->body, req->body_len);
        c->body[req->body_len] = '\0';
    }
    if (call_set_headers(c, req->headers, is_post) != 0) goto fail;

    c->easy = curl_easy_init();
    if (c->easy == NULL) goto fail;

    CURL *e = c->easy;
    CURLcode rc = CURLE_OK;
#define SETOPT(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
    SETOPT(CURLOPT_URL, c->url);
    SETOPT(CURLOPT_PRIVATE, c);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, c);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
    SETOPT(CURLOPT_USERAGENT, "mashang");
    if (c->headers) SETOPT(CURLOPT_HTTPHEADER, c->headers);
    if (is_post) {
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(CURLOPT_POSTFIELDS, c->body);
    } else {
        SETOPT(CURLOPT_HTTPGET, 1L);
    }
#undef SETOPT
    if (rc != CURLE_OK) goto fail;
    return c;

fail:
    call_free(c);
    return NULL;
}

/* Reports one finished transfer and frees it.  The easy handle is out of
 * the multi before the callback runs, so the callback may add handles. */
static void call_finish(struct http_call *c, CURLcode result) {
    struct http_client *hc = c->hc;
    struct http_response res;
    curl_off_t total_us = 0;
    long status = 0;

    curl_multi_remove_handle(hc->multi, c->easy);
    call_unlink(hc, c);

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    long request_bytes = 0;
    curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &request_bytes);

    memset(&res, 0, sizeof(res));
    res.status = status;
    res.curl_code = (int)result;
    res.total_ms = (double)total_us / 1000.0;
    res.written = request_bytes > 0;
    if (result == CURLE_OK) {
        res.body = c->resp ? c->resp : "";
        res.body_len = c->resp_len;
    } else {
        /* A partial body is never handed out. */
        res.body = "";
        res.body_len = 0;
        if (c->body_too_large || result == CURLE_FILESIZE_EXCEEDED)
            snprintf(c->errbuf, sizeof(c->errbuf),
                     "response body exceeds %d bytes", HTTP_MAX_BODY);
        else if (c->oom)
            snprintf(c->errbuf, sizeof(c->errbuf), "out of memory");
        else if (c->errbuf[0] == '\0')
            snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(result));
        res.error = c->errbuf;
    }

    c->done(&res, c->arg);
    call_free(c);
}

/* Drains curl's completion queue.  Only ever called after
 * curl_multi_socket_action() has returned. */
static void check_done(struct http_client *hc) {
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(hc->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        char *priv = NULL;
        CURLcode result = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv) call_finish((struct http_call *)priv, result); /* msg is now invalid */
    }
}

/* ---- libevent <-> libcurl glue -------------------------------------------- */

static void on_socket_event(evutil_socket_t fd, short what, void *arg) {
    struct sock_watch *w = arg;
    struct http_client *hc = w->hc; /* w may be freed inside socket_action */
    int action = 0, running;

    if (what & EV_READ) action |= CURL_CSELECT_IN;
    if (what & EV_WRITE) action |= CURL_CSELECT_OUT;
    curl_multi_socket_action(hc->multi, fd, action, &running);
    check_done(hc);
}

static void on_timer_event(evutil_socket_t fd, short what, void *arg) {
    struct http_client *hc = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(hc);
}

/* CURLMOPT_TIMERFUNCTION.  Only (re)arms our event: calling socket_action
 * from here would recurse into curl.  A 0 ms timeout still goes through
 * the loop and fires on its next iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    struct http_client *hc = userp;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(hc->timer);
        return 0;
    }
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (timeout_ms % 1000) * 1000 };
    return evtimer_add(hc->timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION.  `socketp` is the sock_watch we assigned to
 * this socket earlier, or NULL the first time curl mentions it. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp) {
    struct http_client *hc = userp;
    struct sock_watch *w = socketp;
    short flags = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        /* curl forgets the socket now; our event must go with it, before
         * the fd number can be reused by another connection. */
        if (w) watch_free(w);
        return 0;
    }
    if (what & CURL_POLL_IN) flags |= EV_READ;
    if (what & CURL_POLL_OUT) flags |= EV_WRITE;

    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL) return -1;
        w->hc = hc;
        w->ev = event_new(hc->base, s, flags, on_socket_event, w);
        if (w->ev == NULL) {
            free(w);
            return -1;
        }
        if (curl_multi_assign(hc->multi, s, w) != CURLM_OK) {
            event_free(w->ev);
            free(w);
            return -1;
        }
        w->next = hc->watches;
        if (hc->watches) hc->watches->prev = w;
        hc->watches = w;
    } else {
        /* event_assign is only legal on a non-pending event. */
        event_del(w->ev);
        if (event_assign(w->ev, hc->base, s, flags, on_socket_event, w) != 0)
            return -1;
    }
    return event_add(w->ev, NULL) == 0 ? 0 : -1;
}

/* ---- public API ----------------------------------------------------------- */

struct http_client *http_client_new(struct event_base *base) {
    if (base == NULL) return NULL;

    struct http_client *hc = calloc(1, sizeof(*hc));
    if (hc == NULL) return NULL;
    hc->base = base;
    hc->timer = evtimer_new(base, on_timer_event, hc);
    hc->multi = curl_multi_init();
    if (hc->timer == NULL || hc->multi == NULL) goto fail;

    CURLMcode rc = CURLM_OK;
#define MSETOPT(opt, val) do { if (rc == CURLM_OK) rc = curl_multi_setopt(hc->multi, opt, val); } while (0)
    MSETOPT(CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    MSETOPT(CURLMOPT_SOCKETDATA, hc);
    MSETOPT(CURLMOPT_TIMERFUNCTION, on_curl_timer);
    MSETOPT(CURLMOPT_TIMERDATA, hc);
    /* Keep-alive: by default the connection cache holds 4 connections per
     * easy handle currently added, so when a burst of sends completes and
     * the handles are removed, the cache shrinks and closes the idle
     * connections — the next burst connects again (measured: ~10k
     * TIME_WAIT sockets to the gateway a minute under load).  A fixed cache
     * keeps them; the per-host cap queues transfers inside curl instead of
     * opening a connection each. */
    MSETOPT(CURLMOPT_MAXCONNECTS, (long)HTTP_MAX_CACHED_CONNECTIONS);
    MSETOPT(CURLMOPT_MAX_HOST_CONNECTIONS, (long)HTTP_MAX_HOST_CONNECTIONS);
#undef MSETOPT
    if (rc != CURLM_OK) goto fail;
    return hc;

fail:
    if (hc->multi) curl_multi_cleanup(hc->multi);
    if (hc->timer) event_free(hc->timer);
    free(hc);
    return NULL;
}

void http_client_free(struct http_client *hc) {
    if (hc == NULL) return;

    while (hc->calls) {
        struct http_call *c = hc->calls;
        curl_multi_remove_handle(hc->multi, c->easy);
        call_unlink(hc, c);
        call_free(c);
    }
    /* Cleanup closes cached connections and may still call our socket
     * and timer callbacks, so hc and its events must outlive it. */
    curl_multi_cleanup(hc->multi);
    while (hc->watches) watch_free(hc->watches);
    event_free(hc->timer);
    free(hc);
}

int http_client_request(struct http_client *hc, const struct http_request *req,
                        http_done_fn done, void *arg) {
    if (hc == NULL) return -1;

    struct http_call *c = call_new(hc, req, done, arg);
    if (c == NULL) return -1;
    /* add_handle only arms the timer (0 ms); the transfer, and any
     * failure, is reported later from the loop, never from here. */
    if (curl_multi_add_handle(hc->multi, c->easy) != CURLM_OK) {
        call_free(c);
        return -1;
    }
    call_link(hc, c);
    return 0;
}

size_t http_client_pending(const struct http_client *hc) {
    return hc ? hc->pending : 0;
}
