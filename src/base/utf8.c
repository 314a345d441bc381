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

/* Well-formed sequences, Unicode table 3-7: lead bytes first..last take
 * `len` bytes, the second of which lies in lo..hi (the bounds that shut
 * out overlong forms, surrogates and values past U+10FFFF); any further
 * byte lies in 80..BF. */
static const struct lead {
    unsigned char first, last, len, lo, hi;
} leads[] = {
    { 0xC2, 0xDF, 2, 0x80, 0xBF }, { 0xE0, 0xE0, 3, 0xA0, 0xBF }, { 0xE1, 0xEC, 3, 0x80, 0xBF },
    { 0xED, 0xED, 3, 0x80, 0x9F }, { 0xEE, 0xEF, 3, 0x80, 0xBF }, { 0xF0, 0xF0, 4, 0x90, 0xBF },
    { 0xF1, 0xF3, 4, 0x80, 0xBF }, { 0xF4, 0xF4, 4, 0x80, 0x8F },
};

/* Decodes the sequence at s.  Returns the bytes it spans: the whole
 * sequence with *ok set, or its maximal subpart (>= 1) with *ok false. */
static size_t scan(const unsigned char *s, size_t len, uint32_t *cp, bool *ok)
{
    unsigned char c = s[0];

    *ok = c < 0x80;
    if (*ok) {
        *cp = c;
        return 1;
    }
    const struct lead *l = NULL;
    for (size_t k = 0; k < sizeof(leads) / sizeof(leads[0]) && !l; k++)
        if (c >= leads[k].first && c <= leads[k].last)
            l = &leads[k];
    if (!l)
        return 1;   /* continuation byte, C0/C1 (always overlong), F5..FF */
    uint32_t v = c & (0x7Fu >> l->len);
    size_t i = 1;
    for (; i < l->len && i < len; i++) {
        unsigned char lo = i == 1 ? l->lo : 0x80, hi = i == 1 ? l->hi : 0xBF;
        if (s[i] < lo || s[i] > hi)
            return i;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (i < l->len)
        return i;   /* cut short */
    *cp = v;
    *ok = true;
    return i;
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
