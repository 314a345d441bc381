/* config/deputies.json: stations, deputies and the committee, validated
 * as a whole (every problem reported with its JSON path). */
#include "core/roster.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config.h"
#include "base/jsonv.h"
#include "base/util.h"

#define PHONE_MAX 24

static const char *const level_names[] = { "village", "town", "county", "city" };

/* Weekday spellings accepted in "duty"; index = tm_wday (0 = Sunday). */
static const char *const weekday_names[][4] = {
    { "sun", "周日", "星期日", "周天" },
    { "mon", "周一", "星期一", NULL },
    { "tue", "周二", "星期二", NULL },
    { "wed", "周三", "星期三", NULL },
    { "thu", "周四", "星期四", NULL },
    { "fri", "周五", "星期五", NULL },
    { "sat", "周六", "星期六", NULL },
};

static int parse_level(const char *s, enum station_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum station_level)i;
            return 0;
        }
    }
    return -1;
}

/* "tue", "周二", "20", "daily" -> bits; -1 when not a duty entry. */
static int parse_duty(const char *s, unsigned *weekdays, unsigned long *mdays)
{
    if (strcasecmp(s, "daily") == 0 || strcmp(s, "每天") == 0) {
        *weekdays |= 0x7F;
        return 0;
    }
    for (int w = 0; w < 7; w++) {
        for (int k = 0; k < 4 && weekday_names[w][k]; k++) {
            if (k == 0 ? strcasecmp(s, weekday_names[w][k]) == 0 : strcmp(s, weekday_names[w][k]) == 0) {
                *weekdays |= 1u << w;
                return 0;
            }
        }
    }
    size_t len = strlen(s);
    if (len < 1 || len > 2 || !isdigit((unsigned char)s[0]) || (len == 2 && !isdigit((unsigned char)s[1])))
        return -1;
    int day = atoi(s);
    if (day < 1 || day > 31 || s[0] == '0')
        return -1;
    *mdays |= 1ul << day;
    return 0;
}

static bool id_chars_ok(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static bool deputy_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 9 || s[0] != 'D')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* What the loader needs besides the file: the country code for phones
 * and the category labels topics may name. */
struct roster_ctx {
    struct jv v;
    const char *country_code;
    const struct config *cfg;   /* NULL: built-in categories only */
};

static bool topic_known(const struct roster_ctx *x, const char *label)
{
    if (x->cfg) {
        for (size_t i = 0; i < x->cfg->ncategories; i++)
            if (strcmp(x->cfg->categories[i].key, label) == 0)
                return true;
        return false;
    }
    return config_builtin_category(label) != NULL;
}

/* Reads an array of non-empty strings into a malloc'd vector. */
static int string_array(struct roster_ctx *x, json_t *obj, const char *path, const char *key,
                        char ***out, size_t *n)
{
    char p[JV_PATH_MAX], q[JV_PATH_MAX];
    json_t *arr = json_object_get(obj, key);

    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr))
        return 0;
    jv_path(p, sizeof(p), path, key);
    if (!json_is_array(arr)) {
        jv_error(&x->v, p, "expected an array of strings");
        return -1;
    }
    *out = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (!*out)
        return -1;
    size_t i;
    json_t *el;
    json_array_foreach(arr, i, el) {
        if (!json_is_string(el) || json_string_length(el) == 0) {
            jv_error(&x->v, jv_index(q, sizeof(q), p, i), "expected a non-empty string");
            continue;
        }
        if (!((*out)[(*n)++] = strdup(json_string_value(el))))
            return -1;
    }
    return 0;
}

static void load_phone(struct roster_ctx *x, json_t *obj, const char *path, char **out)
{
    char p[JV_PATH_MAX], e164[PHONE_MAX];
    char *raw = NULL;

    *out = NULL;
    if (jv_string(&x->v, obj, path, "phone", NULL, false, &raw) < 0 || !raw)
        return;
    if (phone_normalize(raw, x->country_code, e164, sizeof(e164)) < 0)
        jv_error(&x->v, jv_path(p, sizeof(p), path, "phone"), "not a valid phone number");
    else
        *out = strdup(e164);
    free(raw);
}

static void load_committee(struct roster_ctx *x, json_t *root, struct roster *r)
{
    static const char *const fields[] = { "name", "phone", "wechat", NULL };
    json_t *o = jv_object(&x->v, root, "$", "committee");

    if (!o)
        return;
    jv_check_fields(&x->v, o, "$.committee", fields);
    jv_string(&x->v, o, "$.committee", "name", NULL, true, &r->committee.name);
    load_phone(x, o, "$.committee", &r->committee.phone);
    jv_string(&x->v, o, "$.committee", "wechat", NULL, false, &r->committee.wechat);
}

/* "HH:MM" into out[6]; -1 when it is not a time of day. */
static int parse_hhmm(const char *s, size_t len, char out[6])
{
    if (len != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    if ((s[0] - '0') * 10 + (s[1] - '0') > 23 || s[3] > '5')
        return -1;
    memcpy(out, s, 5);
    out[5] = '\0';
    return 0;
}

/* One entry of a station's "reception": {"day": "tue" | "周二" | "10",
 * "time": "09:00" | "09:00-11:30", "place": "..."}. */
static void load_reception_entry(struct roster_ctx *x, json_t *o, const char *P, struct reception *rc)
{
    static const char *const fields[] = { "day", "time", "place", NULL };
    char p[JV_PATH_MAX];
    char *day = NULL, *time = NULL;

    rc->weekday = -1;
    if (!json_is_object(o)) {
        jv_error(&x->v, P, "expected an object such as {\"day\": \"tue\", \"time\": \"09:00-11:30\", \"place\": \"...\"}");
        return;
    }
    jv_check_fields(&x->v, o, P, fields);
    if (jv_string(&x->v, o, P, "day", NULL, true, &day) == 0 && day) {
        unsigned w = 0;
        unsigned long m = 0;
        if (strcasecmp(day, "daily") == 0 || strcmp(day, "每天") == 0 || parse_duty(day, &w, &m) < 0) {
            jv_error(&x->v, jv_path(p, sizeof(p), P, "day"),
                     "bad reception day \"%s\" (expected one of mon..sun, 周一..周日, or a day of month \"1\"..\"31\")", day);
        } else if (w) {
            for (int d = 0; d < 7; d++)
                if (w & (1u << d))
                    rc->weekday = d;
        } else {
            for (int d = 1; d <= 31; d++)
                if (m & (1ul << d))
                    rc->mday = d;
        }
    }
    if (jv_string(&x->v, o, P, "time", NULL, true, &time) == 0 && time) {
        const char *dash = strchr(time, '-');
        size_t len = dash ? (size_t)(dash - time) : strlen(time);
        if (parse_hhmm(time, len, rc->from) < 0 || (dash && parse_hhmm(dash + 1, strlen(dash + 1), rc->to) < 0) ||
            (dash && strcmp(rc->to, rc->from) <= 0))
            jv_error(&x->v, jv_path(p, sizeof(p), P, "time"),
                     "bad reception time \"%s\" (expected \"HH:MM\" or \"HH:MM-HH:MM\", the end after the start)", time);
    }
    jv_string(&x->v, o, P, "place", NULL, true, &rc->place);
    if (rc->place && !*rc->place)
        jv_error(&x->v, jv_path(p, sizeof(p), P, "place"), "must not be empty");
    free(day);
    free(time);
}

static void load_reception(struct roster_ctx *x, json_t *o, const char *P, struct station *st)
{
    char p[JV_PATH_MAX], q[JV_PATH_MAX];
    json_t *a = json_object_get(o, "reception");
    if (!a || json_is_null(a))
        return;
    jv_path(p, sizeof(p), P, "reception");
    if (!json_is_array(a)) {
        jv_error(&x->v, p, "expected an array such as [{\"day\": \"tue\", \"time\": \"09:00-11:30\", \"place\": \"...\"}]");
        return;
    }
    if (json_array_size(a) == 0)
        return;
    if (!(st->reception = calloc(json_array_size(a), sizeof(*st->reception)))) {
        jv_error(&x->v, p, "out of memory");
        return;
    }
    size_t i;
    json_t *el;
    json_array_foreach(a, i, el)
        load_reception_entry(x, el, jv_index(q, sizeof(q), p, i), &st->reception[st->nreception++]);
}

static void load_station(struct roster_ctx *x, json_t *o, const char *P, struct station *st)
{
    static const char *const fields[] = { "id", "name", "level", "parent", "areas", "liaison", "reception", NULL };
    char p[JV_PATH_MAX];
    char *level = NULL;

    jv_check_fields(&x->v, o, P, fields);
    if (jv_string(&x->v, o, P, "id", NULL, true, &st->id) == 0 && !id_chars_ok(st->id))
        jv_error(&x->v, jv_path(p, sizeof(p), P, "id"), "station id must be 1-32 characters of A-Z a-z 0-9 _ -");
    jv_string(&x->v, o, P, "name", NULL, true, &st->name);
    if (jv_string(&x->v, o, P, "level", NULL, true, &level) == 0 && parse_level(level, &st->level) < 0)
        jv_error(&x->v, jv_path(p, sizeof(p), P, "level"),
                 "unknown level \"%s\" (village, town, county or city)", level);
    free(level);
    jv_string(&x->v, o, P, "parent", NULL, false, &st->parent);
    string_array(x, o, P, "areas", &st->areas, &st->nareas);
    jv_string(&x->v, o, P, "liaison", NULL, false, &st->liaison);
    load_reception(x, o, P, st);
}

static void load_deputy(struct roster_ctx *x, json_t *o, const char *P, struct deputy *dp)
{
    static const char *const fields[] = {
        "id", "name", "level", "station", "phone", "wechat", "topics", "duty", NULL,
    };
    char p[JV_PATH_MAX], q[JV_PATH_MAX];
    char *level = NULL;

    jv_check_fields(&x->v, o, P, fields);
    if (jv_string(&x->v, o, P, "id", NULL, true, &dp->id) == 0 && !deputy_id_ok(dp->id))
        jv_error(&x->v, jv_path(p, sizeof(p), P, "id"), "bad deputy id \"%s\" (expected D followed by 1-8 digits)",
                 dp->id);
    jv_string(&x->v, o, P, "name", NULL, true, &dp->name);
    if (jv_string(&x->v, o, P, "level", NULL, true, &level) == 0 && parse_level(level, &dp->level) < 0)
        jv_error(&x->v, jv_path(p, sizeof(p), P, "level"),
                 "unknown level \"%s\" (village, town, county or city)", level);
    free(level);
    jv_string(&x->v, o, P, "station", NULL, true, &dp->station);
    load_phone(x, o, P, &dp->phone);
    if (jv_string(&x->v, o, P, "wechat", NULL, false, &dp->wechat) == 0 && dp->wechat && !*dp->wechat)
        jv_error(&x->v, jv_path(p, sizeof(p), P, "wechat"), "must not be empty (use null)");

    if (string_array(x, o, P, "topics", &dp->topics, &dp->ntopics) == 0) {
        jv_path(p, sizeof(p), P, "topics");
        for (size_t i = 0; i < dp->ntopics; i++)
            if (!topic_known(x, dp->topics[i]))
                jv_error(&x->v, jv_index(q, sizeof(q), p, i), "unknown category label \"%s\"", dp->topics[i]);
    }

    /* Indices in the diag must match the file, so walk the JSON array
     * itself rather than a filtered copy. */
    json_t *duty = json_object_get(o, "duty");
    jv_path(p, sizeof(p), P, "duty");
    if (duty && !json_is_null(duty) && !json_is_array(duty)) {
        jv_error(&x->v, p, "expected an array such as [\"tue\", \"20\"]");
    } else if (duty) {
        size_t i;
        json_t *el;
        json_array_foreach(duty, i, el) {
            if (!json_is_string(el) || parse_duty(json_string_value(el), &dp->duty_weekdays, &dp->duty_mdays) < 0)
                jv_error(&x->v, jv_index(q, sizeof(q), p, i),
                         "bad duty entry (expected mon..sun, 周一..周日, daily or a day of month \"1\"..\"31\")");
        }
    }
}

static json_t *required_array(struct roster_ctx *x, json_t *root, const char *key)
{
    char p[JV_PATH_MAX];
    json_t *a = json_object_get(root, key);

    jv_path(p, sizeof(p), "$", key);
    if (!a) {
        jv_error(&x->v, p, "required field missing");
        return NULL;
    }
    if (!json_is_array(a)) {
        jv_error(&x->v, p, "expected an array");
        return NULL;
    }
    if (json_array_size(a) == 0) {
        jv_error(&x->v, p, "must not be empty");
        return NULL;
    }
    return a;
}

/* Cross-references: run once every entry is loaded. */
static void check_references(struct roster_ctx *x, struct roster *r)
{
    char p[JV_PATH_MAX];

    if (r->default_station && !roster_station(r, r->default_station))
        jv_error(&x->v, "$.default_station", "unknown station \"%s\"", r->default_station);

    for (size_t i = 0; i < r->nstations; i++) {
        const struct station *st = &r->stations[i];
        char P[JV_PATH_MAX];
        jv_index(P, sizeof(P), "$.stations", i);
        if (!st->id)
            continue;
        for (size_t j = 0; j < i; j++)
            if (r->stations[j].id && strcasecmp(r->stations[j].id, st->id) == 0)
                jv_error(&x->v, jv_path(p, sizeof(p), P, "id"), "duplicate station id \"%s\" (also $.stations[%zu])",
                         st->id, j);
        if (st->parent) {
            if (!roster_station(r, st->parent)) {
                jv_error(&x->v, jv_path(p, sizeof(p), P, "parent"), "unknown station \"%s\"", st->parent);
            } else {
                /* A parent chain longer than the station count loops. */
                const struct station *s = st;
                size_t steps = 0;
                while (s && s->parent && steps <= r->nstations) {
                    s = roster_station(r, s->parent);
                    steps++;
                }
                if (steps > r->nstations)
                    jv_error(&x->v, jv_path(p, sizeof(p), P, "parent"), "parent chain loops back to \"%s\"",
                             st->id);
            }
        }
        if (st->liaison && !roster_deputy(r, st->liaison))
            jv_error(&x->v, jv_path(p, sizeof(p), P, "liaison"), "unknown deputy \"%s\"", st->liaison);
    }

    for (size_t i = 0; i < r->ndeputies; i++) {
        const struct deputy *dp = &r->deputies[i];
        char P[JV_PATH_MAX];
        jv_index(P, sizeof(P), "$.deputies", i);
        if (dp->station && !roster_station(r, dp->station))
            jv_error(&x->v, jv_path(p, sizeof(p), P, "station"), "unknown station \"%s\"", dp->station);
        for (size_t j = 0; j < i; j++) {
            const struct deputy *o = &r->deputies[j];
            if (dp->id && o->id && strcasecmp(dp->id, o->id) == 0)
                jv_error(&x->v, jv_path(p, sizeof(p), P, "id"), "duplicate deputy id \"%s\" (also $.deputies[%zu])",
                         dp->id, j);
            if (dp->phone && o->phone && strcmp(dp->phone, o->phone) == 0) {
                char masked[32];
                address_mask(dp->phone, masked, sizeof(masked));
                jv_error(&x->v, jv_path(p, sizeof(p), P, "phone"),
                         "duplicate phone %s (also $.deputies[%zu], %s)", masked, j, o->id ? o->id : "?");
            }
            if (dp->wechat && o->wechat && strcmp(dp->wechat, o->wechat) == 0)
                jv_error(&x->v, jv_path(p, sizeof(p), P, "wechat"), "duplicate wechat id (also $.deputies[%zu])", j);
        }
    }
}

static int roster_load_impl(const char *path, const char *country_code, const struct config *cfg,
                            struct roster *out, struct diag *d)
{
    static const char *const fields[] = { "default_station", "committee", "stations", "deputies", NULL };
    struct roster_ctx x = { { path, d, 0 }, country_code, cfg };
    struct roster r;
    char P[JV_PATH_MAX];
    size_t i;
    json_t *el, *arr;

    memset(&r, 0, sizeof(r));
    memset(out, 0, sizeof(*out));
    json_t *root = jv_load_file(&x.v);
    if (!root)
        return -1;
    if (!(r.path = strdup(path)) || !(r.country_code = strdup(country_code)))
        goto oom;

    jv_check_fields(&x.v, root, "$", fields);
    jv_string(&x.v, root, "$", "default_station", NULL, true, &r.default_station);
    load_committee(&x, root, &r);

    if ((arr = required_array(&x, root, "stations"))) {
        if (!(r.stations = calloc(json_array_size(arr), sizeof(*r.stations))))
            goto oom;
        json_array_foreach(arr, i, el) {
            jv_index(P, sizeof(P), "$.stations", i);
            /* Keep one entry per element so indices match the file. */
            void *entry = &r.stations[r.nstations++];
            if (!json_is_object(el)) {
                jv_error(&x.v, P, "expected an object");
                continue;
            }
            load_station(&x, el, P, entry);
        }
    }
    if ((arr = required_array(&x, root, "deputies"))) {
        if (!(r.deputies = calloc(json_array_size(arr), sizeof(*r.deputies))))
            goto oom;
        json_array_foreach(arr, i, el) {
            jv_index(P, sizeof(P), "$.deputies", i);
            /* Keep one entry per element so indices match the file. */
            void *entry = &r.deputies[r.ndeputies++];
            if (!json_is_object(el)) {
                jv_error(&x.v, P, "expected an object");
                continue;
            }
            load_deputy(&x, el, P, entry);
        }
    }
    check_references(&x, &r);
    if (x.v.errors)
        goto fail;
    json_decref(root);
    *out = r;
    return 0;

oom:
    diag_add(d, "%s: out of memory", path);
fail:
    json_decref(root);
    roster_free(&r);
    return -1;
}

int roster_load(const char *path, const char *country_code, struct roster *out, struct diag *d)
{
    return roster_load_impl(path, country_code ? country_code : "86", NULL, out, d);
}

int roster_load_cfg(const char *path, const struct config *cfg, struct roster *out, struct diag *d)
{
    return roster_load_impl(path, cfg->country_code, cfg, out, d);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void roster_free(struct roster *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->country_code);
    free(r->default_station);
    free(r->committee.name);
    free(r->committee.phone);
    free(r->committee.wechat);
    for (size_t i = 0; i < r->nstations; i++) {
        struct station *s = &r->stations[i];
        free(s->id);
        free(s->name);
        free(s->parent);
        strv_free(s->areas, s->nareas);
        free(s->liaison);
        for (size_t j = 0; j < s->nreception; j++)
            free(s->reception[j].place);
        free(s->reception);
    }
    free(r->stations);
    for (size_t i = 0; i < r->ndeputies; i++) {
        struct deputy *dp = &r->deputies[i];
        free(dp->id);
        free(dp->name);
        free(dp->station);
        free(dp->phone);
        free(dp->wechat);
        strv_free(dp->topics, dp->ntopics);
    }
    free(r->deputies);
    memset(r, 0, sizeof(*r));
}

const struct deputy *roster_deputy(const struct roster *r, const char *id)
{
    for (size_t i = 0; id && i < r->ndeputies; i++)
        if (r->deputies[i].id && strcasecmp(r->deputies[i].id, id) == 0)
            return &r->deputies[i];
    return NULL;
}

const struct deputy *roster_deputy_by_phone(const struct roster *r, const char *phone)
{
    char e164[PHONE_MAX];

    if (!phone)
        return NULL;
    /* Callers normally pass E.164 already; normalising again costs little
     * and makes "13900000001" find the same deputy. */
    if (phone_normalize(phone, r->country_code ? r->country_code : "86", e164, sizeof(e164)) < 0)
        return NULL;
    for (size_t i = 0; i < r->ndeputies; i++)
        if (r->deputies[i].phone && strcmp(r->deputies[i].phone, e164) == 0)
            return &r->deputies[i];
    return NULL;
}

const struct deputy *roster_deputy_by_wechat(const struct roster *r, const char *openid)
{
    for (size_t i = 0; openid && i < r->ndeputies; i++)
        if (r->deputies[i].wechat && strcmp(r->deputies[i].wechat, openid) == 0)
            return &r->deputies[i];
    return NULL;
}

size_t roster_deputies_by_name(const struct roster *r, const char *name, size_t len,
                               const struct deputy **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; name && len && i < r->ndeputies; i++) {
        const char *dn = r->deputies[i].name;
        if (dn && strlen(dn) == len && memcmp(dn, name, len) == 0) {
            if (n < max)
                out[n] = &r->deputies[i];
            n++;
        }
    }
    return n;
}

const struct station *roster_station(const struct roster *r, const char *id)
{
    for (size_t i = 0; id && i < r->nstations; i++)
        if (r->stations[i].id && strcasecmp(r->stations[i].id, id) == 0)
            return &r->stations[i];
    return NULL;
}

bool deputy_on_duty(const struct deputy *d, int weekday, int mday)
{
    if (!d)
        return false;
    if (weekday >= 0 && weekday <= 6 && (d->duty_weekdays & (1u << weekday)))
        return true;
    return mday >= 1 && mday <= 31 && (d->duty_mdays & (1ul << mday));
}

bool deputy_has_topic(const struct deputy *d, const char *label)
{
    for (size_t i = 0; d && label && i < d->ntopics; i++)
        if (strcmp(d->topics[i], label) == 0)
            return true;
    return false;
}
