/* Parsing case ids as people write them (case_id.h). */
#include "base/case_id.h"

#include <stdbool.h>
#include <stdint.h>
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
