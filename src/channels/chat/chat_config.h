#ifndef MASHANG_CHAT_CONFIG_H
#define MASHANG_CHAT_CONFIG_H
/* channels.chat: the signed webhook channels, parsed by the channel itself
 * (config_load hands it the section, docs/configuration.md). */
#include <stddef.h>

#include "base/config.h"

/* Its key under "channels"; outbox channel strings are "chat:<name>". */
#define CHAT_SECTION "chat"

struct chat_channel {
    char *name;            /* key under channels.chat, used in /chat/{name} */
    char *secret;
    char *url;             /* outbound POST target, or NULL */
    long timeout_ms;       /* one POST; default CHANNEL_TIMEOUT_MS */
};

struct chat_config {
    struct chat_channel *v;
    size_t n;
};

/* The section's parser and free (struct config_section). */
void *chat_config_parse(struct jv *v, struct json_t *obj, const char *path, const char *dir);
void chat_config_free(void *conf);

/* The configured chat channels, NULL when "channels.chat" is absent. */
const struct chat_config *chat_config(const struct config *cfg);
/* Chat channel `name`, or NULL. */
const struct chat_channel *config_chat(const struct config *cfg, const char *name);

#endif
