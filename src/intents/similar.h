#ifndef MASHANG_SIMILAR_H
#define MASHANG_SIMILAR_H
/* How alike two concerns are, for joining them into a common issue
 * (docs/lifecycle.md, "Common issues").
 *
 * A text's signature is the set of its character 1-, 2- and 3-grams as
 * the intents model folds them (src/intents/intents_model.c: digits and
 * case ids to placeholders), without the grams of the text's ends, each
 * gram hashed to 24 bits, the SIMILAR_SIG_MAX
 * smallest kept (a bottom-k sketch: the same grams are kept from any two
 * texts, so the sketches compare like the sets), sorted and written as 6
 * lower-case hex digits each, no separators.  The daemon stores it with
 * the case; step.lua compares a new case with the few open candidates
 * (same station, category and place) by the cosine of the two sets,
 * |A∩B| / sqrt(|A|·|B|), exactly as similar_cosine() below does. */
#include <stddef.h>

#define SIMILAR_SIG_MAX 64
#define SIMILAR_HEX 6
/* Buffer size for a signature, NUL included. */
#define SIMILAR_SIG_SIZE (SIMILAR_SIG_MAX * SIMILAR_HEX + 1)

/* The cosine at or above which a concern joins an open case of the same
 * station, category and place, measured on
 * tests/unit/fixtures/similar_pairs.tsv (docs/lifecycle.md gives the
 * figures): above every pair of different problems (a wrong join merges
 * what the deputy must handle apart; a missed one only leaves two cases
 * as before), which joins 16 of the 20 pairs of one problem.  Published
 * to step.lua as the setting common_min. */
#define SIMILAR_COMMON_MIN 0.30

/* The signature of `len` bytes of normalised text, leaving out the bytes
 * [skip_start, skip_end) (the place slot: residents at the same place
 * share its name, not necessarily their concern; pass 0, 0 to keep all).
 * Written to `buf` (SIMILAR_SIG_SIZE bytes); returns the number of grams,
 * 0 for a text without any, -1 on out of memory. */
int similar_signature(const char *norm, size_t len, size_t skip_start, size_t skip_end,
                      char buf[SIMILAR_SIG_SIZE]);

/* The cosine of two signatures (0 when either is empty or malformed). */
double similar_cosine(const char *a, const char *b);

#endif
