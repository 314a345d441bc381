/* Validating accessors over jansson values that report problems with
 * their JSON path instead of stopping at the first one. */
#include "base/jsonv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stdarg.h>

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

/* The member `key` of `obj` in *m.  Returns 0 when it has type `type`
 * (JSON_TRUE standing for both booleans), 1 when it is absent or null
 * (*m NULL), -1 when it has another type (reported: "expected
 * `expected`"). */
static int member(struct jv *v, json_t *obj, const char *path, const char *key, json_type type,
                  const char *expected, json_t **m)
{
    char p[JV_PATH_MAX];

    *m = json_object_get(obj, key);
    if (!*m || json_is_null(*m)) {
        *m = NULL;
        return 1;
    }
    json_type t = json_is_boolean(*m) ? JSON_TRUE : json_typeof(*m);
    if (t != type) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "expected %s, got %s", expected, type_name(*m));
        return -1;
    }
    return 0;
}

json_t *jv_object(struct jv *v, json_t *obj, const char *path, const char *key)
{
    json_t *m;
    return member(v, obj, path, key, JSON_OBJECT, "an object", &m) == 0 ? m : NULL;
}

int jv_string(struct jv *v, json_t *obj, const char *path, const char *key,
              const char *def, bool required, char **out)
{
    char p[JV_PATH_MAX];
    json_t *m;

    *out = NULL;
    int rc = member(v, obj, path, key, JSON_STRING, "a string", &m);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (required) {
            jv_error(v, jv_path(p, sizeof(p), path, key), "required field missing");
            return -1;
        }
        if (def && !(*out = strdup(def)))
            return -1;
        return 0;
    }
    if (memchr(json_string_value(m), '\0', json_string_length(m))) {
        jv_error(v, jv_path(p, sizeof(p), path, key), "must not contain NUL characters");
        return -1;
    }
    *out = strdup(json_string_value(m));
    return *out ? 0 : -1;
}

static char *read_secret_file(struct jv *v, const char *p, const char *base_dir, const char *name)
{
    char *path = NULL;
    if (name[0] == '/' ? asprintf(&path, "%s", name) < 0
                       : asprintf(&path, "%s/%s", base_dir ? base_dir : ".", name) < 0)
        return NULL;
    struct stat st;
    FILE *f = NULL;
    char *out = NULL;
    if (stat(path, &st) < 0) {
        jv_error(v, p, "secret file %s: %s", path, strerror(errno));
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        jv_error(v, p, "secret file %s is accessible by group or others (chmod 600)", path);
    } else if (!(f = fopen(path, "r"))) {
        jv_error(v, p, "secret file %s: %s", path, strerror(errno));
    } else {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        if (n && buf[n - 1] == '\n')
            buf[--n] = '\0';
        if (n && buf[n - 1] == '\r')
            buf[--n] = '\0';
        if (n == 0 || strlen(buf) != n)
            jv_error(v, p, "secret file %s is empty or not text", path);
        else
            out = strdup(buf);
        fclose(f);
    }
    free(path);
    return out;
}

int jv_secret(struct jv *v, json_t *obj, const char *path, const char *key,
              bool required, const char *base_dir, char **out)
{
    char p[JV_PATH_MAX];
    int rc = jv_string(v, obj, path, key, NULL, required, out);
    if (rc < 0 || !*out)
        return rc;
    char *raw = *out;
    if (strncmp(raw, "env:", 4) == 0) {
        const char *val = getenv(raw + 4);
        *out = NULL;
        if (!val || !*val)
            jv_error(v, jv_path(p, sizeof(p), path, key), "environment variable %s is not set", raw + 4);
        else
            *out = strdup(val);
    } else if (strncmp(raw, "file:", 5) == 0) {
        *out = read_secret_file(v, jv_path(p, sizeof(p), path, key), base_dir, raw + 5);
    } else {
        return 0;
    }
    free(raw);
    return *out ? 0 : -1;
}

int jv_integer(struct jv *v, json_t *obj, const char *path, const char *key,
               long long def, long long min, long long max, long long *out)
{
    char p[JV_PATH_MAX];
    json_t *m;

    *out = def;
    int rc = member(v, obj, path, key, JSON_INTEGER, "an integer", &m);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
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
    json_t *m;

    *out = def;
    int rc = member(v, obj, path, key, JSON_TRUE, "true or false", &m);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
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
