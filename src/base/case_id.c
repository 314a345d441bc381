/* Parsing case ids as people write them (case_id.h). */
#include "base/case_id.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"

/* The character at s[*i] (of `len` bytes) folded to ASCII (full-width
 * forms to their ASCII twins) and its byte length in *n; 0 when it is not
 * ASCII after folding or not valid UTF-8. */
static char ascii_at(const char *s, size_t len, size_t i, size_t *n)
{
    uint32_t cp;
    *n = i < len ? utf8_decode(s + i, len - i, &cp) : 0;
    if (*n == 0)
        return 0;
    cp = utf8_halfwidth(cp);
    return cp > 0 && cp < 0x80 ? (char)cp : 0;
}

static bool is_blank(const char *s, size_t len, size_t i, size_t *n)
{
    uint32_t cp;
    *n = i < len ? utf8_decode(s + i, len - i, &cp) : 0;
    return *n && (cp == ' ' || cp == '\t' || cp == 0x3000);
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

const char *case_id_parse(const char *s, const char *prefix, char *buf, size_t bufsz)
{
    if (!s || !prefix)
        return NULL;
    size_t len = strlen(s), i = 0, n;
    char letters[8], digits[CASE_ID_MAX_DIGITS + 1];
    size_t nl = 0, nd = 0;
    char c;

    while (is_blank(s, len, i, &n))
        i += n;
    while (is_letter(c = ascii_at(s, len, i, &n))) {
        if (nl == sizeof(letters) - 1)
            return NULL;
        letters[nl++] = c;
        i += n;
    }
    letters[nl] = '\0';
    while ((c = ascii_at(s, len, i, &n)) >= '0' && c <= '9') {
        if (nd == CASE_ID_MAX_DIGITS)
            return NULL;
        digits[nd++] = c;
        i += n;
    }
    digits[nd] = '\0';
    while (is_blank(s, len, i, &n))
        i += n;
    if (i != len || nd == 0 || (nl && strcasecmp(letters, prefix) != 0))
        return NULL;
    size_t pl = strlen(prefix);
    if (pl + nd + 1 > bufsz)
        return NULL;
    memcpy(buf, prefix, pl);
    memcpy(buf + pl, digits, nd + 1);
    return buf;
}

char *case_id_swap_prefix(const char *text, size_t len, const char *from, const char *to,
                          char *digits, size_t *outlen)
{
    size_t fl = from ? strlen(from) : 0, tl = to ? strlen(to) : 0, n;
    if (!text || fl == 0 || tl == 0)
        return NULL;
    /* Character by character, letters and digits folded from full-width
     * as case_id_parse reads them ("Ｒ１００３" too). */
    char prev = 0;
    for (size_t i = 0; i < len; i += n ? n : 1) {
        char c = ascii_at(text, len, i, &n);
        bool boundary = !(is_letter(prev) || (prev >= '0' && prev <= '9'));
        prev = c;
        if (!boundary)
            continue;
        size_t j = i, k = 0, m;
        while (k < fl && is_letter(c = ascii_at(text, len, j, &m)) &&
               (c | 0x20) == (from[k] | 0x20))
            j += m, k++;
        if (k < fl)
            continue;
        size_t start = j, nd = 0;
        while (nd <= CASE_ID_MAX_DIGITS && (c = ascii_at(text, len, j, &m)) >= '0' && c <= '9') {
            if (nd < CASE_ID_MAX_DIGITS)
                digits[nd] = c;
            nd++;
            j += m;
        }
        if (nd < 3 || nd > CASE_ID_MAX_DIGITS)
            continue;
        digits[nd] = '\0';
        char *out = malloc(len - (start - i) + tl + 1);
        if (!out)
            return NULL;
        memcpy(out, text, i);
        memcpy(out + i, to, tl);
        memcpy(out + i + tl, text + start, len - start);
        *outlen = len - (start - i) + tl;
        out[*outlen] = '\0';
        return out;
    }
    return NULL;
}
