#ifndef MASHANG_CHANNEL_API_H
#define MASHANG_CHANNEL_API_H
/* What the core asks of the channels without knowing any: the outbox
 * sends through it, the directory learns how a person is reached, a step
 * learns what kind of address a sender has.  The daemon fills one (the
 * channel table, src/daemon/channels.c) and puts it in app->channels.
 * Channels are named by the strings the outbox stores: "sms",
 * "wechat:<account>", "chat:<name>". */
#include <stdbool.h>
#include <stddef.h>

struct app;

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
    const char *dlr_token;  /* this attempt's delivery-report token, else NULL */
};

/* The addresses the roster knows of a person. */
enum address_kind {
    ADDRESS_PHONE,        /* a normalised phone number */
    ADDRESS_WECHAT,       /* a platform user id (WeChat openid, chat user) */
};

/* Delivery-report tokens (random, stored with the outbox entry when its
 * send starts, checked by dlr.lua): outbox ids are sequential and would
 * let anyone forge reports. */
#define DLR_TOKEN_BYTES 16
#define DLR_TOKEN_SIZE (2 * DLR_TOKEN_BYTES + 1)   /* lowercase hex and a NUL */

/* One way to reach a person: called with a channel and the address on it. */
typedef void (*reach_fn)(const char *channel, const char *addr, void *arg);

struct channel_api {
    /* Starts sending `msg` (copied as needed).  `done` is called exactly
     * once, from the loop or before send returns; an unknown channel is a
     * SEND_PERMANENT. */
    void (*send)(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);
    /* Whether `channel` is configured and can send. */
    bool (*configured)(const struct app *app, const char *channel);
    /* For an attempt on `channel`: writes a fresh delivery-report token to
     * `token` and returns 1, returns 0 when the channel takes none, -1
     * when no token could be made (nothing may be sent then). */
    int (*dlr_token)(const struct app *app, const char *channel, char token[DLR_TOKEN_SIZE]);
    /* Whether delivery reports settle uncertain sends on `channel`, or on
     * some channel when `channel` is NULL. */
    bool (*dlr_settles)(const struct app *app, const char *channel);
    /* Calls `each` for every way a person with phone `phone` and platform
     * id `wechat` (either NULL or "") is reached, in order of preference.
     * `configured_only`: only channels that are configured; otherwise the
     * phone counts even without a gateway (the message waits, dead, for
     * an administrator). */
    void (*reach)(const struct app *app, const char *phone, const char *wechat,
                  bool configured_only, reach_fn each, void *arg);
    /* The kind of the sender's address on `channel`. */
    enum address_kind (*sender_kind)(const struct app *app, const char *channel);
    /* The service number a resident wrote to on `channel`, when deputies
     * have extensions of it (routing.h), else NULL. */
    const char *(*service_number)(const struct app *app, const char *channel);
};

#endif
