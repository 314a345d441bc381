/* channels.chat: validated field by field, every problem named by its path. */
#include "channels/chat/chat_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"
#include "channels/channel.h"

/* One channels.chat.<name> entry into its slot; `arg` is the config
 * file's directory (for file: secrets). */
static void load_channel(struct jv *v, void *slot, const char *p, const char *name, json_t *val,
                         void *arg)
{
    static const char *const chat_fields[] = { "secret", "url", "timeout_ms", NULL };
    struct chat_channel *ch = slot;
    char q[JV_PATH_MAX];

    if (!(ch->name = strdup(name)))
        jv_error(v, p, "out of memory");
    jv_check_fields(v, val, p, chat_fields);
    if (jv_secret(v, val, p, "secret", true, arg, &ch->secret) == 0 && !*ch->secret)
        jv_error(v, jv_path(q, sizeof(q), p, "secret"), "must not be empty");
    if (jv_string(v, val, p, "url", NULL, false, &ch->url) == 0 && ch->url &&
        !config_http_url_ok(ch->url))
        jv_error(v, jv_path(q, sizeof(q), p, "url"), "expected an http:// or https:// URL");
    long long ms;
    jv_integer(v, val, p, "timeout_ms", CHANNEL_TIMEOUT_MS, 100, 120000, &ms);
    ch->timeout_ms = (long)ms;
}

void *chat_config_parse(struct jv *v, struct json_t *obj, const char *P, const char *dir)
{
    struct chat_config *c = calloc(1, sizeof(*c));
    void *items = NULL;
    if (!c || config_entries(v, obj, P, "channel", sizeof(*c->v), &items, &c->n, load_channel,
                             (void *)dir) < 0) {
        if (!c)
            jv_error(v, P, "out of memory");
        free(c);
        return NULL;
    }
    c->v = items;
    return c;
}

void chat_config_free(void *conf)
{
    struct chat_config *c = conf;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].secret);
        free(c->v[i].url);
    }
    free(c->v);
    free(c);
}

const struct chat_config *chat_config(const struct config *cfg)
{
    return config_section(cfg, CHAT_SECTION);
}

const struct chat_channel *config_chat(const struct config *cfg, const char *name)
{
    const struct chat_config *c = chat_config(cfg);
    for (size_t i = 0; c && name && i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}
