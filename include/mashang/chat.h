#ifndef MASHANG_CHAT_H
#define MASHANG_CHAT_H
/* Signed generic webhooks (contract §3): chat relays on /chat/{channel}
 * and cloud SMS upstream callbacks on /sms/http, both HMAC-SHA256 signed;
 * outbound for a chat channel is a signed JSON POST to its URL. */
#include "mashang/app.h"
#include "mashang/channel.h"

struct evhttp_request;

/* `channel` is the rest of the path after "/chat/". */
void chat_handle(struct app *app, struct evhttp_request *req, const char *channel);
void sms_http_handle(struct app *app, struct evhttp_request *req);

/* Sender for channels "chat:<name>". */
void chat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);

#endif
