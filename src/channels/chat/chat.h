#ifndef MASHANG_CHAT_H
#define MASHANG_CHAT_H
/* Signed generic webhooks (contract §3): chat relays on /chat/{channel}
 * and cloud SMS upstream callbacks on /sms/http, both HMAC-SHA256 signed;
 * outbound for a chat channel is a signed JSON POST to its URL.
 * /sms/http uses the secret of chat channel "sms_http". */
#include <stdbool.h>
#include <stddef.h>

#include "channels/channel.h"
#include "channels/chat/chat_config.h"
#include "core/app.h"

struct evhttp_request;

/* The channel: "channels.chat", /chat/{name} and /sms/http, sender for
 * channels "chat:<name>" (the channel table lists it). */
extern const struct channel_def chat_channel;

/* `channel` is the rest of the path after "/chat/". */
void chat_handle(struct app *app, struct evhttp_request *req, const char *channel);
void sms_http_handle(struct app *app, struct evhttp_request *req);

/* Sender for channels "chat:<name>". */
void chat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);

/* ---- pure helpers, exposed for tests ----------------------------------- */

/* One inbound webhook body.  All fields malloc'd, owned by the struct;
 * release with chat_message_clear(). */
struct chat_message {
    char *user;            /* "user" (chat) or "from" (sms), as sent */
    char *to;              /* "to" (sms only), or NULL */
    char *text;            /* non-empty valid UTF-8 without NULs */
    char *id;              /* platform message id, or NULL */
};

/* Parses {"user","text","id","time"} (sms: {"from","to","text","id","time"});
 * "id", "user", "from" and "to" may be strings or integers.  Returns 0, or
 * -1 with a static reason in *err (invalid UTF-8, not a JSON object,
 * missing user/from or text) and `out` cleared, or -2 (and a reason) when
 * user/from, to or id is longer than ID_MAX_LEN bytes. */
int chat_message_parse(const char *body, size_t len, bool sms, struct chat_message *out,
                       const char **err);
void chat_message_clear(struct chat_message *m);

/* {"user":…,"text":…,"id":…,"case":…}, malloc'd, raw UTF-8; NULL on OOM
 * or invalid UTF-8. */
char *chat_outbound_json(const char *user, const char *text, const char *id, const char *case_id);

#endif
