#ifndef MASHANG_CHANNEL_H
#define MASHANG_CHANNEL_H
/* Outbound delivery by channel.  The outbox hands each leased message to
 * channel_send(), which picks the channel's sender by name:
 *   "sms"            Kannel sendsms (sms_kannel.h)
 *   "wechat:<name>"  WeChat customer-service / template / WeCom messages
 *   "chat:<name>"    signed JSON POST to the chat channel's URL
 * and reports one result.  Senders never decide retries themselves: they
 * classify the attempt and the outbox applies backoff and dead-lettering. */
#include <stddef.h>

#include "core/app.h"

enum send_result {
    SEND_OK = 0,          /* accepted by the gateway/platform */
    SEND_RETRY,           /* transient: network error, 5xx, rate limit, token refreshed */
    SEND_PERMANENT,       /* refused for good: retrying cannot help */
    SEND_HELD,            /* could not be pushed now; kept for the resident's next message */
    SEND_UNCERTAIN,       /* the request went out but no answer came (timeout, cut
                             connection): the gateway may have it, so it is never
                             simply retried (settled by a delivery report, else
                             set aside for an administrator) */
};

typedef void (*send_done_fn)(enum send_result result, const char *detail, void *arg);

struct outbound {
    const char *id;       /* outbox id, used as the gateway reference */
    const char *channel;
    const char *to;
    const char *text;
    const char *case_id;  /* may be "" */
    int attempt;          /* 1 for the first try */
    const char *dlr_token;  /* SMS: this attempt's delivery-report token, else NULL */
};

/* Starts sending `msg` (copied as needed).  `done` is called exactly
 * once, from the loop or before channel_send returns. */
void channel_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);

/* Sends an HTTP GET/POST through app->http (at most `timeout_ms`) and
 * classifies the response: 2xx OK, 408/429/5xx RETRY, other 4xx
 * PERMANENT; no response RETRY when the request never went out, else
 * UNCERTAIN.  For senders whose platform answers in plain status codes. */
void channel_http(struct app *app, const char *method, const char *url,
                  const char *const *headers, const char *body, size_t body_len,
                  long timeout_ms, send_done_fn done, void *arg);

#endif
