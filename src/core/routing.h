#ifndef MASHANG_ROUTING_H
#define MASHANG_ROUTING_H
/* Routing (contract §6): the roster-side half.  From the message and the
 * roster it builds an ordered plan of candidate deputies per rule; the
 * Redis step script walks the plan and, where a rule has several
 * candidates, picks the one with the fewest open cases — the only part
 * that needs live data.  The persistent WeChat binding is a plan step
 * the script resolves from the resident's record. */
#include <stddef.h>

#include "core/roster.h"

#define ROUTE_MAX_STEPS 6
#define ROUTE_MAX_DEPUTIES 32

struct route_step {
    const char *rule;          /* "bound", "binding", "area", "topic", "default" */
    const char *station;       /* station id for "area", else NULL */
    const char *deputies[ROUTE_MAX_DEPUTIES];   /* ids owned by the roster */
    size_t n;
    const char *on_duty[ROUTE_MAX_DEPUTIES];    /* subset on duty today */
    size_t nduty;
};

struct route_plan {
    struct route_step steps[ROUTE_MAX_STEPS];
    size_t n;
};

struct route_input {
    const char *text;          /* original text (searched for @D0412 / 代表D0412) */
    const char *place;         /* intent slot, or NULL */
    const char *category;      /* concern label, or NULL */
    const char *to;            /* number the SMS was sent to, or NULL */
    const char *service_number;/* SMS service number, or NULL */
    int weekday;               /* 0 = Sunday */
    int mday;                  /* 1..31 */
};

void route_plan_build(const struct roster *r, const struct route_input *in, struct route_plan *out);

/* The deputy named in `text` as "@D0412" or "代表D0412" (any case), or
 * NULL.  Writes the canonical id ("D0412") into `buf`. */
const char *route_deputy_in_text(const char *text, char *buf, size_t bufsz);

#endif
