#ifndef MASHANG_WECHAT_H
#define MASHANG_WECHAT_H
/* The WeChat channel (Official Accounts and WeCom apps, contract §3, §8):
 * URL verification and pushes on /wechat/{account}, and outbound
 * customer-service, template and WeCom messages with access tokens
 * cached in Redis.  docs/wechat.md describes the behaviour. */
#include <stdbool.h>
#include <stddef.h>

#include "channels/channel.h"
#include "channels/wechat/wechat_config.h"
#include "core/app.h"

struct evhttp_request;

/* The channel: "channels.wechat", /wechat/{account}, sender for channels
 * "wechat:<account>" (src/channels/wechat/wechat_channel.c; the channel
 * table lists it). */
extern const struct channel_def wechat_channel;

/* `account` is the rest of the path after "/wechat/". */
void wechat_handle(struct app *app, struct evhttp_request *req, const char *account);

/* Sender for channels "wechat:<account>" (src/channels/wechat/wechat_send.c). */
void wechat_send(struct app *app, const struct outbound *msg, send_done_fn done, void *arg);

/* ---- pure helpers (src/channels/wechat/wechat_util.c), exposed for tests ---------------- */

/* WeChat lets an OA push customer-service messages for 48 h after the
 * resident's last message, at most 5 of them (notes §5.4).  We stop a
 * little before the 48 h so a message queued at 47:59 is not refused. */
#define WECHAT_CS_WINDOW_S (48L * 3600 - 600)
#define WECHAT_CS_QUOTA 5
/* Passive replies over about 2048 bytes are refused (notes §4.1). */
#define WECHAT_PASSIVE_MAX 2000

/* The deputy id a QR scene names: "qrscene_D0412" (subscribe) or "D0412"
 * (SCAN) -> "D0412" (upper-cased) in `buf`.  NULL when the scene is not
 * 'D' followed by 1-8 digits. */
const char *wechat_scene_deputy(const char *event_key, char *buf, size_t bufsz);

enum wechat_window {
    WX_WINDOW_OPEN = 0,    /* customer-service message allowed (or unknown: let WeChat say) */
    WX_WINDOW_EXPIRED,     /* the resident's last message is older than the window */
    WX_WINDOW_QUOTA,       /* the 5 messages of this window are used */
};

/* `last_seen` is the resident's last message (Unix s, 0 = unknown),
 * `cs_since` the last_seen value the counter `cs_count` belongs to (-1 =
 * none). */
enum wechat_window wechat_window_check(long long now, long long last_seen,
                                       long long cs_since, long long cs_count);

enum wechat_errclass {
    WXERR_OK = 0,
    WXERR_TOKEN,           /* 40001 40014 42001: refresh the token, try again */
    WXERR_WINDOW,          /* 45015 45047: outside the 48 h window / over the count */
    WXERR_UNREACHABLE,     /* 43004 not following, 40003 bad openid: this API cannot reach them */
    WXERR_TRANSIENT,       /* -1 busy, 45009/45011 rate limits: later */
    WXERR_PERMANENT,       /* anything else: retrying the same request cannot help */
};
enum wechat_errclass wechat_errcode_class(long errcode);

/* Parses a WeChat API answer.  *errcode is 0 when absent (success
 * answers may omit it); when `token` is not NULL and the body has
 * "access_token", *token is a malloc'd copy (caller frees) and
 * *expires_in its lifetime.  Returns 0, or -1 when the body is not a JSON
 * object. */
int wechat_api_parse(const char *body, size_t len, long *errcode, char **token, long *expires_in);

/* Seconds to cache a token that lives `expires_in` seconds: 5 minutes
 * less (never under half of it, never under 1). */
long wechat_token_ttl(long expires_in);

/* Request bodies, malloc'd JSON with raw UTF-8 (never \uXXXX, notes
 * pitfall 14); NULL on OOM or invalid UTF-8. */
/* POST /cgi-bin/stable_token body; `force` only after WeChat refused the
 * token stable_token keeps handing out (limited to 20 a day). */
char *wechat_stable_token_json(const char *appid, const char *secret, bool force);
char *wechat_custom_json(const char *touser, const char *text);
char *wechat_wecom_json(const char *touser, const char *agentid, const char *text);
/* Template message (notes §5.5).  The update goes into the data fields as
 *   first    = the text,  keyword1 = the case id (or "-"),
 *   keyword2 = the text,  keyword3 = `when` ("2026-03-01 09:30"),
 *   remark   = `remark`
 * (first/remark are no longer shown by WeChat, so the text is repeated in
 * keyword2; each field is cut to 200 bytes at a character boundary).
 * `client_msg_id` (the outbox id) makes retries idempotent for 10 min. */
char *wechat_template_json(const char *touser, const char *template_id,
                           const char *client_msg_id, const char *case_id,
                           const char *text, const char *when, const char *remark);

#endif
