/* application/x-www-form-urlencoded decoding that keeps NUL bytes, and
 * the matching encoder for outbound requests (Kannel sendsms). */
#include "base/form.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) into a malloc'd buffer (NUL-terminated, `*outlen`
 * excludes the terminator).  Returns NULL on a malformed escape or OOM. */
static char *decode(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            int hi = i + 1 < len ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

int form_parse(const char *s, size_t len, struct form *f)
{
    size_t cap = 0;

    memset(f, 0, sizeof(*f));
    if (!s)
        return len ? -1 : 0;

    size_t i = 0;
    while (i < len) {
        const char *pair = s + i;
        const char *amp = memchr(pair, '&', len - i);
        size_t plen = amp ? (size_t)(amp - pair) : len - i;
        i += plen + 1;
        if (plen == 0)
            continue;   /* "a=1&&b=2" */

        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;

        if (f->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct form_field *nf = realloc(f->fields, ncap * sizeof(*nf));
            if (!nf)
                goto fail;
            f->fields = nf;
            cap = ncap;
        }
        struct form_field *fld = &f->fields[f->n];
        size_t dummy;
        fld->name = decode(pair, nlen, &dummy);
        if (!fld->name)
            goto fail;
        fld->value = decode(val, vlen, &fld->len);
        if (!fld->value) {
            free(fld->name);
            goto fail;
        }
        f->n++;
    }
    return 0;

fail:
    form_free(f);
    return -1;
}

const struct form_field *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return &f->fields[i];
    return NULL;
}

void form_free(struct form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    free(f->fields);
    memset(f, 0, sizeof(*f));
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

char *url_encode(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(len * 3 + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
