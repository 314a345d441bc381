/* UTF-8 decoding, encoding, validation, counting and cutting (utf8.h). */
#include "base/utf8.h"

#include <stdlib.h>

size_t utf8_seq_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0)
        return c <= 0xEF ? 3 : 1;
    if (c >= 0xC2)
        return 2;
    return 1;
}

/* Decodes the sequence at s.  Returns the bytes it spans: the whole
 * sequence with *ok set, or its maximal subpart (>= 1) with *ok false.
 * The bounds of the second byte exclude overlong forms (E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and values past U+10FFFF (F4 90..). */
static size_t scan(const unsigned char *s, size_t len, uint32_t *cp, bool *ok)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    uint32_t v;

    *ok = false;
    if (c < 0x80) {
        *cp = c;
        *ok = true;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 1;   /* continuation byte, C0/C1 (always overlong), F5..FF */
    }
    size_t i = 1;
    for (; i < n && i < len; i++) {
        if (s[i] < lo || s[i] > hi)
            return i;
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (i < n)
        return i;   /* cut short */
    *cp = v;
    *ok = true;
    return n;
}

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    uint32_t v;
    bool ok;
    size_t n = scan((const unsigned char *)s, len, &v, &ok);
    if (!ok)
        return 0;
    *cp = v;
    return n;
}

size_t utf8_decode_lossy(const char *s, size_t len, uint32_t *cp)
{
    bool ok;
    size_t n = scan((const unsigned char *)s, len, cp, &ok);
    if (!ok)
        *cp = 0xFFFD;
    return n;
}

bool utf8_valid(const char *s, size_t len)
{
    if (!s)
        return len == 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

uint32_t utf8_halfwidth(uint32_t cp)
{
    return cp >= 0xFF01 && cp <= 0xFF5E ? cp - 0xFEE0 : cp;
}

size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += !utf8_is_cont((unsigned char)s[i]);
    return n;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && utf8_is_cont((unsigned char)s[n]))
        n--;
    return n;
}

size_t utf8_prev(const char *s, size_t end)
{
    size_t b = end - 1;
    while (b > 0 && utf8_is_cont((unsigned char)s[b]))
        b--;
    return b;
}

size_t utf8_prefix_utf16(const char *s, size_t units)
{
    size_t i = 0;
    while (s[i]) {
        size_t need = (unsigned char)s[i] >= 0xF0 ? 2 : 1;
        if (need > units)
            break;
        i++;
        while (utf8_is_cont((unsigned char)s[i]))
            i++;
        units -= need;
    }
    return i;
}

char *utf16be_to_utf8(const unsigned char *s, size_t len, size_t *outlen)
{
    if (len % 2 != 0 || (!s && len))
        return NULL;
    /* Each 16-bit unit yields at most 3 bytes (a pair of units yields 4). */
    char *out = malloc(len / 2 * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint32_t u = ((uint32_t)s[i] << 8) | s[i + 1];
        if (u >= 0xDC00 && u <= 0xDFFF)
            goto bad;   /* low surrogate without a high one */
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 3 >= len)
                goto bad;
            uint32_t lo = ((uint32_t)s[i + 2] << 8) | s[i + 3];
            if (lo < 0xDC00 || lo > 0xDFFF)
                goto bad;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        o += utf8_encode(u, out + o);
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
bad:
    free(out);
    return NULL;
}
