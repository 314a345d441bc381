#ifndef MASHANG_CHANNEL_H
#define MASHANG_CHANNEL_H
/* What every channel shares, and the descriptor each channel folder
 * exports (one `const struct channel_def`).  The daemon's channel table
 * (src/daemon/channels.c) lists the descriptors: it hands each its
 * "channels.<name>" config section, registers its routes and answers the
 * core's questions (core/channel_api.h) by asking the descriptor the
 * outbox channel string names:
 *   "sms"            Kannel (channels/kannel)
 *   "wechat:<name>"  WeChat customer-service / template / WeCom messages
 *   "chat:<name>"    signed JSON POST to the chat channel's URL
 * Senders never decide retries themselves: they classify the attempt and
 * the outbox applies backoff and dead-lettering. */
#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "core/app.h"
#include "core/channel_api.h"
#include "core/step.h"
#include "http/route.h"

struct evhttp_request;

/* How long an outbound gateway request may take by default
 * (channels.*.timeout_ms): a request that was written and timed out is
 * uncertain, not retried. */
#define CHANNEL_TIMEOUT_MS 10000

struct channel_def {
    /* The outbox channel string ("sms"), or its part before ':' when
     * `named` ("wechat" for "wechat:<account>"); also config.name. */
    const char *name;
    bool named;
    /* Parser and free of "channels.<name>"; its result is
     * config_section(cfg, name), NULL when the section is absent. */
    struct config_section config;
    /* Registered with the app as context (handlers get a struct app *). */
    const struct http_route *routes;
    size_t nroutes;
    /* Sends `msg` on this channel (core/channel_api.h, send). */
    void (*send)(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);
    /* Whether the channel (`key`: the part after ':', NULL when not
     * named) is configured. */
    bool (*configured)(const struct app *app, const char *key);
    /* Delivery reports: a fresh token for an attempt (0, -1 on failure),
     * and whether they settle uncertain sends.  NULL: the channel has none. */
    int (*dlr_token)(char token[DLR_TOKEN_SIZE]);
    bool (*dlr_settles)(const struct app *app);
    /* The ways a person is reached on it (channel_api.h, reach); NULL: none. */
    void (*reach)(const struct app *app, const char *phone, const char *wechat,
                  bool configured_only, reach_fn each, void *arg);
    /* What a sender's address on it is. */
    enum address_kind sender_kind;
    /* The service number residents write to, when deputies have
     * extensions of it; NULL function or result: none. */
    const char *(*service_number)(const struct app *app);
};

/* Sends an HTTP GET/POST through app->http (at most `timeout_ms`, 0: the
 * default) and classifies the response: 2xx OK, 408/429/5xx RETRY, other
 * 4xx PERMANENT; no response RETRY when the request never went out, else
 * UNCERTAIN.  For senders whose platform answers in plain status codes. */
void channel_http(struct app *app, const char *method, const char *url,
                  const char *const *headers, const char *body, size_t body_len,
                  long timeout_ms, send_done_fn done, void *arg);

/* Answers an inbound webhook with its step's outcome: stored
 * {"status":"stored","action":…,"case":…} and duplicate
 * {"status":"duplicate"} (200), rejected 400 with `rejected_error` and
 * `rejected_detail`, anything else 503 (not stored: the sender retries). */
void channel_reply_step(struct evhttp_request *req, enum step_outcome outcome, const char *action,
                        const char *case_id, const char *rejected_error,
                        const char *rejected_detail);

#endif
