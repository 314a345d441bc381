/* "tenants": the counties one deployment serves (docs/scaling.md).
 *
 * Each tenant names its own namespace, roster and the addresses its
 * residents write to; what it leaves out comes from the top level.  The
 * checks here are those the config alone can make: ids, namespaces,
 * service numbers, accounts and channels are each claimed once.  Whether
 * a named WeChat account or chat channel exists is checked by the daemon,
 * which knows the channels (src/daemon/main.c). */
#include "base/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tenant_fields[] = {
    "id", "name", "namespace", "case_prefix", "common_prefix", "roster", "intents",
    "numbers", "wechat", "chat", "admin_token", NULL,
};

static char *dup_or(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The tenant of a config without "tenants": the top-level fields. */
static void default_tenant(struct jv *v, struct config *c)
{
    struct tenant_conf *t = c->tenants = calloc(1, sizeof(*t));
    if (!t) {
        jv_error(v, "$", "out of memory");
        return;
    }
    c->ntenants = 1;
    t->id = strdup("default");
    t->ns = dup_or(c->ns);
    t->case_prefix = dup_or(c->case_prefix);
    t->common_prefix = dup_or(c->common_prefix);
    t->roster_path = dup_or(c->roster_path);
    t->intents_dir = dup_or(c->intents_dir);
    t->spool_dir = dup_or(c->spool_dir);
    if (!t->id || !t->ns || !t->case_prefix || !t->common_prefix || !t->roster_path ||
        !t->intents_dir || !t->spool_dir)
        jv_error(v, "$", "out of memory");
}

/* A service number as the gateway gives it: digits, a leading + allowed. */
static bool number_ok(const char *s)
{
    if (*s == '+')
        s++;
    size_t n = strspn(s, "0123456789");
    return n >= 3 && n <= 20 && s[n] == '\0';
}

/* Member `key` of `o`: an array of strings each accepted by `ok` (absent:
 * none), copied into *out; service numbers without a leading + and the
 * country code `cc`. */
static void load_names(struct jv *v, json_t *o, const char *P, const char *key, const char *cc,
                       bool (*ok)(const char *), const char *expect, char ***out, size_t *n)
{
    char p[JV_PATH_MAX], q[JV_PATH_MAX];
    json_t *a = json_object_get(o, key);
    jv_path(p, sizeof(p), P, key);
    if (!a || json_is_null(a))
        return;
    if (!json_is_array(a) || json_array_size(a) > 256) {
        jv_error(v, p, "expected an array of at most 256 %s", expect);
        return;
    }
    *out = calloc(json_array_size(a) + 1, sizeof(**out));
    if (!*out) {
        jv_error(v, p, "out of memory");
        return;
    }
    size_t i;
    json_t *el;
    json_array_foreach(a, i, el) {
        jv_index(q, sizeof(q), p, i);
        const char *s = json_string_value(el);
        if (!s || !ok(s)) {
            jv_error(v, q, "expected %s", expect);
            continue;
        }
        /* "+8610690001" is the number 10690001 of this country. */
        const char *digits = s;
        if (ok == number_ok && s[0] == '+') {
            digits = s + 1;
            if (cc && strncmp(digits, cc, strlen(cc)) == 0 && digits[strlen(cc)])
                digits += strlen(cc);
        }
        if (!((*out)[*n] = strdup(digits))) {
            jv_error(v, q, "out of memory");
            return;
        }
        (*n)++;
    }
}

static void load_tenant(struct jv *v, json_t *o, const char *P, const struct config *c,
                        struct tenant_conf *t)
{
    char *s = NULL;
    char p[JV_PATH_MAX];

    jv_check_fields(v, o, P, tenant_fields);
    if (jv_string(v, o, P, "id", NULL, true, &t->id) == 0 && t->id && !config_name_ok(t->id))
        jv_error(v, jv_path(p, sizeof(p), P, "id"), "must be 1-64 characters of A-Z a-z 0-9 _ -");
    jv_string(v, o, P, "name", NULL, false, &t->name);
    if (jv_string(v, o, P, "namespace", t->id, false, &t->ns) == 0 && t->ns && !config_name_ok(t->ns))
        jv_error(v, jv_path(p, sizeof(p), P, "namespace"), "must be 1-64 characters of A-Z a-z 0-9 _ -");
    if (jv_string(v, o, P, "case_prefix", c->case_prefix, false, &t->case_prefix) == 0 &&
        t->case_prefix && !config_prefix_ok(t->case_prefix))
        jv_error(v, jv_path(p, sizeof(p), P, "case_prefix"), "must be 1-3 ASCII letters, got \"%s\"",
                 t->case_prefix);
    if (jv_string(v, o, P, "common_prefix", c->common_prefix, false, &t->common_prefix) == 0 &&
        t->common_prefix) {
        jv_path(p, sizeof(p), P, "common_prefix");
        if (!config_prefix_ok(t->common_prefix))
            jv_error(v, p, "must be 1-3 ASCII letters, got \"%s\"", t->common_prefix);
        else if (t->case_prefix && strcasecmp(t->common_prefix, t->case_prefix) == 0)
            jv_error(v, p, "must differ from case_prefix (\"%s\")", t->case_prefix);
    }
    if (jv_string(v, o, P, "roster", NULL, true, &s) == 0 && s) {
        if (!*s)
            jv_error(v, jv_path(p, sizeof(p), P, "roster"), "must not be empty");
        else
            t->roster_path = config_path_join(c->dir, s);
    }
    free(s);
    s = NULL;
    if (jv_string(v, o, P, "intents", NULL, false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, jv_path(p, sizeof(p), P, "intents"), "must not be empty (leave it out for the shared set)");
        t->intents_dir = config_path_join(c->dir, s);
        t->own_intents = true;
    } else {
        t->intents_dir = dup_or(c->intents_dir);
    }
    free(s);
    if (jv_secret(v, o, P, "admin_token", false, c->dir, &t->admin_token) == 0 && t->admin_token &&
        strlen(t->admin_token) < 16)
        jv_error(v, jv_path(p, sizeof(p), P, "admin_token"), "must be at least 16 characters");
    load_names(v, o, P, "numbers", c->country_code, number_ok, "service numbers of 3-20 digits (a leading + allowed)",
               &t->numbers, &t->nnumbers);
    load_names(v, o, P, "wechat", NULL, config_name_ok, "names of accounts under channels.wechat",
               &t->wechat, &t->nwechat);
    load_names(v, o, P, "chat", NULL, config_name_ok, "names of channels under channels.chat", &t->chat,
               &t->nchat);
    if (t->id && c->spool_dir && asprintf(&t->spool_dir, "%s/%s", c->spool_dir, t->id) < 0)
        t->spool_dir = NULL;
    if ((t->id && (!t->ns || !t->case_prefix || !t->common_prefix || !t->intents_dir || !t->spool_dir)))
        jv_error(v, P, "out of memory or missing fields");
}

/* A tenant's list `l` of claimed names: numbers, wechat, chat. */
static char *const *claimed(const struct tenant_conf *t, size_t l, size_t *n)
{
    *n = l == 0 ? t->nnumbers : l == 1 ? t->nwechat : t->nchat;
    return l == 0 ? t->numbers : l == 1 ? t->wechat : t->chat;
}

/* Reports an id, namespace, number, account or channel claimed twice. */
static void check_claims(struct jv *v, const struct config *c)
{
    static const char *const lists[] = { "numbers", "wechat", "chat" };
    char p[JV_PATH_MAX], q[JV_PATH_MAX];

    for (size_t i = 0; i < c->ntenants; i++) {
        const struct tenant_conf *t = &c->tenants[i];
        jv_index(q, sizeof(q), "$.tenants", i);
        for (size_t j = 0; j < i; j++) {
            const struct tenant_conf *u = &c->tenants[j];
            if (t->id && u->id && strcmp(t->id, u->id) == 0)
                jv_error(v, jv_path(p, sizeof(p), q, "id"), "duplicate tenant id \"%s\" (also $.tenants[%zu])",
                         t->id, j);
            if (t->ns && u->ns && strcmp(t->ns, u->ns) == 0)
                jv_error(v, jv_path(p, sizeof(p), q, "namespace"),
                         "namespace \"%s\" is also $.tenants[%zu]'s: tenants never share keys", t->ns, j);
            if (t->admin_token && u->admin_token && strcmp(t->admin_token, u->admin_token) == 0)
                jv_error(v, jv_path(p, sizeof(p), q, "admin_token"), "the same token as $.tenants[%zu]", j);
            for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
                size_t na, nb;
                char *const *a = claimed(t, l, &na), *const *b = claimed(u, l, &nb);
                for (size_t x = 0; x < na; x++)
                    for (size_t y = 0; y < nb; y++)
                        if (strcmp(a[x], b[y]) == 0)
                            jv_error(v, jv_path(p, sizeof(p), q, lists[l]),
                                     "\"%s\" also belongs to $.tenants[%zu]", a[x], j);
            }
        }
        if (t->admin_token && c->admin_token && strcmp(t->admin_token, c->admin_token) == 0)
            jv_error(v, jv_path(p, sizeof(p), q, "admin_token"), "must differ from the top-level admin_token");
    }
}

void config_load_tenants(struct jv *v, json_t *root, struct config *c)
{
    char p[JV_PATH_MAX];
    json_t *a = json_object_get(root, "tenants");

    if (!a || json_is_null(a)) {
        default_tenant(v, c);
        return;
    }
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > CONFIG_TENANTS_MAX) {
        jv_error(v, "$.tenants", "expected an array of 1 to %d tenant objects", CONFIG_TENANTS_MAX);
        return;
    }
    /* Each tenant has its own; one at the top level would be ignored. */
    static const char *const per_tenant[] = { "namespace", "roster" };
    for (size_t i = 0; i < sizeof(per_tenant) / sizeof(per_tenant[0]); i++)
        if (json_object_get(root, per_tenant[i]))
            jv_error(v, jv_path(p, sizeof(p), "$", per_tenant[i]),
                     "is set per tenant when \"tenants\" is given ($.tenants[].%s)", per_tenant[i]);
    c->tenants = calloc(json_array_size(a), sizeof(*c->tenants));
    if (!c->tenants) {
        jv_error(v, "$.tenants", "out of memory");
        return;
    }
    c->multi_tenant = true;
    size_t i;
    json_t *el;
    json_array_foreach(a, i, el) {
        jv_index(p, sizeof(p), "$.tenants", i);
        if (!json_is_object(el)) {
            jv_error(v, p, "expected an object");
            continue;
        }
        load_tenant(v, el, p, c, &c->tenants[c->ntenants++]);
    }
    check_claims(v, c);
}

static void free_list(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void config_free_tenants(struct config *c)
{
    for (size_t i = 0; c->tenants && i < c->ntenants; i++) {
        struct tenant_conf *t = &c->tenants[i];
        free(t->id);
        free(t->name);
        free(t->ns);
        free(t->case_prefix);
        free(t->common_prefix);
        free(t->roster_path);
        free(t->intents_dir);
        free(t->spool_dir);
        free(t->admin_token);
        free_list(t->numbers, t->nnumbers);
        free_list(t->wechat, t->nwechat);
        free_list(t->chat, t->nchat);
    }
    free(c->tenants);
    c->tenants = NULL;
    c->ntenants = 0;
}

const struct tenant_conf *config_tenant(const struct config *c, const char *id)
{
    for (size_t i = 0; id && i < c->ntenants; i++)
        if (strcmp(c->tenants[i].id, id) == 0)
            return &c->tenants[i];
    return NULL;
}
