#ifndef MASHANG_CASE_ID_H
#define MASHANG_CASE_ID_H
/* What a case id is, defined once for every reader of one: the intent
 * slot of a deputy's command, a URL of the admin API, a teaching
 * correction.  A case id is the configured `case_prefix` (default "M",
 * the prefix step.lua gives new cases) followed by 1 to
 * CASE_ID_MAX_DIGITS decimal digits: "M1024". */
#include <stddef.h>

#define CASE_ID_MAX_DIGITS 12

/* The canonical case id for `s` as a person may write it, in `buf`
 * (`bufsz` bytes): the prefix in any case or left out, ASCII or
 * full-width letters and digits ("m1024", "1024", "Ｍ１０２４" ->
 * "M1024"), blanks (ASCII or U+3000) around it ignored.  Nothing else
 * may come before, between or after: another prefix ("X1024"), more
 * digits than CASE_ID_MAX_DIGITS or trailing text refuse.  Digits are
 * kept as written, leading zeros included.  Returns `buf`, or NULL when
 * `s` or `prefix` is NULL, `s` is not a case id, or it does not fit. */
const char *case_id_parse(const char *s, const char *prefix, char *buf, size_t bufsz);

/* A common issue's number ("R1003": the configured `common_prefix`, then
 * digits) in a deputy's text, written over as a case number so that the
 * command's words match as with any case.  Looks for the first `from`
 * (letters in any case, ASCII or full-width, as case_id_parse reads
 * them) that follows no letter or digit and is followed by 3 to
 * CASE_ID_MAX_DIGITS digits and no further digit.  Returns a malloc'd
 * copy of `text` (`len` bytes, NUL-terminated, length in *outlen) with
 * those letters replaced by `to`, the digits in `digits` as ASCII (at
 * least CASE_ID_MAX_DIGITS + 1 bytes); NULL when there is none or memory
 * is short.  The caller frees the copy. */
char *case_id_swap_prefix(const char *text, size_t len, const char *from, const char *to,
                          char *digits, size_t *outlen);

#endif
