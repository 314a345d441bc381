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

#endif
