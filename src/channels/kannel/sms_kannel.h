#ifndef MASHANG_SMS_KANNEL_H
#define MASHANG_SMS_KANNEL_H
/* The Kannel SMS channel: MOs from smsbox's sms-service (GET query or
 * POST body with X-Kannel-* headers; UTF-8 or UTF-16BE text), delivery
 * reports, and MTs through smsbox's sendsms interface. */
#include <stddef.h>

#include "channels/channel.h"
#include "channels/kannel/kannel_config.h"
#include "core/app.h"

struct evhttp_request;

void sms_kannel_inbound(struct app *app, struct evhttp_request *req);
void sms_kannel_dlr(struct app *app, struct evhttp_request *req);

/* The channel: "channels.sms", /sms/kannel and /sms/kannel/dlr, sender
 * for channel "sms" (the channel table lists it). */
extern const struct channel_def kannel_channel;

/* A delivery report must name its attempt's token (core/channel_api.h).
 * Writes a fresh token (lowercase hex) from OpenSSL's CSPRNG.  Returns 0,
 * or -1 when the generator fails (nothing should be sent then). */
int sms_dlr_token(char out[DLR_TOKEN_SIZE]);

/* Builds the sendsms URL for one MT (text shortened to the channel's
 * segment limit) from `from` (NULL: the channel's), with a dlr-url
 * carrying `ref`, `token`, the tenant's id (NULL: none, a single-tenant
 * deployment) and the gateway key.  Returns a malloc'd URL or NULL on OOM. */
char *sms_kannel_sendsms_url(const struct sms_channel *c, const char *from, const char *tenant,
                             const char *to, const char *text, const char *ref, const char *token);

/* Shortens `text` to at most `max_segments` SMS segments, ending with an
 * ellipsis, and keeps `keep` (the case id) if the cut removed it.
 * Returns a malloc'd string. */
char *sms_fit(const char *text, int max_segments, const char *keep);

#endif
