/* The WeChat channel's descriptor: its config section, its route and what
 * the core asks of it. */
#include "channels/wechat/wechat.h"

#include "core/tenant.h"

#include <stdio.h>

static void route_wechat(void *ctx, struct evhttp_request *req, const char *path,
                         const char *rest)
{
    (void)path;
    wechat_handle(ctx, req, rest);
}

/* The platform's servers call from outside; wechat_handle answers the
 * methods it does not serve itself. */
static const struct http_route routes[] = {
    { "/wechat/", HTTP_ANY_METHOD, NULL, HTTP_DOOR_PUBLIC, route_wechat },
};

static bool configured(const struct app *app, const char *key)
{
    return config_wechat(app->cfg, key) != NULL && tenant_owns(app, WECHAT_SECTION, key);
}

/* By the person's WeChat id on every configured account of the tenant, in
 * their order. */
static void reach(const struct app *app, const char *phone, const char *wechat,
                  bool configured_only, reach_fn each, void *arg)
{
    const struct wechat_config *c = wechat_config(app->cfg);
    (void)phone;
    (void)configured_only;
    for (size_t i = 0; c && wechat && *wechat && i < c->n; i++) {
        if (!tenant_owns(app, WECHAT_SECTION, c->v[i].name))
            continue;
        char channel[80];
        snprintf(channel, sizeof(channel), WECHAT_SECTION ":%s", c->v[i].name);
        each(channel, wechat, arg);
    }
}

const struct channel_def wechat_channel = {
    .name = WECHAT_SECTION,
    .named = true,
    .config = { WECHAT_SECTION, wechat_config_parse, wechat_config_free },
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .send = wechat_send,
    .configured = configured,
    .reach = reach,
    .sender_kind = ADDRESS_WECHAT,
};
