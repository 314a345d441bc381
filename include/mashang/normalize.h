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

#endif
