/* The teach loop of the administrators' API: correcting a case's category
 * (POST /admin/cases/{id}/label), the training examples those corrections
 * make (GET /admin/intents/corrections) and the cases the intents engine
 * was unsure of (GET /admin/intents/review).  The Redis side is
 * admin.lua ("label", "routed", "corrections", "review"); moving a case
 * is step_assign, the same atomic step as any reassignment. */
#include "admin/admin_teach.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "admin/admin_stats.h"
#include "base/case_id.h"
#include "base/config.h"
#include "base/form.h"
#include "base/log.h"
#include "core/roster.h"
#include "core/routing.h"
#include "http/reply.h"
#include "core/step.h"
#include "store/store.h"
#include "base/util.h"

#define CORRECTIONS_DEFAULT 10000
#define CORRECTIONS_MAX 100000

/* ---- pure decisions ---------------------------------------------------- */

bool teach_reroutes(const char *state, const char *routed_by)
{
    if (!state || !routed_by || strcmp(state, "assigned") != 0)
        return false;
    return strcmp(routed_by, "topic") == 0 || strcmp(routed_by, "default") == 0;
}

const char *teach_pick(const struct teach_candidate *topic, size_t n, const char *fallback,
                       const char **rule)
{
    const struct teach_candidate *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (topic[i].id && (!best || topic[i].open < best->open))
            best = &topic[i];
    if (best) {
        *rule = "topic";
        return best->id;
    }
    *rule = "default";
    return fallback && *fallback ? fallback : NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static bool known_category(const struct config *cfg, const char *label)
{
    for (size_t i = 0; i < cfg->ncategories; i++)
        if (strcmp(cfg->categories[i].key, label) == 0)
            return true;
    return false;
}

/* The string member `key` of `o`, "" when there is none. */
static const char *str_member(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The "label" of a JSON object body or a form body into `out`.  On
 * failure answers 400 and returns -1. */
static int label_from_request(struct evhttp_request *req, char *out, size_t outsz)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    const char *value = NULL;
    json_t *doc = NULL;
    struct form f = { 0 };
    int rc = -1;
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        size_t len;
        char *body = http_body(req, &len);
        if (!body) {
            http_send_error(req, 503, "unavailable", "out of memory");
            return -1;
        }
        int bad = form_parse(body, len, &f);
        free(body);
        const struct form_field *ff = bad ? NULL : form_get(&f, "label");
        if (ff && strlen(ff->value) == ff->len)
            value = ff->value;
    } else {
        doc = admin_body_object(req);
        if (!doc)
            return -1;   /* answered */
        value = json_string_value(json_object_get(doc, "label"));
    }
    if (!value || !*value || strlen(value) >= outsz)
        http_send_error(req, 400, "bad_request", "\"label\" (a category) is required");
    else {
        snprintf(out, outsz, "%s", value);
        rc = 0;
    }
    json_decref(doc);
    form_free(&f);
    return rc;
}

/* ---- POST /admin/cases/{id}/label -------------------------------------- */

#define ID_MAX 24

/* One correction in flight: the admin.lua call, then maybe step_assign
 * and the routed_by fix-up.  Owns `call`. */
struct label_call {
    struct admin_call *call;
    char label[64];
    char previous[64];
    char deputy[ID_MAX];         /* the case's deputy before any move */
    char target[ID_MAX];
    const char *rule;            /* static string */
    char cands[ROUTE_MAX_DEPUTIES][ID_MAX];
    size_t ncands;
    char fallback[ID_MAX];
};

static void label_free(struct label_call *lc)
{
    admin_call_free(lc->call);
    free(lc);
}

/* Runs admin.lua for `lc`; answers 503 and frees it when Redis is gone. */
static void label_script(struct label_call *lc, store_reply_fn fn, int argc, const char **argv)
{
    if (store_script(lc->call->app->store, SCRIPT_ADMIN, fn, lc, argc, argv, NULL) < 0) {
        http_send_error(lc->call->req, 503, "redis_unavailable", "Redis cannot be reached");
        label_free(lc);
    }
}

static void label_answer(struct label_call *lc, bool moved, const char *state, const char *deputy,
                         const char *routed_by, const char *not_moved)
{
    const struct config *cfg = lc->call->app->cfg;
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", lc->call->id, "category", lc->label,
                            "category_name", config_category_name(cfg, lc->label),
                            "previous", lc->previous, "moved", moved);
    if (out && state && *state)
        json_object_set_new(out, "state", json_string(state));
    if (out && deputy && *deputy)
        json_object_set_new(out, "deputy", json_string(deputy));
    if (out && routed_by && *routed_by)
        json_object_set_new(out, "routed_by", json_string(routed_by));
    if (out && not_moved)
        json_object_set_new(out, "not_moved", json_string(not_moved));
    log_info("admin_label", "case=%s category=%s previous=%s moved=%s deputy=%s", LOG_STR(lc->call->id),
             LOG_STR(lc->label), LOG_STR(lc->previous[0] ? lc->previous : "-"), moved ? "yes" : "no",
             LOG_STR(deputy && *deputy ? deputy : "-"));
    admin_send(lc->call->req, 200, out);
    label_free(lc);
}

static void on_routed(redisReply *r, void *arg)
{
    struct label_call *lc = arg;
    json_t *doc = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        doc = json_loadb(r->str, r->len, 0, NULL);
    /* The move is stored; only the read-back may have failed. */
    label_answer(lc, true, doc ? str_member(doc, "state") : NULL,
                 doc ? str_member(doc, "deputy") : lc->target,
                 doc ? str_member(doc, "routed_by") : "transfer", NULL);
    json_decref(doc);
}

static void on_label_assigned(enum step_outcome outcome, const char *action, const char *case_id,
                              void *arg)
{
    struct label_call *lc = arg;
    (void)case_id;
    if (outcome == STEP_STORED) {
        /* A transfer records "transfer"; the deputy was chosen by the
         * corrected category's rule, and saying so lets a second
         * correction move the case again. */
        const char *argv[] = { "routed", lc->call->id, lc->target, lc->rule };
        label_script(lc, on_routed, 4, argv);
        return;
    }
    if (outcome == STEP_UNAVAILABLE) {
        /* The category is stored; repeating the request completes the move. */
        http_send_error(lc->call->req, 503, "redis_unavailable",
                        "category corrected, the case was not moved; retry");
        label_free(lc);
        return;
    }
    /* E.g. the deputy accepted it meanwhile: the case stays. */
    label_answer(lc, false, NULL, lc->deputy, NULL, action ? action : "rejected");
}

static void on_labeled(redisReply *r, void *arg)
{
    struct label_call *lc = arg;
    json_t *doc = admin_script_json(r, lc->call->req);
    if (!doc) {
        label_free(lc);
        return;
    }
    if (!json_is_true(json_object_get(doc, "found"))) {
        json_decref(doc);
        http_send_error(lc->call->req, 404, "unknown_case", "no such case");
        label_free(lc);
        return;
    }
    const char *state = str_member(doc, "state");
    const char *routed_by = str_member(doc, "routed_by");
    snprintf(lc->previous, sizeof(lc->previous), "%s", str_member(doc, "previous"));
    snprintf(lc->deputy, sizeof(lc->deputy), "%s", str_member(doc, "deputy"));

    const char *target = NULL;
    if (strcmp(lc->previous, lc->label) != 0 && teach_reroutes(state, routed_by)) {
        json_t *loads = json_object_get(doc, "loads");
        struct teach_candidate cands[ROUTE_MAX_DEPUTIES];
        for (size_t i = 0; i < lc->ncands; i++) {
            cands[i].id = lc->cands[i];
            cands[i].open = (long long)json_integer_value(json_array_get(loads, i));
        }
        target = teach_pick(cands, lc->ncands, lc->fallback, &lc->rule);
    }
    if (!target || strcmp(target, lc->deputy) == 0) {
        label_answer(lc, false, state, lc->deputy, routed_by, NULL);
        json_decref(doc);
        return;
    }
    json_decref(doc);
    snprintf(lc->target, sizeof(lc->target), "%s", target);
    char note[96];
    snprintf(note, sizeof(note), "category corrected: %s", lc->label);
    step_assign(lc->call->app, lc->call->id, lc->target, "admin", note, on_label_assigned, lc);
}

/* Where a case of `label` would go once the place-based rules did not
 * apply: its topic group, then the default liaison.  Ids are copied:
 * a reload may replace the roster before Redis answers. */
static void plan_candidates(const struct roster *ro, struct label_call *lc)
{
    struct route_input in = { .category = lc->label };
    struct route_plan plan;
    route_plan_build(ro, &in, &plan);
    for (size_t i = 0; i < plan.n; i++) {
        const struct route_step *s = &plan.steps[i];
        if (strcmp(s->rule, "topic") == 0)
            for (size_t k = 0; k < s->n && lc->ncands < ROUTE_MAX_DEPUTIES; k++)
                snprintf(lc->cands[lc->ncands++], ID_MAX, "%s", s->deputies[k]);
        else if (strcmp(s->rule, "default") == 0 && s->n > 0)
            snprintf(lc->fallback, ID_MAX, "%s", s->deputies[0]);
    }
}

void admin_case_label(struct app *app, struct evhttp_request *req, const char *id)
{
    char label[64];
    if (label_from_request(req, label, sizeof(label)) < 0)
        return;
    if (!known_category(app->cfg, label)) {
        http_send_error(req, 400, "unknown_category", "not a category of the configuration");
        return;
    }
    char idbuf[48];
    const char *cid = case_id_parse(id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    if (!cid) {
        http_send_error(req, 404, "unknown_case", "no such case");
        return;
    }
    struct label_call *lc = calloc(1, sizeof(*lc));
    if (!lc) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    lc->call = admin_call_new(app, req);
    if (!lc->call) {
        free(lc);
        return;
    }
    snprintf(lc->call->id, sizeof(lc->call->id), "%s", cid);
    snprintf(lc->label, sizeof(lc->label), "%s", label);
    plan_candidates(app->roster, lc);

    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    const char *argv[4 + ROUTE_MAX_DEPUTIES] = { "label", lc->call->id, lc->label, now };
    for (size_t i = 0; i < lc->ncands; i++)
        argv[4 + i] = lc->cands[i];
    label_script(lc, on_labeled, 4 + (int)lc->ncands, argv);
}

/* ---- GET /admin/intents/corrections ------------------------------------ */

/* Answers `call` (freed) with {member: rows, total} from the script's
 * reply, each row's "text" with its numbers masked (residents' words
 * leave the daemon so: a training file is shared and kept, and a number
 * teaches nothing) and completed by `each` when not NULL. */
static void send_masked_rows(struct admin_call *call, redisReply *r, const char *member,
                             void (*each)(const struct admin_call *call, json_t *row))
{
    json_t *doc = admin_script_json(r, call->req);
    if (doc) {
        json_t *rows = admin_list_member(doc, member);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            char *masked = text_mask_phones(str_member(row, "text"));
            json_object_set_new(row, "text", json_string(masked ? masked : ""));
            free(masked);
            if (each)
                each(call, row);
        }
        admin_send(call->req, 200, json_pack("{s:o,s:O}", member, rows,
                                             "total", json_object_get(doc, "total")));
        json_decref(doc);
    }
    admin_call_free(call);
}

static void on_corrections(redisReply *r, void *arg)
{
    send_masked_rows(arg, r, "corrections", NULL);
}

void admin_intents_corrections(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "label", "limit", "from", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *label = evhttp_find_header(&q, "label");
    const char *limit_s = evhttp_find_header(&q, "limit");
    const char *from_s = evhttp_find_header(&q, "from");
    long limit = CORRECTIONS_DEFAULT, from = 0;
    const char *bad = NULL;
    if (limit_s && admin_parse_long(limit_s, 1, CORRECTIONS_MAX, &limit) < 0)
        bad = "limit: 1-100000 expected";
    else if (from_s && *from_s && admin_parse_long(from_s, 0, 1L << 40, &from) < 0)
        bad = "from: Unix seconds expected";
    else if (label && *label && !known_category(app->cfg, label))
        bad = "label: not a category of the configuration";
    struct admin_call *call = bad ? NULL : admin_call_new(app, req);
    if (call) {
        char lim[24], since[24] = "";
        snprintf(lim, sizeof(lim), "%ld", limit);
        if (from_s && *from_s)
            snprintf(since, sizeof(since), "%ld", from);
        const char *argv[] = { "corrections", lim, label ? label : "", since };
        admin_script(call, on_corrections, 4, argv);
    } else if (bad) {
        http_send_error(req, 400, "bad_query", bad);
    }
    evhttp_clear_headers(&q);
}

/* ---- GET /admin/intents/review ----------------------------------------- */

static void add_category_name(const struct admin_call *call, json_t *c)
{
    const char *cat = json_string_value(json_object_get(c, "category"));
    if (cat)
        json_object_set_new(c, "category_name", json_string(config_category_name(call->app->cfg, cat)));
}

static void on_review(redisReply *r, void *arg)
{
    send_masked_rows(arg, r, "cases", add_category_name);
}

void admin_intents_review(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "limit", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    const char *limit_s = evhttp_find_header(&q, "limit");
    long limit = ADMIN_LIST_DEFAULT;
    if (limit_s && admin_parse_long(limit_s, 1, ADMIN_LIST_MAX, &limit) < 0) {
        evhttp_clear_headers(&q);
        http_send_error(req, 400, "bad_query", "limit: 1-1000 expected");
        return;
    }
    evhttp_clear_headers(&q);
    struct admin_call *call = admin_call_new(app, req);
    if (!call)
        return;
    char lim[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    const char *argv[] = { "review", lim };
    admin_script(call, on_review, 2, argv);
}
