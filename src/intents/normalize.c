/* Text normalisation for intent matching (contract §10).
 *
 * One pass over the input decodes UTF-8 strictly and rewrites it into a
 * scratch buffer: full-width ASCII and the ideographic space become
 * half-width, ASCII is lower-cased, emoji and their joiners/modifiers are
 * dropped, any run of whitespace becomes one space, and a run of the same
 * punctuation mark becomes one mark.  Only if the text holds a
 * Traditional character does it then go through OpenCC's t2s converter
 * (see build_traditional_table). */
#include "intents/normalize.h"
#include "base/utf8.h"

#include <opencc/opencc.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Code points below this that OpenCC t2s would change are flagged in
 * `traditional`; anything above (CJK extension planes) always goes
 * through OpenCC. */
#define T2S_TABLE_END 0x10000

struct normalizer {
    opencc_t cc;      /* t2s converter, opened once */
    uint8_t traditional[T2S_TABLE_END / 8]; /* bit set: t2s changes this character */
    char *buf;        /* pass-one output; owned, grown on demand */
    size_t bufcap;
    char *out;        /* final result handed to the caller; owned */
    size_t outcap;
};

static int build_traditional_table(struct normalizer *n);

struct normalizer *normalizer_new(void)
{
    struct normalizer *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->cc = opencc_open("t2s.json");
    if (n->cc == (opencc_t)-1) {
        fprintf(stderr, "normalize: cannot open OpenCC t2s.json: %s\n", opencc_error());
        free(n);
        return NULL;
    }
    if (build_traditional_table(n) < 0) {
        /* out of memory: converting every CJK text is slower, not wrong */
        memset(n->traditional, 0xFF, sizeof(n->traditional));
    }
    return n;
}

/* Ranges holding every Traditional character t2s converts character by
 * character (CJK, extension A, compatibility ideographs, a few symbols). */
static const uint32_t t2s_ranges[][2] = {
    { 0x2E80, 0x2FDF }, { 0x3000, 0x33FF }, { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF },
    { 0xF900, 0xFAFF }, { 0xFE30, 0xFE4F },
};

/* Converting is the expensive half of normalisation (~10 us a message),
 * and most messages are already Simplified.  So, once per normalizer,
 * run every candidate character through OpenCC on its own line and
 * remember which ones change; a message is converted only if it holds
 * one of them.  (Phrase-only conversions of text made purely of
 * unchanged characters are lost, which never affects matching.) */
static int build_traditional_table(struct normalizer *n)
{
    size_t count = 0;
    for (size_t r = 0; r < sizeof(t2s_ranges) / sizeof(*t2s_ranges); r++)
        count += t2s_ranges[r][1] - t2s_ranges[r][0] + 1;
    char *in = malloc(count * 4 + 1), *p = in;
    if (!in)
        return -1;
    for (size_t r = 0; r < sizeof(t2s_ranges) / sizeof(*t2s_ranges); r++) {
        for (uint32_t cp = t2s_ranges[r][0]; cp <= t2s_ranges[r][1]; cp++) {
            p += utf8_encode(cp, p);
            *p++ = '\n';
        }
    }
    char *out = opencc_convert_utf8(n->cc, in, (size_t)(p - in));
    if (!out) {
        free(in);
        return -1;
    }
    const char *a = in, *b = out;
    for (size_t r = 0; r < sizeof(t2s_ranges) / sizeof(*t2s_ranges); r++) {
        for (uint32_t cp = t2s_ranges[r][0]; cp <= t2s_ranges[r][1]; cp++) {
            const char *ae = strchr(a, '\n'), *be = strchr(b, '\n');
            if (!ae || !be) { /* OpenCC changed the line structure: convert everything */
                memset(n->traditional, 0xFF, sizeof(n->traditional));
                goto done;
            }
            if (ae - a != be - b || memcmp(a, b, (size_t)(ae - a)) != 0)
                n->traditional[cp >> 3] |= (uint8_t)(1u << (cp & 7));
            a = ae + 1;
            b = be + 1;
        }
    }
done:
    opencc_convert_utf8_free(out);
    free(in);
    return 0;
}

static bool needs_t2s(const struct normalizer *n, uint32_t cp)
{
    if (cp >= T2S_TABLE_END)
        return cp >= 0x20000; /* extension planes: let OpenCC decide */
    return n->traditional[cp >> 3] & (1u << (cp & 7));
}

void normalizer_free(struct normalizer *n)
{
    if (!n)
        return;
    opencc_close(n->cc);
    free(n->buf);
    free(n->out);
    free(n);
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *q = realloc(*p, c);
    if (!q)
        return -1;
    /* PCRE2's JIT scans in aligned blocks and may read (then ignore)
     * bytes past the text; keep them initialised for valgrind's sake. */
    memset(q + *cap, 0, c - *cap);
    *p = q;
    *cap = c;
    return 0;
}

/* Pictographs, dingbats, emoji modifiers, joiners and variation
 * selectors: they carry mood, not content, and would break patterns
 * that expect adjacent words. */
static bool is_emoji(uint32_t cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) ||
           (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2B00 && cp <= 0x2BFF) ||
           (cp >= 0x231A && cp <= 0x231B) ||
           (cp >= 0x23E9 && cp <= 0x23FA) ||
           (cp >= 0xFE00 && cp <= 0xFE0F) ||
           (cp >= 0xE0020 && cp <= 0xE007F) ||
           cp == 0x200D || cp == 0x20E3;
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000 || cp == 0xFEFF;
}

static bool is_punct(uint32_t cp)
{
    return (cp < 0x80 && cp > 0x20 && !((cp >= '0' && cp <= '9') ||
                                        (cp >= 'a' && cp <= 'z') ||
                                        (cp >= 'A' && cp <= 'Z'))) ||
           (cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x3001 && cp <= 0x303F);
}

/* Pass one: rewrites `len` bytes of `text` into `out` (room for len + 1
 * bytes: every rewrite keeps or shrinks the byte length, full-width forms
 * being 3 bytes and their replacements 1).  With `src`, src[k] is the
 * offset in `text` of the character that became output byte k.  With
 * `n` (else `traditional` is unused), *traditional tells whether t2s has
 * work to do.  Returns false if `text` is not valid UTF-8 or holds a NUL,
 * else true with the length in *outlen. */
static bool fold(const struct normalizer *n, const char *text, size_t len, char *out, size_t *src,
                 bool *traditional, size_t *outlen)
{
    size_t i = 0, o = 0;
    uint32_t prev = ' '; /* as if preceded by a space: leading spaces go */
    while (i < len) {
        uint32_t cp;
        size_t at = i, k = utf8_decode(text + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
        if (cp == 0)
            return false; /* NUL would silently truncate the text */
        if (is_emoji(cp))
            continue;
        cp = utf8_halfwidth(cp);
        if (is_space(cp)) {
            if (prev == ' ')
                continue;
            cp = ' ';
        } else if (cp >= 'A' && cp <= 'Z') {
            cp += 'a' - 'A';
        } else if (cp == prev && is_punct(cp)) {
            continue;
        }
        if (n && needs_t2s(n, cp))
            *traditional = true;
        size_t w = utf8_encode(cp, out + o);
        for (size_t b = 0; src && b < w; b++)
            src[o + b] = at;
        o += w;
        prev = cp;
    }
    if (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    *outlen = o;
    return true;
}

const char *normalize_text(struct normalizer *n, const char *text, size_t len, size_t *outlen)
{
    if (grow(&n->buf, &n->bufcap, len + 1) < 0)
        return NULL;
    bool traditional = false;
    size_t o;
    if (!fold(n, text, len, n->buf, NULL, &traditional, &o))
        return NULL;

    if (!traditional) {
        *outlen = o;
        return n->buf;
    }
    /* OpenCC allocates its result; copy it into our own buffer so the
     * caller's lifetime rule ("until the next call") stays simple. */
    char *conv = opencc_convert_utf8(n->cc, n->buf, o);
    if (!conv)
        return NULL;
    size_t cl = strlen(conv);
    if (grow(&n->out, &n->outcap, cl + 1) < 0) {
        opencc_convert_utf8_free(conv);
        return NULL;
    }
    memcpy(n->out, conv, cl + 1);
    opencc_convert_utf8_free(conv);
    *outlen = cl;
    return n->out;
}

size_t *normalize_offsets(const char *text, size_t len, const char *norm, size_t nlen)
{
    /* Pass one needs no OpenCC, so the map is rebuilt from the input
     * alone and any caller holding a text and its normalisation can ask
     * for it: matching itself never pays for a map. */
    char *folded = malloc(len + 1);
    size_t *src = malloc((len + 1) * sizeof(*src));
    size_t *map = malloc((nlen + 1) * sizeof(*map));
    size_t flen = 0;
    bool ok = folded && src && map && fold(NULL, text, len, folded, src, NULL, &flen);
    /* t2s converts character by character except for a few phrases; when
     * it kept the number of characters, the k-th output character came
     * from the k-th folded one.  Otherwise there is no honest map. */
    if (ok && (flen != nlen || memcmp(folded, norm, nlen) != 0))
        ok = utf8_length(folded, flen) == utf8_length(norm, nlen);
    for (size_t f = 0, o = 0; ok && o < nlen;) {
        size_t fw = utf8_seq_len((unsigned char)folded[f]);
        size_t ow = utf8_seq_len((unsigned char)norm[o]);
        for (size_t b = 0; b < ow && o + b < nlen; b++)
            map[o + b] = src[f];
        f += fw;
        o += ow;
    }
    free(folded);
    free(src);
    if (!ok) {
        free(map);
        return NULL;
    }
    map[nlen] = len;
    return map;
}

/* Length of the whitespace character ending at text[end], or 0. */
static size_t space_before(const char *text, size_t end)
{
    size_t b = utf8_prev(text, end);
    uint32_t cp;
    size_t k = utf8_decode(text + b, end - b, &cp);
    return k == end - b && is_space(cp) ? k : 0;
}

int normalize_span_source(const size_t *map, size_t nlen, const char *text, size_t start,
                          size_t end, size_t *ostart, size_t *oend)
{
    if (start > end || end > nlen)
        return -1;
    /* The span ends where the next kept character begins: marks folded
     * into its last character and emoji after it belong to it; blanks
     * do not. */
    size_t s = map[start], e = end > start ? map[end] : s;
    for (;;) {
        uint32_t cp;
        size_t k = s < e ? utf8_decode(text + s, e - s, &cp) : 0;
        if (k == 0 || !is_space(cp))
            break;
        s += k;
    }
    for (size_t k; e > s && (k = space_before(text, e)) > 0;)
        e -= k;
    *ostart = s;
    *oend = e;
    return 0;
}
