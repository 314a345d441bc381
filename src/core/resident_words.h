#ifndef MASHANG_RESIDENT_WORDS_H
#define MASHANG_RESIDENT_WORDS_H
/* What a resident's short answer means when the service asked a question
 * other than the 1-5 rating: the 回头看 question ("回复1很好，2又出问题了")
 * and the five-aspect rating ("请依次为态度、速度、结果打1-5分，如545").
 * Pure functions of the normalised text (intents/normalize.c), so
 * full-width digits and Traditional characters are already folded. */
#include <stddef.h>

/* Words answer the revisit question only in a message this short: a
 * longer one is a message of its own ("小区门口的垃圾可以清理一下吗"
 * says 可以 and answers nothing), read as usual. */
#define RESIDENT_ANSWER_MAX_CHARS 12

/* 1 when `norm` says the fix held ("1", "还好", "没问题"), 2 when it did
 * not ("2", "又坏了", "还是不行"), 0 otherwise (also for words in a
 * message longer than RESIDENT_ANSWER_MAX_CHARS).  Only read by the step
 * while a revisit question is pending. */
int resident_revisit_answer(const char *norm);

/* `norm` as exactly `n` scores 1-5 ("545", "5 4 5", "5、4、5"): stores
 * them in out[0..n) and returns n; 0 when it is anything else (a single
 * digit is the overall rating, read as before). */
size_t resident_aspect_scores(const char *norm, size_t n, int *out);

#endif
