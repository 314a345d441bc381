#ifndef MASHANG_JSONV_H
#define MASHANG_JSONV_H
/* Field-by-field validation of jansson documents for config and roster:
 * every problem goes to a diag as "file: $.json.path: message" and
 * loading carries on, so one run reports all of them.  Paths are built by
 * the caller with jv_path()/jv_index() into small stack buffers. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

#define JV_PATH_MAX 256

struct jv {
    const char *file;      /* named in every message; not owned */
    struct diag *d;        /* not owned */
    int errors;            /* problems reported so far */
};

void jv_error(struct jv *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "$.a" + "b" -> "$.a.b"; "$.a" + 3 -> "$.a[3]".  Return `buf`. */
const char *jv_path(char *buf, size_t sz, const char *parent, const char *key);
const char *jv_index(char *buf, size_t sz, const char *parent, size_t i);

/* Reports every member of `obj` whose name is not in the NULL-terminated
 * `allowed` list ("_comment" is always allowed, for annotations). */
void jv_check_fields(struct jv *v, json_t *obj, const char *path, const char *const *allowed);

/* Returns member `key` of `obj` if it is an object, NULL when absent,
 * null or (after reporting it) of another type. */
json_t *jv_object(struct jv *v, json_t *obj, const char *path, const char *key);

/* Copies string member `key` into a malloc'd *out (caller frees).  Absent
 * or null -> strdup(def), or NULL when `def` is NULL; with `required`,
 * absence is reported.  A non-string is reported and *out set to NULL.
 * Returns 0 when the member was usable, -1 after a report or on OOM. */
int jv_string(struct jv *v, json_t *obj, const char *path, const char *key,
              const char *def, bool required, char **out);

/* Like jv_string, for secrets: a value "env:NAME" is read from the
 * environment and "file:PATH" from a file (PATH relative to `base_dir`;
 * the file must not be readable by group or others; one trailing newline
 * is dropped), so secrets need not sit in the config file.  Problems are
 * reported without ever showing the secret. */
int jv_secret(struct jv *v, json_t *obj, const char *path, const char *key,
              bool required, const char *base_dir, char **out);

/* Integer member within [min, max]; absent -> def. */
int jv_integer(struct jv *v, json_t *obj, const char *path, const char *key,
               long long def, long long min, long long max, long long *out);

int jv_bool(struct jv *v, json_t *obj, const char *path, const char *key, bool def, bool *out);

/* Parses `file` (duplicate keys rejected) and checks that the root is an
 * object; returns a new reference or NULL after a report. */
json_t *jv_load_file(struct jv *v);

#endif
