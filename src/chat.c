/* Signed generic webhooks: inbound chat relays and cloud SMS callbacks. */
#include "mashang/chat.h"

#include "mashang/server.h"

void chat_handle(struct app *app, struct evhttp_request *req, const char *channel)
{
    (void)app;
    (void)channel;
    http_send_error(req, 404, "unknown_channel", "no chat channel is served yet");
}

void sms_http_handle(struct app *app, struct evhttp_request *req)
{
    (void)app;
    http_send_error(req, 404, "unknown_channel", "the http sms channel is not served yet");
}

void chat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg)
{
    (void)app;
    (void)msg;
    done(SEND_PERMANENT, "chat channels are not served yet", arg);
}
