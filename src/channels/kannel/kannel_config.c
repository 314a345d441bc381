/* channels.sms: validated field by field, every problem named by its path. */
#include "channels/kannel/kannel_config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"
#include "channels/channel.h"

static const char *const sms_fields[] = {
    "type", "sendsms_url", "username", "password", "from", "dlr_url", "max_segments", "timeout_ms",
    "allow", "secret", NULL,
};

/* Who may call the gateway endpoints when "allow" is absent: Kannel on
 * the same host. */
static const char *const sms_allow_default[] = { "127.0.0.0/8", "::1" };

/* channels.sms.allow: a list of CIDR strings (at least one). */
static void load_sms_allow(struct jv *v, json_t *sms, const char *P0, struct sms_channel *ch)
{
    char P[JV_PATH_MAX];
    json_t *a = json_object_get(sms, "allow");
    size_t n = a && json_is_array(a) ? json_array_size(a)
                                     : sizeof(sms_allow_default) / sizeof(sms_allow_default[0]);
    char p[JV_PATH_MAX];

    jv_path(P, sizeof(P), P0, "allow");
    if (a && !json_is_null(a) && !json_is_array(a)) {
        jv_error(v, P, "expected a list of address ranges, e.g. [\"127.0.0.0/8\", \"::1\"]");
        return;
    }
    if (a && json_is_array(a) && n == 0) {
        jv_error(v, P, "must list at least one address range (nobody could deliver SMS)");
        return;
    }
    if (!(ch->allow = calloc(n, sizeof(*ch->allow)))) {
        jv_error(v, P, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = a && json_is_array(a) ? json_array_get(a, i) : NULL;
        const char *s = e ? json_string_value(e) : a && json_is_array(a) ? NULL : sms_allow_default[i];
        if (!s || cidr_parse(s, &ch->allow[ch->nallow]) < 0)
            jv_error(v, jv_index(p, sizeof(p), P, i),
                     "expected an address range like \"10.0.0.0/8\", \"192.0.2.7\" or \"fd00::/8\"");
        else
            ch->nallow++;
    }
}

/* channels.sms.secret travels in URLs that Kannel expands (%-escapes in
 * get-url and dlr-url), so it is limited to characters that need no
 * escaping, and long enough not to be guessed. */
static void load_sms_secret(struct jv *v, json_t *sms, const char *P, struct sms_channel *ch,
                            const char *dir)
{
    char p[JV_PATH_MAX];
    if (jv_secret(v, sms, P, "secret", false, dir, &ch->secret) < 0 || !ch->secret)
        return;
    size_t len = strlen(ch->secret);
    if (len < SMS_SECRET_MIN || len > SMS_SECRET_MAX || !config_chars_ok(ch->secret, "-_.~"))
        jv_error(v, jv_path(p, sizeof(p), P, "secret"),
                 "expected %d-%d characters of A-Z a-z 0-9 - _ . ~ (it is sent in URLs as key=)",
                 SMS_SECRET_MIN, SMS_SECRET_MAX);
}

void *kannel_config_parse(struct jv *v, struct json_t *sms, const char *P, const char *dir)
{
    struct sms_channel *ch = calloc(1, sizeof(*ch));
    char p[JV_PATH_MAX];
    long long n;

    if (!ch) {
        jv_error(v, P, "out of memory");
        return NULL;
    }
    jv_check_fields(v, sms, P, sms_fields);
    if (jv_string(v, sms, P, "type", "kannel", false, &ch->type) == 0 && ch->type &&
        strcmp(ch->type, "kannel") != 0)
        jv_error(v, jv_path(p, sizeof(p), P, "type"), "unsupported gateway type \"%s\" (known: kannel)",
                 ch->type);
    if (jv_string(v, sms, P, "sendsms_url", NULL, true, &ch->sendsms_url) == 0 &&
        !config_http_url_ok(ch->sendsms_url))
        jv_error(v, jv_path(p, sizeof(p), P, "sendsms_url"), "expected an http:// or https:// URL");
    jv_string(v, sms, P, "username", NULL, true, &ch->username);
    jv_secret(v, sms, P, "password", true, dir, &ch->password);
    if (jv_string(v, sms, P, "from", NULL, false, &ch->from) == 0 && ch->from) {
        const char *f = ch->from[0] == '+' ? ch->from + 1 : ch->from;
        bool ok = *f && strlen(f) <= 20;
        for (; ok && *f; f++)
            ok = isdigit((unsigned char)*f) != 0;
        if (!ok)
            jv_error(v, jv_path(p, sizeof(p), P, "from"), "expected the service number as digits");
    }
    if (jv_string(v, sms, P, "dlr_url", NULL, false, &ch->dlr_url) == 0 && ch->dlr_url &&
        !config_http_url_ok(ch->dlr_url))
        jv_error(v, jv_path(p, sizeof(p), P, "dlr_url"), "expected an http:// or https:// URL");
    jv_integer(v, sms, P, "max_segments", 6, 1, 255, &n);
    ch->max_segments = (int)n;
    jv_integer(v, sms, P, "timeout_ms", CHANNEL_TIMEOUT_MS, 100, 120000, &n);
    ch->timeout_ms = (long)n;
    load_sms_allow(v, sms, P, ch);
    load_sms_secret(v, sms, P, ch, dir);
    return ch;
}

void kannel_config_free(void *conf)
{
    struct sms_channel *ch = conf;
    if (!ch)
        return;
    free(ch->type);
    free(ch->sendsms_url);
    free(ch->username);
    free(ch->password);
    free(ch->from);
    free(ch->dlr_url);
    free(ch->allow);
    free(ch->secret);
    free(ch);
}

const struct sms_channel *sms_config(const struct config *cfg)
{
    return config_section(cfg, KANNEL_SECTION);
}
