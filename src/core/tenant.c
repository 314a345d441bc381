/* Finding the tenant of an inbound message or an admin token. */
#include "core/tenant.h"

#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/config.h"
#include "core/app.h"

bool tenant_many(const struct app *any)
{
    return any->cfg->multi_tenant;
}

size_t tenant_count(const struct app *any)
{
    return any->tenants->n;
}

struct app *tenant_at(const struct app *any, size_t i)
{
    return any->tenants->apps[i];
}

/* The digits of `to` with a leading +, 00 or country code taken off
 * when `strip_cc`; at most `sz` - 1 of them. */
static void digits_of(const char *to, const char *cc, bool strip_cc, char *out, size_t sz)
{
    size_t n = 0;
    if (strip_cc) {
        if (to[0] == '+')
            to++;
        else if (to[0] == '0' && to[1] == '0')
            to += 2;
        else
            strip_cc = false;
    }
    if (strip_cc && strncmp(to, cc, strlen(cc)) == 0)
        to += strlen(cc);
    for (; *to && n + 1 < sz; to++)
        if (*to >= '0' && *to <= '9')
            out[n++] = *to;
    out[n] = '\0';
}

/* The longest number of any tenant that begins `digits`; its length in
 * *best_len. */
static struct app *longest_prefix(struct app *any, const char *digits, size_t *best_len)
{
    struct app *best = NULL;
    for (size_t i = 0; i < tenant_count(any); i++) {
        const struct tenant_conf *t = tenant_at(any, i)->tenant;
        for (size_t k = 0; k < t->nnumbers; k++) {
            size_t len = strlen(t->numbers[k]);
            if (len > *best_len && strncmp(digits, t->numbers[k], len) == 0) {
                best = tenant_at(any, i);
                *best_len = len;
            }
        }
    }
    return best;
}

struct app *tenant_by_number(struct app *any, const char *to)
{
    if (!tenant_many(any))
        return any;
    if (!to || !*to)
        return NULL;
    char digits[64];
    size_t best_len = 0;
    digits_of(to, any->cfg->country_code, false, digits, sizeof(digits));
    struct app *best = longest_prefix(any, digits, &best_len);
    /* "+8610690001": the number without the country code. */
    digits_of(to, any->cfg->country_code, true, digits, sizeof(digits));
    struct app *intl = longest_prefix(any, digits, &best_len);
    return intl ? intl : best;
}

static bool lists(const struct tenant_conf *t, const char *kind, const char *name)
{
    bool wechat = strcmp(kind, "wechat") == 0;
    char **names = wechat ? t->wechat : t->chat;
    size_t n = wechat ? t->nwechat : t->nchat;
    for (size_t k = 0; name && k < n; k++)
        if (strcmp(names[k], name) == 0)
            return true;
    return false;
}

bool tenant_owns(const struct app *app, const char *kind, const char *name)
{
    return !tenant_many(app) || lists(app->tenant, kind, name);
}

struct app *tenant_by_channel(struct app *any, const char *kind, const char *name)
{
    if (!tenant_many(any))
        return any;
    for (size_t i = 0; i < tenant_count(any); i++)
        if (lists(tenant_at(any, i)->tenant, kind, name))
            return tenant_at(any, i);
    return NULL;
}

struct app *tenant_by_id(struct app *any, const char *id)
{
    for (size_t i = 0; id && i < tenant_count(any); i++)
        if (strcmp(tenant_at(any, i)->tenant->id, id) == 0)
            return tenant_at(any, i);
    return NULL;
}

struct app *tenant_by_token(struct app *any, const char *token)
{
    struct app *found = NULL;
    size_t n = token ? strlen(token) : 0;
    /* Every tenant is compared, so the time says nothing of which matched. */
    for (size_t i = 0; n && i < tenant_count(any); i++) {
        const char *own = tenant_at(any, i)->tenant->admin_token;
        if (own && strlen(own) == n && CRYPTO_memcmp(own, token, n) == 0)
            found = tenant_at(any, i);
    }
    return found;
}
