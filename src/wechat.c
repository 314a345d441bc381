/* WeChat Official Account and WeCom endpoints and sender. */
#include "mashang/wechat.h"

#include "mashang/server.h"

void wechat_handle(struct app *app, struct evhttp_request *req, const char *account)
{
    (void)app;
    (void)account;
    http_send_error(req, 404, "unknown_account", "no WeChat account is served yet");
}

void wechat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    (void)app;
    (void)msg;
    done(SEND_PERMANENT, "wechat channel is not served yet", arg);
}
