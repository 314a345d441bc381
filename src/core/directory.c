/* Publishes reply texts and the roster directory for the Redis scripts. */
#include "core/directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base/config.h"
#include "base/log.h"
#include "core/channel_api.h"
#include "core/roster.h"
#include "core/schema.h"
#include "intents/similar.h"
#include "store/store.h"

/* Field/value pairs of the directory hash, built fresh for each publish. */
struct fields {
    char **v;              /* field, value, field, value ... (owned) */
    size_t n, cap;
};

static int fields_add(struct fields *f, const char *prefix, const char *name, char *value_owned)
{
    if (!value_owned)
        return -1;
    if (f->n + 2 > f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char **v = realloc(f->v, cap * sizeof(*v));
        if (!v) {
            free(value_owned);
            return -1;
        }
        f->v = v;
        f->cap = cap;
    }
    char *field;
    if (asprintf(&field, "%s%s", prefix, name) < 0) {
        free(value_owned);
        return -1;
    }
    f->v[f->n++] = field;
    f->v[f->n++] = value_owned;
    return 0;
}

static void fields_free(struct fields *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
}

static void add_via(const char *channel, const char *addr, void *arg)
{
    json_object_set_new(arg, channel, json_string(addr));
}

/* Every configured channel and address a deputy may be reached on (the
 * channel table says which: the phone by SMS, the WeChat id on each
 * account...).  Only published when there is a choice (two or more):
 * step.lua then notifies the deputy where they last wrote from, if it is
 * one of these (docs/lifecycle.md). */
static json_t *via_json(const struct app *app, const char *phone, const char *wechat)
{
    json_t *via = json_object();
    if (via)
        app->channels->reach(app, phone, wechat, true, add_via, via);
    if (json_object_size(via) < 2) {
        json_decref(via);
        return NULL;
    }
    return via;
}

struct first_way {
    char channel[80];
    const char *addr;
};

static void take_first(const char *channel, const char *addr, void *arg)
{
    struct first_way *w = arg;
    if (!w->addr) {
        snprintf(w->channel, sizeof(w->channel), "%s", channel);
        w->addr = addr;
    }
}

/* Where a person is reached: the first way the channel table names (their
 * phone by SMS, else their WeChat id on the first WeChat account), else
 * nothing yet. */
static char *contact_json(const struct app *app, const char *name, const char *phone,
                          const char *wechat, const char *station, const char *station_name)
{
    struct first_way w = { "", NULL };
    app->channels->reach(app, phone, wechat, false, take_first, &w);
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", name ? name : "",
                          "channel", w.channel, "addr", w.addr ? w.addr : "");
    if (o && station) {
        json_object_set_new(o, "station", json_string(station));
        json_object_set_new(o, "station_name", json_string(station_name ? station_name : ""));
        /* a deputy (the committee has no station): the ways step.lua may
         * pick from by where they last wrote */
        json_t *via = via_json(app, phone, wechat);
        if (via)
            json_object_set_new(o, "via", via);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

/* The settings step.lua works with, field "opt", one "name=value" line
 * each: they change only with the configuration, so they travel with the
 * directory (and its digest) instead of with every message. */
static int add_options(const struct config *cfg, const struct tenant_conf *t, struct fields *f)
{
    char *s;
    if (asprintf(&s, "prefix=%s\ndedupe_s=%ld\nrating_s=%ld\nsession_s=%ld\nfollowup_s=%ld\n"
                 "accept_s=%ld\nprogress_s=%ld\nresolve_s=%ld\nsender_per_minute=%d\nmax_sessions=%d\n"
                 "common_prefix=%s\ncommon_window_s=%ld\ncommon_min=%.2f\n",
                 t->case_prefix, (long)cfg->timers.dedupe_s, (long)cfg->timers.rating_s,
                 (long)cfg->timers.session_s, (long)cfg->timers.followup_s, (long)cfg->timers.accept_s,
                 (long)cfg->timers.progress_s, (long)cfg->timers.resolve_s, cfg->limits.sender_per_minute,
                 cfg->limits.max_sessions, t->common_prefix, (long)cfg->timers.common_window_s,
                 SIMILAR_COMMON_MIN) < 0)
        return -1;
    /* 回头看 and five-aspect ratings: appended so the lines above stay
     * as they were. */
    char aspects[RATING_ASPECTS_MAX * 40] = "";
    for (size_t i = 0; i < cfg->n_rating_aspects; i++) {
        size_t used = strlen(aspects);
        snprintf(aspects + used, sizeof(aspects) - used, "%s%s", i ? "," : "", cfg->rating_aspects[i]);
    }
    char *more;
    if (asprintf(&more, "%srevisit_s=%ld\naspects=%s\n", s, (long)cfg->timers.revisit_s, aspects) < 0) {
        free(s);
        return -1;
    }
    free(s);
    return fields_add(f, "", "opt", more);
}

/* A station's reception days ("reception": [{w, m, from, to, place}], w
 * -1 or m 0 when unused) and its deputies with duty days ("duty": [[id,
 * weekday bits, month-day bits]]), for step.lua's reception answers
 * and duty digest (66_stations.lua). */
static int add_station_days(const struct roster *r, const struct station *st, json_t *o)
{
    json_t *rec = json_array(), *duty = json_array();
    if (!rec || !duty)
        goto fail;
    for (size_t i = 0; i < st->nreception; i++) {
        const struct reception *rc = &st->reception[i];
        if (json_array_append_new(rec, json_pack("{s:i, s:i, s:s, s:s, s:s}", "w", rc->weekday, "m", rc->mday,
                                                 "from", rc->from, "to", rc->to,
                                                 "place", rc->place ? rc->place : "")) < 0)
            goto fail;
    }
    for (size_t i = 0; i < r->ndeputies; i++) {
        const struct deputy *d = &r->deputies[i];
        if (!d->station || strcmp(d->station, st->id) != 0 || (!d->duty_weekdays && !d->duty_mdays))
            continue;
        if (json_array_append_new(duty, json_pack("[s, I, I]", d->id, (json_int_t)d->duty_weekdays,
                                                  (json_int_t)d->duty_mdays)) < 0)
            goto fail;
    }
    json_object_set_new(o, "reception", rec);
    json_object_set_new(o, "duty", duty);
    return 0;
fail:
    json_decref(rec);
    json_decref(duty);
    return -1;
}

static int build(const struct app *app, struct fields *f)
{
    const struct config *cfg = app->cfg;
    const struct roster *r = app->roster;
    if (add_options(cfg, app->tenant, f) < 0)
        return -1;
    for (size_t i = 0; i < cfg->ntemplates; i++)
        if (fields_add(f, "t:", cfg->templates[i].key, strdup(cfg->templates[i].text)) < 0)
            return -1;
    for (size_t i = 0; i < cfg->ncategories; i++)
        if (fields_add(f, "c:", cfg->categories[i].key, strdup(cfg->categories[i].text)) < 0)
            return -1;
    for (size_t i = 0; i < r->ndeputies; i++) {
        const struct deputy *d = &r->deputies[i];
        const struct station *st = roster_station(r, d->station);
        char *contact = contact_json(app, d->name, d->phone, d->wechat, d->station,
                                     st ? st->name : NULL);
        if (fields_add(f, "d:", d->id, contact) < 0)
            return -1;
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < r->nstations; i++) {
        const struct station *st = &r->stations[i];
        json_t *o = json_pack("{s:s, s:s}", "name", st->name, "liaison", st->liaison ? st->liaison : "");
        if (o && add_station_days(r, st, o) < 0) {
            json_decref(o);
            o = NULL;
        }
        /* the station's deputies: its group for 小组商 (80_deputies.lua) */
        json_t *group = json_array();
        for (size_t j = 0; o && group && j < r->ndeputies; j++)
            if (r->deputies[j].station && strcmp(r->deputies[j].station, st->id) == 0)
                json_array_append_new(group, json_string(r->deputies[j].id));
        if (o && group)
            json_object_set_new(o, "group", group);
        else
            json_decref(group);
        char *js = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        json_array_append_new(ids, json_string(st->id));
        if (fields_add(f, "s:", st->id, js) < 0) {
            json_decref(ids);
            return -1;
        }
    }
    /* The stations in roster order and the default one: the duty digest
     * walks them, a reception question falls back to the default. */
    char *ids_s = ids ? json_dumps(ids, JSON_COMPACT) : NULL;
    json_decref(ids);
    if (fields_add(f, "", "stations", ids_s) < 0 ||
        fields_add(f, "", "default_station", strdup(r->default_station ? r->default_station : "")) < 0)
        return -1;
    char *committee = contact_json(app, r->committee.name, r->committee.phone, r->committee.wechat,
                                   NULL, NULL);
    if (fields_add(f, "", "committee", committee) < 0)
        return -1;
    return 0;
}

int directory_prepare(struct app *app)
{
    struct fields f = { 0 };
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!ctx || build(app, &f) < 0 || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL)) {
        EVP_MD_CTX_free(ctx);
        fields_free(&f);
        return -1;
    }
    for (size_t i = 0; i < f.n; i++)
        EVP_DigestUpdate(ctx, f.v[i], strlen(f.v[i]) + 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 8; i++)
        sprintf(app->digest + 2 * i, "%02x", md[i]);
    fields_free(&f);
    return 0;
}

static void on_published(redisReply *r, void *arg)
{
    (void)arg;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_error("directory_publish_failed", "error=%s", LOG_STR(r ? r->str : "redis unavailable"));
}

int directory_publish(struct app *app)
{
    struct fields f = { 0 };
    char key[128];
    int rc = -1;

    if (build(app, &f) < 0)
        goto out;
    snprintf(key, sizeof(key), "%s" SCHEMA_KEY_CFG "%s", store_prefix(app->store), app->digest);
    const char **argv = calloc(f.n + 2, sizeof(*argv));
    if (!argv)
        goto out;
    argv[0] = "HSET";
    argv[1] = key;
    for (size_t i = 0; i < f.n; i++)
        argv[2 + i] = f.v[i];
    rc = store_command(app->store, on_published, NULL, (int)f.n + 2, argv, NULL);
    free(argv);
    if (rc == 0) {
        /* Old versions fade away once no instance publishes them. */
        const char *exp[] = { "EXPIRE", key, "7776000" };
        store_command(app->store, on_published, NULL, 3, exp, NULL);
        log_info("directory_published", "digest=%s fields=%zu", app->digest, f.n / 2);
    }
out:
    fields_free(&f);
    return rc;
}
