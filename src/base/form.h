#ifndef MASHANG_FORM_H
#define MASHANG_FORM_H
/* Binary-safe decoding of application/x-www-form-urlencoded data and URL
 * query strings.  Unlike evhttp_parse_query, values may hold NUL bytes
 * (Kannel delivers UTF-16BE text percent-encoded). */
#include <stddef.h>

struct form_field {
    char *name;      /* NUL-terminated */
    char *value;     /* NUL-terminated, but may contain NULs: use len */
    size_t len;
};

struct form {
    struct form_field *fields;
    size_t n;
};

/* Decodes "a=1&b=%E4%B8%8A+x"; '+' is a space.  Returns 0, or -1 on a
 * malformed escape (e.g. "%G1" or a trailing "%"), leaving `f` empty. */
int form_parse(const char *s, size_t len, struct form *f);
/* First field called `name`, or NULL. */
const struct form_field *form_get(const struct form *f, const char *name);
void form_free(struct form *f);

/* Percent-encodes `s` (unreserved characters kept) into a malloc'd
 * NUL-terminated string, or NULL on OOM. */
char *url_encode(const char *s, size_t len);

#endif
