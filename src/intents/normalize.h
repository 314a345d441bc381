#ifndef MASHANG_NORMALIZE_H
#define MASHANG_NORMALIZE_H
/* Text normalisation before intent matching (contract §10): full-width ->
 * half-width, Traditional -> Simplified (OpenCC t2s), whitespace and
 * repeated punctuation folded, ASCII lower-cased, emoji dropped.  The
 * case keeps the original text; only matching sees the normalised one.
 *
 * A normalizer holds an OpenCC handle and a scratch buffer: create one
 * per thread and reuse it for every message. */
#include <stddef.h>

struct normalizer;

/* Returns NULL (with a message on stderr) if OpenCC's t2s data is missing. */
struct normalizer *normalizer_new(void);
void normalizer_free(struct normalizer *n);

/* Normalises `len` bytes of `text`.  Returns a NUL-terminated string
 * owned by `n` and valid until the next call, and its length in
 * `*outlen`; NULL if `text` is not valid UTF-8. */
const char *normalize_text(struct normalizer *n, const char *text, size_t len, size_t *outlen);

/* Where a normalised text came from, so that what people wrote can be
 * passed on as they wrote it while only matching sees the normalised
 * form.  `norm` (`nlen` bytes) must be what normalize_text() made of
 * `text`.  Returns a malloc'd array of nlen + 1 offsets into `text`:
 * map[k] is where the character that became byte k of `norm` starts,
 * map[nlen] is `len`.  NULL when there is no such map — OpenCC changed
 * the number of characters (the caller then uses the normalised text) —
 * or when memory is short. */
size_t *normalize_offsets(const char *text, size_t len, const char *norm, size_t nlen);

/* The bytes [*ostart, *oend) of `text` behind the span [start, end) of its
 * normalisation: the characters that became the span, with the repeated
 * marks folded into its last character and emoji dropped right after it,
 * without blanks at either end.  Returns -1 if the span is not within
 * 0..nlen. */
int normalize_span_source(const size_t *map, size_t nlen, const char *text, size_t start,
                          size_t end, size_t *ostart, size_t *oend);

#endif
