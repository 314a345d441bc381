/* Builds the routing plan: which deputies each rule of contract §6 offers. */
#include "core/routing.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct route_step *plan_add(struct route_plan *p, const char *rule)
{
    if (p->n == ROUTE_MAX_STEPS)
        return NULL;
    struct route_step *s = &p->steps[p->n++];
    memset(s, 0, sizeof(*s));
    s->rule = rule;
    return s;
}

static void step_add(struct route_step *s, const struct deputy *d, const struct route_input *in)
{
    if (s->n < ROUTE_MAX_DEPUTIES)
        s->deputies[s->n++] = d->id;
    if (s->nduty < ROUTE_MAX_DEPUTIES && deputy_on_duty(d, in->weekday, in->mday))
        s->on_duty[s->nduty++] = d->id;
}

/* Reads "D"/"d" + digits at `p` into `buf` as "D<digits>"; 0 if none. */
static int read_deputy_id(const char *p, char *buf, size_t bufsz)
{
    if (*p != 'D' && *p != 'd')
        return 0;
    size_t n = 0;
    while (isdigit((unsigned char)p[1 + n]))
        n++;
    if (n == 0 || n > 8 || n + 2 > bufsz)
        return 0;
    buf[0] = 'D';
    memcpy(buf + 1, p + 1, n);
    buf[n + 1] = '\0';
    return 1;
}

const char *route_deputy_in_text(const char *text, char *buf, size_t bufsz)
{
    static const char *const markers[] = { "@", "＠", "代表" };
    if (!text)
        return NULL;
    for (const char *p = text; *p; p++) {
        for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
            size_t ml = strlen(markers[i]);
            if (strncmp(p, markers[i], ml) == 0) {
                const char *q = p + ml;
                while (*q == ' ')
                    q++;
                if (read_deputy_id(q, buf, bufsz))
                    return buf;
            }
        }
    }
    return NULL;
}

/* Deputy addressed by the SMS extension: `to` = service number + digits. */
static const struct deputy *deputy_by_extension(const struct roster *r, const struct route_input *in)
{
    if (!in->to || !in->service_number)
        return NULL;
    size_t sl = strlen(in->service_number);
    if (sl == 0 || strncmp(in->to, in->service_number, sl) != 0)
        return NULL;
    const char *ext = in->to + sl;
    char id[16];
    if (strlen(ext) == 0 || strlen(ext) > 8 || strspn(ext, "0123456789") != strlen(ext))
        return NULL;
    snprintf(id, sizeof(id), "D%s", ext);
    return roster_deputy(r, id);
}

/* The station whose longest area keyword occurs in `hay`. */
static const struct station *station_for(const struct roster *r, const char *hay)
{
    const struct station *best = NULL;
    size_t best_len = 0;
    if (!hay || !*hay)
        return NULL;
    for (size_t i = 0; i < r->nstations; i++) {
        const struct station *st = &r->stations[i];
        for (size_t j = 0; j < st->nareas; j++) {
            size_t len = strlen(st->areas[j]);
            if (len > best_len && strstr(hay, st->areas[j])) {
                best = st;
                best_len = len;
            }
        }
    }
    return best;
}

void route_plan_build(const struct roster *r, const struct route_input *in, struct route_plan *out)
{
    char idbuf[16];
    struct route_step *s;

    memset(out, 0, sizeof(*out));

    /* Rule 1: explicitly addressed deputy, then the persistent binding. */
    const struct deputy *bound = NULL;
    const char *named = route_deputy_in_text(in->text, idbuf, sizeof(idbuf));
    if (named)
        bound = roster_deputy(r, named);
    if (!bound)
        bound = deputy_by_extension(r, in);
    if (bound && (s = plan_add(out, "bound")))
        step_add(s, bound, in);
    plan_add(out, "binding");

    /* Rule 2: the place, else an area keyword anywhere in the text. */
    const struct station *st = station_for(r, in->place);
    if (!st)
        st = station_for(r, in->text);
    if (st && (s = plan_add(out, "area"))) {
        s->station = st->id;
        for (size_t i = 0; i < r->ndeputies; i++)
            if (strcmp(r->deputies[i].station, st->id) == 0)
                step_add(s, &r->deputies[i], in);
        if (s->n == 0 && st->liaison) {
            const struct deputy *l = roster_deputy(r, st->liaison);
            if (l)
                step_add(s, l, in);
        }
    }

    /* Rule 3: the category's topic group (专业小组). */
    if (in->category && (s = plan_add(out, "topic"))) {
        for (size_t i = 0; i < r->ndeputies; i++)
            if (deputy_has_topic(&r->deputies[i], in->category))
                step_add(s, &r->deputies[i], in);
        s->nduty = 0;   /* topic groups balance by load only */
    }

    /* Rule 4: the default station's liaison. */
    const struct station *def = roster_station(r, r->default_station);
    if (def && def->liaison && (s = plan_add(out, "default"))) {
        const struct deputy *l = roster_deputy(r, def->liaison);
        if (l) {
            s->station = def->id;
            step_add(s, l, in);
            s->nduty = 0;
        }
    }
}
