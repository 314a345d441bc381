#ifndef MASHANG_ADMIN_INTERNAL_H
#define MASHANG_ADMIN_INTERNAL_H
/* Shared by the files of the administrators' API: src/admin/admin.c (routing,
 * auth, reload, intents test, /metrics), src/admin/admin_cases.c (cases,
 * assignment, deputies), src/admin/admin_report.c (statistics, outbox),
 * src/admin/admin_residents.c (a resident's data) and src/admin/admin_teach.c
 * (category corrections, training examples, the review list).
 * Not a public header: nothing outside src/admin*.c includes it. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "core/app.h"
#include "store/store.h"

struct evhttp_request;
struct evkeyvalq;

#define ADMIN_LIST_DEFAULT 100
#define ADMIN_LIST_MAX 1000

/* One asynchronous admin request waiting for Redis.  Allocated by the
 * handler, freed by its reply callback (admin_call_free). */
struct admin_call {
    struct app *app;
    struct evhttp_request *req;
    char id[48];           /* case id, when the request names one */
    char deputy[48];       /* deputy id, for reassignment */
    int mode;              /* handler-specific: stats grouping, ... */
    bool csv;              /* answer text/csv */
    long from, to;         /* stats range; -1 = open; report: YYYYMMDD */
    char station[48];      /* report: one station's, "" for all */
};

struct admin_call *admin_call_new(struct app *app, struct evhttp_request *req);
void admin_call_free(struct admin_call *c);

/* Sends `doc` (stolen: decref'd here) as JSON with `code`. */
void admin_send(struct evhttp_request *req, int code, json_t *doc);

/* Runs admin.lua with ARGV `argv`; on -1 (Redis unreachable) answers 503
 * and frees `call`.  Returns the store's status. */
int admin_script(struct admin_call *call, store_reply_fn fn, int argc, const char **argv);

/* Parses the JSON document admin.lua returned.  On NULL/error/garbage
 * answers 503/500 itself and returns NULL. */
json_t *admin_script_json(redisReply *r, struct evhttp_request *req);

/* A new reference to the array `key` of `doc`, or a new empty array when
 * it is absent or not an array (cjson writes an empty Lua table as {}). */
static inline json_t *admin_list_member(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    return json_is_array(v) ? json_incref(v) : json_array();
}

/* Parses the request's query string into `q` and checks every key is in
 * the NULL-terminated `allowed` list.  On failure answers 400 and
 * returns -1 (q is then empty). Caller clears q with evhttp_clear_headers. */
int admin_query(struct evhttp_request *req, struct evkeyvalq *q, const char *const *allowed);

/* The call of a request whose query `q` has been checked: when `bad`
 * names a problem, answers 400 with it; on that or on OOM clears `q` and
 * returns NULL.  Otherwise the caller still owns and clears `q`. */
struct admin_call *admin_call_checked(struct app *app, struct evhttp_request *req,
                                      struct evkeyvalq *q, const char *bad);

/* For a request whose only query parameter is `name`, a number in
 * [min, max]: `*out` keeps its default when absent.  On a bad query
 * answers 400 and returns -1. */
int admin_query_long(struct evhttp_request *req, const char *name, long min, long max, long *out);

/* The request body as a JSON object; on failure answers 400 and returns NULL. */
json_t *admin_body_object(struct evhttp_request *req);

/* Adds deputy_name, station_name and category_name to case or common
 * issue `c` (its deputy, station and category), from the roster and
 * configuration of now. */
void admin_add_names(const struct app *app, json_t *c);

/* Common issues (src/admin/admin_common.c): the ranked list, split, join. */
void admin_common_list(struct app *app, struct evhttp_request *req);
void admin_common_split(struct app *app, struct evhttp_request *req);
void admin_common_join(struct app *app, struct evhttp_request *req);

/* Handlers; `id` is the path segment after /admin/cases/ (not validated). */
void admin_cases_list(struct app *app, struct evhttp_request *req);
void admin_case_show(struct app *app, struct evhttp_request *req, const char *id);
void admin_case_assign(struct app *app, struct evhttp_request *req, const char *id);
/* The console's additions (admin_console.c): an internal note in a
 * case's history, and the categories of the configuration. */
void admin_case_note(struct app *app, struct evhttp_request *req, const char *id);
void admin_categories(struct app *app, struct evhttp_request *req);
/* POST /admin/cases/{id}/withdraw: an administrator's withdrawal. */
void admin_case_withdraw(struct app *app, struct evhttp_request *req, const char *id);
/* POST /admin/outbox/dead/{id}/retry (`id` not validated). */
void admin_outbox_dead_retry(struct app *app, struct evhttp_request *req, const char *id);
/* The intent files (admin_intents.c): list them, check an edit as
 * `mashangctl intents check` does, save a clean one and reload. */
void admin_intents_files(struct app *app, struct evhttp_request *req);
void admin_intents_check(struct app *app, struct evhttp_request *req);
void admin_intents_save(struct app *app, struct evhttp_request *req);
void admin_deputies(struct app *app, struct evhttp_request *req);
void admin_stats(struct app *app, struct evhttp_request *req);
/* The annual report and the aggregates' rebuild (src/admin/admin_annual.c). */
void admin_report(struct app *app, struct evhttp_request *req);
void admin_stats_rebuild(struct app *app, struct evhttp_request *req);
void admin_outbox_dead(struct app *app, struct evhttp_request *req);
void admin_outbox_retry(struct app *app, struct evhttp_request *req);
/* Sends whose request went out unanswered (outbox:uncertain): the list,
 * and an administrator's "resend" or "drop" of one (`id` not validated). */
void admin_outbox_uncertain(struct app *app, struct evhttp_request *req);
void admin_outbox_uncertain_settle(struct app *app, struct evhttp_request *req, const char *id,
                                   const char *how);
void admin_resident_export(struct app *app, struct evhttp_request *req);
void admin_resident_erase(struct app *app, struct evhttp_request *req);
/* The teach loop (src/admin/admin_teach.c). */
void admin_case_label(struct app *app, struct evhttp_request *req, const char *id);
void admin_intents_corrections(struct app *app, struct evhttp_request *req);
void admin_intents_review(struct app *app, struct evhttp_request *req);

#endif
