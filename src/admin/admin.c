/* The administrators' API: authentication and routing of /admin/
 * requests, reload, intent testing, shared helpers of src/admin_*.c,
 * and GET /metrics (counters plus gauges read from Redis at scrape time). */
#include "admin/admin.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "admin/console.h"
#include "base/config.h"
#include "intents/intents.h"
#include "intents/intents_json.h"
#include "core/lifecycle.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/reply.h"
#include "http/route.h"
#include "core/app.h"
#include "core/tenant.h"
#include "store/store.h"

/* ---- helpers shared by src/admin_*.c ----------------------------------- */

struct admin_call *admin_call_new(struct app *app, struct evhttp_request *req)
{
    struct admin_call *c = calloc(1, sizeof(*c));
    if (!c) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return NULL;
    }
    c->app = app;
    c->req = req;
    c->from = c->to = -1;
    return c;
}

void admin_call_free(struct admin_call *c)
{
    free(c);
}

void admin_send(struct evhttp_request *req, int code, json_t *doc)
{
    /* A many-county deployment names the county in every answer. */
    const char *tenant = evhttp_find_header(evhttp_request_get_output_headers(req), "X-Mashang-Tenant");
    if (tenant && json_is_object(doc) && !json_object_get(doc, "tenant"))
        json_object_set_new(doc, "tenant", json_string(tenant));
    char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(doc);
    if (!s) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    if (code == 202) { /* http_send_json knows no reason phrase for it */
        struct evbuffer *buf = evbuffer_new();
        if (buf)
            evbuffer_add_printf(buf, "%s\n", s);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evhttp_send_reply(req, 202, "Accepted", buf);
        if (buf)
            evbuffer_free(buf);
    } else {
        http_send_json(req, code, s);
    }
    free(s);
}

int admin_script(struct admin_call *call, store_reply_fn fn, int argc, const char **argv)
{
    int rc = store_script(call->app->store, SCRIPT_ADMIN, fn, call, argc, argv, NULL);
    if (rc < 0) {
        http_send_error(call->req, 503, "redis_unavailable", "Redis cannot be reached");
        admin_call_free(call);
    }
    return rc;
}

json_t *admin_script_json(redisReply *r, struct evhttp_request *req)
{
    if (!r) {
        http_send_error(req, 503, "redis_unavailable", "Redis connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("admin_script_failed", "error=%s", LOG_STR(r->str));
        http_send_error(req, 500, "script_failed", "admin script failed; see the daemon log");
        return NULL;
    }
    json_t *doc = NULL;
    if (r->type == REDIS_REPLY_STRING)
        doc = json_loadb(r->str, r->len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        log_error("admin_script_failed", "error=\"unexpected reply type %d\"", r->type);
        http_send_error(req, 500, "script_failed", "unexpected answer from Redis");
        return NULL;
    }
    return doc;
}

int admin_query(struct evhttp_request *req, struct evkeyvalq *q, const char *const *allowed)
{
    TAILQ_INIT(q);
    const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (qs && evhttp_parse_query_str(qs, q) < 0) {
        evhttp_clear_headers(q);
        http_send_error(req, 400, "bad_query", "malformed query string");
        return -1;
    }
    for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, kv->key) != 0)
            a++;
        if (!*a) {
            char detail[128];
            snprintf(detail, sizeof(detail), "unknown parameter %.80s", kv->key);
            evhttp_clear_headers(q);
            http_send_error(req, 400, "bad_query", detail);
            return -1;
        }
    }
    return 0;
}

struct admin_call *admin_call_checked(struct app *app, struct evhttp_request *req,
                                      struct evkeyvalq *q, const char *bad)
{
    struct admin_call *call = NULL;
    if (bad)
        http_send_error(req, 400, "bad_query", bad);
    else
        call = admin_call_new(app, req);
    if (!call)
        evhttp_clear_headers(q);
    return call;
}

int admin_query_long(struct evhttp_request *req, const char *name, long min, long max, long *out)
{
    const char *const allowed[] = { name, NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return -1;
    const char *v = evhttp_find_header(&q, name);
    int bad = v && admin_parse_long(v, min, max, out) < 0;
    evhttp_clear_headers(&q);
    if (bad) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%.32s: %ld-%ld expected", name, min, max);
        http_send_error(req, 400, "bad_query", detail);
        return -1;
    }
    return 0;
}

json_t *admin_body_object(struct evhttp_request *req)
{
    size_t len;
    char *body = http_body(req, &len);
    if (!body) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    free(body);
    if (!json_is_object(doc)) {
        json_decref(doc);
        http_send_error(req, 400, "bad_json", "body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* ---- authentication ---------------------------------------------------- */

/* The bearer token of the request, or NULL. */
static const char *bearer(struct evhttp_request *req)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
}

/* Constant-time check of the top-level token, which reaches every tenant. */
static bool top_token(const struct app *app, const char *given)
{
    const char *token = app->cfg->admin_token;
    if (!token || !*token || !given)
        return false;
    size_t n = strlen(token);
    return strlen(given) == n && CRYPTO_memcmp(given, token, n) == 0;
}

static bool any_token(const struct app *app)
{
    if (app->cfg->admin_token && *app->cfg->admin_token)
        return true;
    for (size_t i = 0; i < tenant_count(app); i++)
        if (tenant_at(app, i)->tenant->admin_token)
            return true;
    return false;
}

/* ---- reload and intents test ------------------------------------------- */

/* The reload itself belongs to the daemon (src/daemon/main.c, on SIGHUP): raising
 * the signal queues it on the loop exactly as `kill -HUP` would, so there
 * is one reload path.  It runs after this reply, hence 202. */
static void admin_reload(struct app *app, struct evhttp_request *req)
{
    (void)app;
    if (raise(SIGHUP) != 0) {
        http_send_error(req, 500, "reload_failed", "could not signal the daemon");
        return;
    }
    log_info("admin_reload", "via=api");
    admin_send(req, 202, json_pack("{s:s}", "status", "reloading"));
}

static void admin_intents_test(struct app *app, struct evhttp_request *req)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    json_t *jt = json_object_get(body, "text");
    json_t *jas = json_object_get(body, "as");
    enum intent_role role = ROLE_RESIDENT;
    if (!json_is_string(jt)) {
        json_decref(body);
        http_send_error(req, 400, "bad_request", "\"text\" (string) is required");
        return;
    }
    if (jas && !json_is_null(jas)) {
        const char *as = json_is_string(jas) ? json_string_value(jas) : "";
        if (strcmp(as, "deputy") == 0) {
            role = ROLE_DEPUTY;
        } else if (strcmp(as, "resident") != 0) {
            json_decref(body);
            http_send_error(req, 400, "bad_request", "\"as\" must be resident or deputy");
            return;
        }
    }
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);
    struct intent_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = intent_match(app->intents, app->matcher, text, len, role, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0) {
        json_decref(body);
        http_send_error(req, 400, "bad_request", "text is not valid UTF-8");
        return;
    }
    double us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    json_t *out = intent_result_json(text, len, intent_matcher_normalized(app->matcher), &res, us);
    json_decref(body);
    admin_send(req, 200, out);
}

/* ---- routing ----------------------------------------------------------- */

enum { M_GET = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, M_POST = EVHTTP_REQ_POST };

/* Answers 405 (with Allow) unless the request's method is in `mask`. */
static int method_ok(struct evhttp_request *req, int mask)
{
    if (evhttp_request_get_command(req) & mask)
        return 1;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", mask == M_POST ? "POST" : "GET");
    http_send_error(req, 405, "method_not_allowed", mask == M_POST ? "use POST" : "use GET");
    return 0;
}

/* "{id}/resend" or "{id}/drop" after /admin/outbox/uncertain/. */
static void outbox_uncertain_route(struct app *app, struct evhttp_request *req, const char *seg)
{
    char id[72];
    const char *slash = strchr(seg, '/');
    size_t idlen = slash ? (size_t)(slash - seg) : 0;
    const char *how = slash ? slash + 1 : "";
    if (idlen == 0 || idlen >= sizeof(id) || (strcmp(how, "resend") != 0 && strcmp(how, "drop") != 0)) {
        http_send_error(req, 404, "not_found", "no such admin endpoint");
        return;
    }
    memcpy(id, seg, idlen);
    id[idlen] = '\0';
    if (method_ok(req, M_POST))
        admin_outbox_uncertain_settle(app, req, id, how);
}

static void admin_dispatch(struct app *app, struct evhttp_request *req, const char *path);

/* "{id}/retry" after /admin/outbox/dead/. */
static void outbox_dead_route(struct app *app, struct evhttp_request *req, const char *seg)
{
    char id[72];
    const char *slash = strchr(seg, '/');
    size_t idlen = slash ? (size_t)(slash - seg) : 0;
    if (idlen == 0 || idlen >= sizeof(id) || strcmp(slash, "/retry") != 0) {
        http_send_error(req, 404, "not_found", "no such admin endpoint");
        return;
    }
    memcpy(id, seg, idlen);
    id[idlen] = '\0';
    if (method_ok(req, M_POST))
        admin_outbox_dead_retry(app, req, id);
}

/* GET /admin/tenants: the tenants this token reaches. */
static void admin_tenants(struct app *any, struct evhttp_request *req, const struct app *only)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < tenant_count(any); i++) {
        const struct app *t = tenant_at(any, i);
        if (only && t != only)
            continue;
        json_t *numbers = json_array();
        for (size_t k = 0; numbers && k < t->tenant->nnumbers; k++)
            json_array_append_new(numbers, json_string(t->tenant->numbers[k]));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}", "id", t->tenant->id,
                                              "name", t->tenant->name ? t->tenant->name : t->tenant->id,
                                              "namespace", t->tenant->ns, "case_prefix",
                                              t->tenant->case_prefix, "numbers",
                                              numbers ? numbers : json_null(),
                                              "redis", store_connected(t->store)));
    }
    admin_send(req, 200, list ? json_pack("{s:o}", "tenants", list) : NULL);
}

/* "/admin/tenants/<id>/rest" names a tenant: its app (NULL when unknown),
 * and `path` rewritten to "/admin/rest" in buf. */
static struct app *path_tenant(struct app *any, const char **path, char *buf, size_t sz)
{
    const char *p = *path + strlen("/admin/tenants/");
    const char *slash = strchr(p, '/');
    char id[72];
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof(id))
        return NULL;
    memcpy(id, p, n);
    id[n] = '\0';
    snprintf(buf, sz, "/admin/%s", slash ? slash + 1 : "");
    *path = buf;
    return tenant_by_id(any, id);
}

/* A request with a county's own credentials (its token, or its console
 * session).  Shared intents change what every county understands: their
 * files are the top-level administrators' to edit. */
static void county_dispatch(struct app *app, struct evhttp_request *req, const char *path)
{
    if (tenant_many(app) && !app->tenant->own_intents && strcmp(path, "/admin/intents/save") == 0) {
        http_send_error(req, 403, "shared_intents",
                        "this county uses the shared intents; the top-level token edits them");
        return;
    }
    admin_dispatch(app, req, path);
}

void admin_handle(struct app *app, struct evhttp_request *req, const char *path)
{
    if (!any_token(app)) {
        http_send_error(req, 404, "admin_disabled", "no admin_token configured");
        return;
    }
    const char *given = bearer(req);
    bool top = top_token(app, given);
    struct app *own = top ? NULL : tenant_by_token(app, given);
    if (!top && !own) {
        /* The console's pages: a session cookie (and CSRF token) instead,
         * of one county when there are several (docs/console.md). */
        if (!given && console_session_auth(app, req, path, county_dispatch))
            return;
        log_warn("admin_unauthorized", "path=%s", LOG_STR(path));
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        http_send_error(req, 401, "unauthorized", "missing or wrong bearer token");
        return;
    }
    if (!tenant_many(app)) {
        admin_dispatch(app, req, path);
        return;
    }
    char rewritten[256];
    struct app *t = own;
    if (strcmp(path, "/admin/tenants") == 0 || strcmp(path, "/admin/tenants/") == 0) {
        if (method_ok(req, M_GET))
            admin_tenants(app, req, own);
        return;
    }
    if (strncmp(path, "/admin/tenants/", 15) == 0) {
        struct app *named = path_tenant(app, &path, rewritten, sizeof(rewritten));
        /* Another county's is as unknown to a county's token as a made-up one. */
        if (!named || (own && named != own)) {
            http_send_error(req, 404, "no_tenant", "no such tenant");
            return;
        }
        t = named;
    }
    if (!t && strcmp(path, "/admin/reload") != 0) {
        http_send_error(req, 400, "tenant_required",
                        "this deployment serves several counties: use /admin/tenants/<id>/... "
                        "(GET /admin/tenants lists them)");
        return;
    }
    if (t)
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Mashang-Tenant", t->tenant->id);
    if (own)
        county_dispatch(own, req, path);
    else
        admin_dispatch(t ? t : app, req, path);
}

/* An authenticated request to path ("/admin/..."). */
static void admin_dispatch(struct app *app, struct evhttp_request *req, const char *path)
{
    /* "/admin/x/" is "/admin/x"; segments are matched exactly. */
    char p[256];
    size_t n = strlen(path);
    if (n >= sizeof(p)) {
        http_send_error(req, 404, "not_found", "no such admin endpoint");
        return;
    }
    memcpy(p, path, n + 1);
    while (n > 7 && p[n - 1] == '/')
        p[--n] = '\0';
    const char *rest = p + 7; /* after "/admin/" */

    if (strcmp(rest, "cases") == 0) {
        if (method_ok(req, M_GET))
            admin_cases_list(app, req);
    } else if (strncmp(rest, "cases/", 6) == 0) {
        char id[64];
        const char *seg = rest + 6;
        const char *slash = strchr(seg, '/');
        size_t idlen = slash ? (size_t)(slash - seg) : strlen(seg);
        if (idlen == 0 || idlen >= sizeof(id)) {
            http_send_error(req, 404, "not_found", "no such case");
            return;
        }
        memcpy(id, seg, idlen);
        id[idlen] = '\0';
        if (!slash) {
            if (method_ok(req, M_GET))
                admin_case_show(app, req, id);
        } else if (strcmp(slash, "/assign") == 0) {
            if (method_ok(req, M_POST))
                admin_case_assign(app, req, id);
        } else if (strcmp(slash, "/label") == 0) {
            if (method_ok(req, M_POST))
                admin_case_label(app, req, id);
        } else if (strcmp(slash, "/note") == 0) {
            if (method_ok(req, M_POST))
                admin_case_note(app, req, id);
        } else if (strcmp(slash, "/withdraw") == 0) {
            if (method_ok(req, M_POST))
                admin_case_withdraw(app, req, id);
        } else {
            http_send_error(req, 404, "not_found", "no such admin endpoint");
        }
    } else if (strcmp(rest, "common") == 0) {
        if (method_ok(req, M_GET))
            admin_common_list(app, req);
    } else if (strcmp(rest, "common/split") == 0) {
        if (method_ok(req, M_POST))
            admin_common_split(app, req);
    } else if (strcmp(rest, "common/join") == 0) {
        if (method_ok(req, M_POST))
            admin_common_join(app, req);
    } else if (strcmp(rest, "categories") == 0) {
        if (method_ok(req, M_GET))
            admin_categories(app, req);
    } else if (strcmp(rest, "deputies") == 0) {
        if (method_ok(req, M_GET))
            admin_deputies(app, req);
    } else if (strcmp(rest, "stats") == 0) {
        if (method_ok(req, M_GET))
            admin_stats(app, req);
    } else if (strcmp(rest, "stats/rebuild") == 0) {
        if (method_ok(req, M_POST))
            admin_stats_rebuild(app, req);
    } else if (strcmp(rest, "report") == 0) {
        if (method_ok(req, M_GET))
            admin_report(app, req);
    } else if (strcmp(rest, "reload") == 0) {
        if (method_ok(req, M_POST))
            admin_reload(app, req);
    } else if (strcmp(rest, "intents/test") == 0) {
        if (method_ok(req, M_POST))
            admin_intents_test(app, req);
    } else if (strcmp(rest, "intents/files") == 0) {
        if (method_ok(req, M_GET))
            admin_intents_files(app, req);
    } else if (strcmp(rest, "intents/check") == 0) {
        if (method_ok(req, M_POST))
            admin_intents_check(app, req);
    } else if (strcmp(rest, "intents/save") == 0) {
        if (method_ok(req, M_POST))
            admin_intents_save(app, req);
    } else if (strcmp(rest, "intents/corrections") == 0) {
        if (method_ok(req, M_GET))
            admin_intents_corrections(app, req);
    } else if (strcmp(rest, "intents/review") == 0) {
        if (method_ok(req, M_GET))
            admin_intents_review(app, req);
    } else if (strcmp(rest, "outbox/dead") == 0) {
        if (method_ok(req, M_GET))
            admin_outbox_dead(app, req);
    } else if (strcmp(rest, "outbox/uncertain") == 0) {
        if (method_ok(req, M_GET))
            admin_outbox_uncertain(app, req);
    } else if (strncmp(rest, "outbox/dead/", 12) == 0) {
        outbox_dead_route(app, req, rest + 12);
    } else if (strncmp(rest, "outbox/uncertain/", 17) == 0) {
        outbox_uncertain_route(app, req, rest + 17);
    } else if (strcmp(rest, "residents") == 0) {
        if (method_ok(req, M_GET))
            admin_resident_export(app, req);
    } else if (strcmp(rest, "residents/erase") == 0) {
        if (method_ok(req, M_POST))
            admin_resident_erase(app, req);
    } else if (strcmp(rest, "outbox/retry") == 0) {
        if (method_ok(req, M_POST))
            admin_outbox_retry(app, req);
    } else {
        http_send_error(req, 404, "not_found", "no such admin endpoint");
    }
}

/* ---- /metrics ---------------------------------------------------------- */

/* A scrape waiting for the Redis gauges of each tenant in turn; owns
 * `buf` (the counters) and the tenants' answers. */
struct scrape {
    struct app *app;           /* any tenant: its `tenants` are walked */
    struct evhttp_request *req;
    struct evbuffer *buf;
    size_t count;              /* tenants when the scrape began */
    size_t next;               /* the tenant asked now */
    json_t **gauges;           /* one per tenant, NULL when Redis did not answer */
};

static size_t scrape_count(const struct scrape *s)
{
    return s->count;
}

static void scrape_free(struct scrape *s)
{
    for (size_t i = 0; s->gauges && i < scrape_count(s); i++)
        json_decref(s->gauges[i]);
    free(s->gauges);
    if (s->buf)
        evbuffer_free(s->buf);
    free(s);
}

static json_int_t int_member(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* `{tenant="x",` / `{` and the closing part of a sample's labels. */
static void sample(struct evbuffer *b, const char *name, const char *tenant, const char *label,
                   const char *value_of_label, long long v)
{
    evbuffer_add_printf(b, "%s", name);
    if (tenant || label) {
        evbuffer_add_printf(b, "{");
        if (tenant)
            evbuffer_add_printf(b, "tenant=\"%s\"%s", tenant, label ? "," : "");
        if (label)
            evbuffer_add_printf(b, "%s=\"%s\"", label, value_of_label);
        evbuffer_add_printf(b, "}");
    }
    evbuffer_add_printf(b, " %lld\n", v);
}

static void family(struct evbuffer *b, const char *name, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* A gauge from each tenant's answer (one sample per tenant that answered;
 * the tenant label only when the deployment has several). */
static void gauge_all(struct scrape *s, const char *name, const char *help, const char *key)
{
    family(s->buf, name, help);
    for (size_t i = 0; i < scrape_count(s); i++)
        if (s->gauges[i])
            sample(s->buf, name, tenant_many(s->app) ? tenant_at(s->app, i)->tenant->id : NULL, NULL,
                   NULL, strcmp(key, "truncated") == 0
                             ? json_is_true(json_object_get(s->gauges[i], key))
                             : (long long)int_member(s->gauges[i], key));
}

/* Appends the gauges from admin.lua's "gauges" answers. */
static void render_gauges(struct scrape *s)
{
    struct evbuffer *b = s->buf;
    bool many = tenant_many(s->app);
    family(b, "mashang_redis_up", "1 when Redis answered the gauge query of this scrape.");
    for (size_t i = 0; i < scrape_count(s); i++)
        sample(b, "mashang_redis_up", many ? tenant_at(s->app, i)->tenant->id : NULL, NULL, NULL,
               s->gauges[i] != NULL);
    family(b, "mashang_cases", "Cases by state (kept by the Redis scripts, read at scrape time).");
    for (size_t i = 0; i < scrape_count(s); i++) {
        json_t *states = json_object_get(s->gauges[i], "states");
        const char *tenant = many ? tenant_at(s->app, i)->tenant->id : NULL;
        if (!s->gauges[i])
            continue;
        for (int st = 0; st < CASE_STATE_COUNT; st++) {
            const char *name = case_state_name((enum case_state)st);
            sample(b, "mashang_cases", tenant, "state", name, (long long)int_member(states, name));
        }
        const char *key;
        json_t *v;
        json_object_foreach(states, key, v) {
            /* a state this build does not know (newer script): still shown */
            if (case_state_parse(key) < 0 && strspn(key, "abcdefghijklmnopqrstuvwxyz_") == strlen(key))
                sample(b, "mashang_cases", tenant, "state", key, (long long)json_integer_value(v));
        }
    }
    gauge_all(s, "mashang_cases_overdue", "Open cases past their accept or resolve deadline.", "overdue");
    gauge_all(s, "mashang_cases_scan_truncated",
              "Always 0: the scripts keep the case gauges, no scrape walks the cases.", "truncated");
    gauge_all(s, "mashang_outbox_ready", "Outbound messages waiting to be sent.", "ready");
    gauge_all(s, "mashang_outbox_inflight", "Outbound messages leased to a sender.", "inflight");
    gauge_all(s, "mashang_outbox_dead", "Outbound messages in the dead-letter list.", "dead");
    gauge_all(s, "mashang_outbox_uncertain",
              "Outbound messages sent without an answer, set aside for an administrator.", "uncertain");
}

static void ask_next(struct scrape *s);

static void on_gauges(redisReply *r, void *arg)
{
    struct scrape *s = arg;
    json_t *g = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        g = json_loadb(r->str, r->len, 0, NULL);
    if (json_is_object(g)) {
        s->gauges[s->next] = g;
    } else {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("metrics_gauges_failed", "error=%s", LOG_STR(r->str));
        json_decref(g);
    }
    s->next++;
    ask_next(s);
}

/* Asks the next tenant's Redis, or sends the page when all have answered. */
static void ask_next(struct scrape *s)
{
    if (s->next >= scrape_count(s)) {
        render_gauges(s);
        evhttp_add_header(evhttp_request_get_output_headers(s->req), "Content-Type",
                          "text/plain; version=0.0.4");
        evhttp_send_reply(s->req, 200, "OK", s->buf);
        scrape_free(s);
        return;
    }
    struct app *app = tenant_at(s->app, s->next);
    char now[24], accept_s[24], resolve_s[24];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(accept_s, sizeof(accept_s), "%ld", app->cfg->timers.accept_s);
    snprintf(resolve_s, sizeof(resolve_s), "%ld", app->cfg->timers.resolve_s);
    const char *argv[] = { "gauges", now, accept_s, resolve_s };
    if (!store_connected(app->store) ||
        store_script(app->store, SCRIPT_ADMIN, on_gauges, s, 4, argv, NULL) < 0)
        on_gauges(NULL, s); /* Redis down: the counters alone */
}

void metrics_handle(struct app *app, struct evhttp_request *req)
{
    if (!(evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD))) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        http_send_error(req, 405, "method_not_allowed", "use GET");
        return;
    }
    struct scrape *s = calloc(1, sizeof(*s));
    if (s) {
        s->app = app;
        s->count = tenant_count(app);
        s->buf = evbuffer_new();
        s->gauges = calloc(scrape_count(s), sizeof(*s->gauges));
    }
    if (!s || !s->buf || !s->gauges) {
        if (s)
            scrape_free(s);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    s->req = req;
    metrics_render(app->metrics, s->buf);
    ask_next(s);
}

/* ---- routes ------------------------------------------------------------------ */

static void route_admin(void *ctx, struct evhttp_request *req, const char *path, const char *rest)
{
    (void)rest;
    admin_handle(ctx, req, path);
}

static void route_metrics(void *ctx, struct evhttp_request *req, const char *path,
                          const char *rest)
{
    (void)path;
    (void)rest;
    metrics_handle(ctx, req);
}

/* Both answer the methods they do not serve themselves. */
static const struct http_route routes[] = {
    { "/metrics", HTTP_ANY_METHOD, NULL, HTTP_DOOR_INTERNAL, route_metrics },
    { "/admin/", HTTP_ANY_METHOD, NULL, HTTP_DOOR_INTERNAL, route_admin },
};

int admin_routes(struct http_routes *t, struct app *app)
{
    return http_routes_add(t, routes, sizeof(routes) / sizeof(routes[0]), app);
}
