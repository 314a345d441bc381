#ifndef MASHANG_KANNEL_CONFIG_H
#define MASHANG_KANNEL_CONFIG_H
/* channels.sms: the Kannel gateway's configuration, parsed by the channel
 * itself (config_load hands it the section, docs/configuration.md). */
#include <stdbool.h>
#include <stddef.h>

#include "base/cidr.h"
#include "base/config.h"

/* Its key under "channels", which is also its outbox channel string. */
#define KANNEL_SECTION "sms"

struct sms_channel {
    char *type;            /* "kannel" (only type so far) */
    char *sendsms_url;
    char *username;
    char *password;
    char *from;            /* service number, also the prefix of deputy extensions */
    char *dlr_url;         /* base URL; the outbox appends its reference */
    int max_segments;      /* longer texts are shortened, default 6 */
    long timeout_ms;       /* one sendsms request; default CHANNEL_TIMEOUT_MS */
    struct cidr *allow;    /* peers allowed at /sms/kannel and /sms/kannel/dlr;
                              default 127.0.0.0/8 and ::1 */
    size_t nallow;
    char *secret;          /* NULL: no key; else both endpoints require ?key= it */
};

/* Bounds of channels.sms.secret (kannel_config.c checks them). */
#define SMS_SECRET_MIN 16
#define SMS_SECRET_MAX 128

/* The section's parser and free (struct config_section). */
void *kannel_config_parse(struct jv *v, struct json_t *obj, const char *path, const char *dir);
void kannel_config_free(void *conf);

/* The configured SMS channel, NULL when "channels.sms" is absent. */
const struct sms_channel *sms_config(const struct config *cfg);

#endif
