#ifndef MASHANG_TENANT_H
#define MASHANG_TENANT_H
/* Which tenant an inbound message or an administrator is for.  Every
 * function takes any app of a worker and returns the worker's app of the
 * tenant, or NULL when none is; with a single tenant (a config without
 * "tenants") that one tenant serves everything. */
#include <stdbool.h>
#include <stddef.h>

struct app;

/* A worker's apps, one per tenant, each allocated on its own so that a
 * reload adding tenants moves none of them.  Owned by the worker. */
struct tenant_set {
    struct app **apps;
    size_t n;
};

/* The worker's tenants: how many, and the i-th (i < count). */
size_t tenant_count(const struct app *any);
struct app *tenant_at(const struct app *any, size_t i);

/* The tenant whose SMS service number `to` is (Kannel's "to"): digits
 * compared after a leading + and country code, the longest configured
 * number that begins `to` winning, so that sub-numbers a gateway appends
 * (10690001 + 23) stay with their number. */
struct app *tenant_by_number(struct app *any, const char *to);
/* The tenant that lists channel `name` of `kind` ("wechat", "chat"). */
struct app *tenant_by_channel(struct app *any, const char *kind, const char *name);
struct app *tenant_by_id(struct app *any, const char *id);
/* The tenant whose own admin token `token` is (constant-time compare). */
struct app *tenant_by_token(struct app *any, const char *token);
/* Whether `app`'s tenant lists channel `name` of `kind` (always, with a
 * single tenant): the accounts and channels it may send through. */
bool tenant_owns(const struct app *app, const char *kind, const char *name);
/* Whether the deployment serves several tenants (config "tenants"). */
bool tenant_many(const struct app *any);

#endif
