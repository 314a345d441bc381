#ifndef MASHANG_WECHAT_H
#define MASHANG_WECHAT_H
/* The WeChat channel (Official Accounts and WeCom apps, contract §3, §8):
 * URL verification and pushes on /wechat/{account}, and outbound
 * customer-service, template and WeCom messages with access tokens
 * cached in Redis. */
#include "mashang/app.h"
#include "mashang/channel.h"

struct evhttp_request;

/* `account` is the rest of the path after "/wechat/". */
void wechat_handle(struct app *app, struct evhttp_request *req, const char *account);

/* Sender for channels "wechat:<account>". */
void wechat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);

#endif
