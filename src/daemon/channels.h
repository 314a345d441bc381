#ifndef MASHANG_DAEMON_CHANNELS_H
#define MASHANG_DAEMON_CHANNELS_H
/* The channel table: the one place that lists every channel (each folder
 * under src/channels/ exports one struct channel_def).  From it come the
 * config sections config_load parses, the channels' routes, and the
 * answers to the core's questions (core/channel_api.h). */
#include <stddef.h>

#include "core/app.h"
#include "core/channel_api.h"

#include "base/config.h"

struct http_routes;

/* The sections under "channels", for config_load. */
extern const struct config_sections channels_config;

/* What app->channels points to. */
extern const struct channel_api channels_api;

/* Registers every channel's routes with `app` as context.  Returns 0, -1
 * on OOM. */
int channels_routes(struct http_routes *t, struct app *app);

#endif
