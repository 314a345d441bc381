#ifndef MASHANG_UTF8_H
#define MASHANG_UTF8_H
/* UTF-8: the one place that knows how a code point is written in bytes.
 * Well-formed means RFC 3629 (Unicode table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF.  Two decoders, because callers
 * differ on purpose: input from outside must be refused when it is not
 * UTF-8 (utf8_decode, utf8_valid), while text already checked, or only
 * shown, must never stall a walk (utf8_decode_lossy).  Pure functions,
 * no allocation except utf16be_to_utf8. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes one code point takes. */
#define UTF8_MAX 4

/* True for a continuation byte (10xxxxxx): never the start of a character. */
static inline bool utf8_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Bytes of the sequence lead byte `c` announces: 2 for C2..DF, 3 for
 * E0..EF, 4 for F0..F4, else 1 (ASCII, and bytes that cannot start a
 * sequence, so that a walk always advances).  Looks at no other byte. */
size_t utf8_seq_len(unsigned char c);

/* Strict: decodes the well-formed sequence at the start of `len` bytes
 * of `s` into *cp and returns its length (1..4), or returns 0 (and leaves
 * *cp alone) when the bytes are ill-formed or cut short.  `len` > 0. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Lossy: like utf8_decode, but an ill-formed sequence yields U+FFFD and
 * the length of its maximal subpart (the lead and the continuation bytes
 * that were still possible, at least 1), as Unicode recommends: a cut
 * sequence counts as one character, a stray byte as one.  `len` > 0. */
size_t utf8_decode_lossy(const char *s, size_t len, uint32_t *cp);

/* Whether `len` bytes of `s` are well-formed UTF-8 (NUL included).  A
 * NULL `s` is valid only with `len` 0. */
bool utf8_valid(const char *s, size_t len);

/* Writes `cp` (at most U+10FFFF) as 1 to 4 bytes to `out`; returns the
 * length.  No NUL is written. */
size_t utf8_encode(uint32_t cp, char *out);

/* The ASCII twin of a full-width form (U+FF01..U+FF5E: "Ｍ１" -> "M1"),
 * else `cp` itself. */
uint32_t utf8_halfwidth(uint32_t cp);

/* Number of code points in `len` bytes of valid UTF-8 (bytes that are
 * not continuation bytes). */
size_t utf8_length(const char *s, size_t len);

/* Bytes of the longest prefix of `len` bytes of `s` that is at most `max`
 * bytes and does not end inside a character: `len` when it fits, else
 * `max` backed off to the start of the character that does not fit. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Offset of the first byte of the character that ends just before
 * offset `end` (> 0) of `s`: backs off continuation bytes, never below 0. */
size_t utf8_prev(const char *s, size_t end);

/* Bytes of the longest prefix of the NUL-terminated `s` that fits in
 * `units` UTF-16 code units (a 4-byte sequence takes two: a surrogate
 * pair, as UCS-2 SMS parts count it). */
size_t utf8_prefix_utf16(const char *s, size_t units);

/* Converts UTF-16BE (with surrogate pairs) to a malloc'd NUL-terminated
 * UTF-8 string (the caller frees it) and its length in *outlen (may be
 * NULL).  Returns NULL on odd length, lone surrogates or OOM. */
char *utf16be_to_utf8(const unsigned char *s, size_t len, size_t *outlen);

#endif
