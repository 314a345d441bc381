#ifndef MASHANG_RESIDENT_WORDS_H
#define MASHANG_RESIDENT_WORDS_H
/* What a resident's short answer means when the service asked a question
 * other than the 1-5 rating: the 回头看 question ("回复1很好，2又出问题了")
 * and the five-aspect rating ("请依次为态度、速度、结果打1-5分，如545").
 * Pure functions of the normalised text (intents/normalize.c), so
 * full-width digits and Traditional characters are already folded. */
#include <stddef.h>

/* 1 when `norm` says the fix held ("1", "还好", "没问题"), 2 when it did
 * not ("2", "又坏了", "还是不行"), 0 otherwise.  Only read by the step
 * while a revisit question is pending, so a concern that happens to
 * contain the words elsewhere changes nothing. */
int resident_revisit_answer(const char *norm);

/* `norm` as exactly `n` scores 1-5 ("545", "5 4 5", "5、4、5"): stores
 * them in out[0..n) and returns n; 0 when it is anything else (a single
 * digit is the overall rating, read as before). */
size_t resident_aspect_scores(const char *norm, size_t n, int *out);

#endif
