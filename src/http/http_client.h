#ifndef MASHANG_HTTP_CLIENT_H
#define MASHANG_HTTP_CLIENT_H
/* Outbound HTTP on the daemon's libevent loop: one libcurl multi handle
 * per loop, its sockets and timeout driven by libevent (no threads, no
 * blocking).  Every outbound request of mashang goes through here. */
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct http_client;

struct http_response {
    long status;           /* HTTP status, 0 when no response arrived */
    int curl_code;         /* CURLcode, 0 on transport success */
    const char *error;     /* transport error text, or NULL */
    const char *body;      /* NUL-terminated; valid only during the callback */
    size_t body_len;
    double total_ms;
    /* The request (or part of it) went out before the transfer failed:
     * the peer may have acted on it although no answer came back. */
    bool written;
};

/* Called exactly once per request, from the loop.  */
typedef void (*http_done_fn)(const struct http_response *res, void *arg);

struct http_request {
    const char *method;    /* "GET" or "POST" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;      /* POST body (copied), or NULL */
    size_t body_len;
    long timeout_ms;       /* whole request; 0 = 10000 */
};

struct http_client *http_client_new(struct event_base *base);
/* Cancels requests still in flight; their callbacks are not called. */
void http_client_free(struct http_client *hc);

/* Starts a request; the request struct and strings may be freed after the
 * call returns.  Returns 0, or -1 if it could not be started (then `done`
 * is not called). */
int http_client_request(struct http_client *hc, const struct http_request *req,
                        http_done_fn done, void *arg);

/* Requests in flight. */
size_t http_client_pending(const struct http_client *hc);

#endif
