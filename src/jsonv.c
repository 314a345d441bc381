/* Validating accessors over jansson values that report problems with
 * their JSON path instead of stopping at the first one. */
#include "mashang/jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jv_error(struct jv *v, const char *path, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    v->errors++;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    diag_add(v->d, "%s: %s: %s", v->file, path, msg);
    free(msg);
}

const char *jv_path(char *buf, size_t sz, const char *parent, const char *key)
{
    snprintf(buf, sz, "%s.%s", parent, key);
    return buf;
}

const char *jv_index(char *buf, size_t sz, const char *parent, size_t i)
{
    snprintf(buf, sz, "%s[%zu]", parent, i);
    return buf;
}

void jv_check_fields(struct jv *v, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *val;
    char p[JV_PATH_MAX];

    json_object_foreach(obj, key, val) {
        (void)val;
        int known = strcmp(key, "_comment") == 0;
        for (size_t i = 0; !known && allowed[i]; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known)
            jv_error(v, jv_path(p, sizeof(p), path, key), "unknown field");
    }
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:    return "a number";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    case JSON_NULL:    return "null";
    }
    return "?";
}

json_t *jv_object(struct jv *v, json_t *obj, const char *path, const char *key)
{
    char p[JV_PATH_MAX];
    json_t *m = json_object_get(obj, key);

    if (!m || json_is_null(m))
        return NULL;
    if (!json_is_object(m)) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "expected an object, got %s", type_name(m));
        return NULL;
    }
    return m;
}

int jv_string(struct jv *v, json_t *obj, const char *path, const char *key,
              const char *def, bool required, char **out)
{
    char p[JV_PATH_MAX];
    json_t *m = json_object_get(obj, key);

    *out = NULL;
    if (!m || json_is_null(m)) {
        if (required) {
            jv_error(v, jv_path(p, sizeof(p), path, key), "required field missing");
            return -1;
        }
        if (def && !(*out = strdup(def)))
            return -1;
        return 0;
    }
    if (!json_is_string(m)) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "expected a string, got %s", type_name(m));
        return -1;
    }
    if (memchr(json_string_value(m), '\0', json_string_length(m))) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "must not contain NUL characters");
        return -1;
    }
    *out = strdup(json_string_value(m));
    return *out ? 0 : -1;
}

int jv_integer(struct jv *v, json_t *obj, const char *path, const char *key,
               long long def, long long min, long long max, long long *out)
{
    char p[JV_PATH_MAX];
    json_t *m = json_object_get(obj, key);

    *out = def;
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_integer(m)) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "expected an integer, got %s", type_name(m));
        return -1;
    }
    long long n = json_integer_value(m);
    if (n < min || n > max) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "%lld is out of range %lld..%lld", n, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int jv_bool(struct jv *v, json_t *obj, const char *path, const char *key, bool def, bool *out)
{
    char p[JV_PATH_MAX];
    json_t *m = json_object_get(obj, key);

    *out = def;
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_boolean(m)) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "expected true or false, got %s", type_name(m));
        return -1;
    }
    *out = json_is_true(m);
    return 0;
}

json_t *jv_load_file(struct jv *v)
{
    json_error_t err;
    json_t *root = json_load_file(v->file, JSON_REJECT_DUPLICATES, &err);

    if (!root) {
        v->errors++;
        if (err.line > 0)
            diag_add(v->d, "%s:%d: %s", v->file, err.line, err.text);
        else
            diag_add(v->d, "%s: %s", v->file, err.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        jv_error(v, "$", "expected an object, got %s", type_name(root));
        json_decref(root);
        return NULL;
    }
    return root;
}
