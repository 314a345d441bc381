#ifndef MASHANG_ROSTER_H
#define MASHANG_ROSTER_H
/* config/deputies.json: stations, deputies and the supervising committee.
 * Loaded and validated as a whole (unknown station, duplicate phone, bad
 * id -> error with JSON path), then immutable; reload builds a new one. */
#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

enum station_level { LEVEL_VILLAGE, LEVEL_TOWN, LEVEL_COUNTY, LEVEL_CITY };

/* One recurring reception (接待日) of a station: a weekday or a day of
 * the month, a time ("09:00", or a range "09:00-11:30") and a place. */
struct reception {
    int weekday;           /* 0 = Sunday ... 6, or -1 */
    int mday;              /* 1..31, or 0 */
    char from[6];          /* "HH:MM" */
    char to[6];            /* "HH:MM" or "" */
    char *place;
};

struct station {
    char *id;              /* "S01" */
    char *name;
    enum station_level level;
    char *parent;          /* station id or NULL */
    char **areas;          /* area keywords found in texts or place slots */
    size_t nareas;
    char *liaison;         /* deputy id or NULL */
    struct reception *reception;  /* owned; roster "reception", may be empty */
    size_t nreception;
};

struct deputy {
    char *id;              /* "D0412": 'D' followed by 1-8 digits */
    char *name;
    enum station_level level;
    char *station;         /* station id */
    char *phone;           /* E.164, or NULL */
    char *wechat;          /* openid / WeCom user id, or NULL */
    char **topics;         /* category labels */
    size_t ntopics;
    unsigned duty_weekdays;   /* bit 0 = Sunday ... bit 6 = Saturday */
    unsigned long duty_mdays; /* bit N = day N of the month (1..31) */
};

struct committee {
    char *name;
    char *phone;           /* E.164 or NULL */
    char *wechat;
};

struct roster {
    char *path;
    char *default_station;
    struct committee committee;
    struct station *stations;
    size_t nstations;
    struct deputy *deputies;
    size_t ndeputies;
    char *country_code;    /* used to normalise phones given to lookups */
};

/* Phone numbers are normalised with `country_code` ("86"). Returns 0, or
 * -1 with every problem in `d` and `out` zeroed. */
int roster_load(const char *path, const char *country_code, struct roster *out, struct diag *d);
/* Same, with the country code and the category labels (built-in and
 * added under "categories") of a loaded config: topics may name any of
 * them.  roster_load() only knows the built-in labels. */
struct config;
int roster_load_cfg(const char *path, const struct config *cfg, struct roster *out, struct diag *d);
void roster_free(struct roster *r);

/* Lookups return NULL when absent.  Deputy ids match case-insensitively. */
const struct deputy *roster_deputy(const struct roster *r, const char *id);
/* `e164` may also be any form phone_normalize() accepts. */
const struct deputy *roster_deputy_by_phone(const struct roster *r, const char *e164);
const struct deputy *roster_deputy_by_wechat(const struct roster *r, const char *openid);
/* Deputies named exactly `len` bytes of `name` (names are not unique):
 * stores up to `max` in `out` and returns how many there are. */
size_t roster_deputies_by_name(const struct roster *r, const char *name, size_t len,
                               const struct deputy **out, size_t max);
const struct station *roster_station(const struct roster *r, const char *id);
bool deputy_on_duty(const struct deputy *d, int weekday, int mday);
bool deputy_has_topic(const struct deputy *d, const char *label);

#endif
