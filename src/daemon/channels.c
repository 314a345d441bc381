/* The channel table and what the core asks of it.
 *
 * Adding a channel: a folder src/channels/<name>/ exporting one
 * `const struct channel_def` (channels/channel.h), and one row below. */
#include "daemon/channels.h"

#include <string.h>

#include "channels/channel.h"
#include "channels/chat/chat.h"
#include "channels/kannel/sms_kannel.h"
#include "channels/wechat/wechat.h"
#include "http/route.h"

/* In this order: the first that reaches a person is their contact
 * (directory.c), so SMS comes before WeChat. */
static const struct channel_def *const table[] = {
    &kannel_channel,
    &wechat_channel,
    &chat_channel,
};
#define NCHANNELS (sizeof(table) / sizeof(table[0]))

static const struct config_section *section_at(size_t i)
{
    return &table[i]->config;
}

const struct config_sections channels_config = { NCHANNELS, section_at };

/* The descriptor an outbox channel string names ("sms", "wechat:main"),
 * its key after ':' in *key (NULL when not named); NULL when none. */
static const struct channel_def *lookup(const char *channel, const char **key)
{
    for (size_t i = 0; channel && i < NCHANNELS; i++) {
        const struct channel_def *c = table[i];
        size_t len = strlen(c->name);
        if (strncmp(channel, c->name, len) != 0)
            continue;
        if (!c->named && channel[len] == '\0') {
            *key = NULL;
            return c;
        }
        if (c->named && channel[len] == ':') {
            *key = channel + len + 1;
            return c;
        }
    }
    return NULL;
}

static void send_any(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    const char *key;
    const struct channel_def *c = lookup(msg->channel, &key);
    if (!c) {
        done(SEND_PERMANENT, "no such channel", arg);
        return;
    }
    c->send(app, msg, done, arg);
}

static bool configured(const struct app *app, const char *channel)
{
    const char *key;
    const struct channel_def *c = lookup(channel, &key);
    return c && c->configured(app, key);
}

static int dlr_token(const struct app *app, const char *channel, char token[DLR_TOKEN_SIZE])
{
    const char *key;
    const struct channel_def *c = lookup(channel, &key);
    (void)app;
    if (!c || !c->dlr_token)
        return 0;
    return c->dlr_token(token) < 0 ? -1 : 1;
}

static bool dlr_settles(const struct app *app, const char *channel)
{
    const char *key;
    if (channel) {
        const struct channel_def *c = lookup(channel, &key);
        return c && c->dlr_settles && c->dlr_settles(app);
    }
    for (size_t i = 0; i < NCHANNELS; i++)
        if (table[i]->dlr_settles && table[i]->dlr_settles(app))
            return true;
    return false;
}

static void reach(const struct app *app, const char *phone, const char *wechat,
                  bool configured_only, reach_fn each, void *arg)
{
    for (size_t i = 0; i < NCHANNELS; i++)
        if (table[i]->reach)
            table[i]->reach(app, phone, wechat, configured_only, each, arg);
}

/* A channel not in the table: its sender is taken for a platform id. */
static enum address_kind sender_kind(const struct app *app, const char *channel)
{
    const char *key;
    const struct channel_def *c = lookup(channel, &key);
    (void)app;
    return c ? c->sender_kind : ADDRESS_WECHAT;
}

static const char *service_number(const struct app *app, const char *channel)
{
    const char *key;
    const struct channel_def *c = lookup(channel, &key);
    return c && c->service_number && c->configured(app, key) ? c->service_number(app) : NULL;
}

const struct channel_api channels_api = {
    .send = send_any,
    .configured = configured,
    .dlr_token = dlr_token,
    .dlr_settles = dlr_settles,
    .reach = reach,
    .sender_kind = sender_kind,
    .service_number = service_number,
};

int channels_routes(struct http_routes *t, struct app *app)
{
    for (size_t i = 0; i < NCHANNELS; i++)
        if (http_routes_add(t, table[i]->routes, table[i]->nroutes, app) < 0)
            return -1;
    return 0;
}
