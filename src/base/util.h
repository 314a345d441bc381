#ifndef MASHANG_UTIL_H
#define MASHANG_UTIL_H
/* Small text helpers shared by every channel: phone numbers, masking,
 * SMS segment arithmetic.  UTF-8 and UTF-16 are base/utf8.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Normalises a phone number to E.164 ("+8613800138000").  Accepts
 * "13800138000", "8613800138000", "+8613800138000", "008613800138000",
 * with spaces or dashes.  `country_code` is digits only ("86").
 * Returns 0 and writes a NUL-terminated string, or -1 if `in` is not a
 * plausible phone number or `out` is too small. */
int phone_normalize(const char *in, const char *country_code, char *out, size_t outsz);

/* Masks an address for logs and deputies' screens: a phone keeps its
 * last four digits and the three national digits before the mask
 * ("+8613800138000" -> "138****8000"); any other id keeps its first and
 * last three characters ("oAbc****xyz").  Always NUL-terminates. */
void address_mask(const char *addr, char *out, size_t outsz);

/* A copy of free text (malloc'd; NULL on OOM) with the numbers in it
 * masked, for screens that show what residents wrote: any run of 7 or
 * more digits (ASCII or full-width, single spaces or dashes between them
 * allowed) loses digits to '*' — a phone keeps the same digits as
 * address_mask ("电话13800138000" -> "电话138****8000"), longer numbers
 * (ID cards, bank cards) their first three and last four, shorter ones
 * their last two. */
char *text_mask_phones(const char *s);

/* Longest identifier from outside that may become part of a Redis key
 * (chat user and message ids, WeChat openids and MsgIds, Kannel sender
 * and message ids, account and channel names in a URL).  Real ids are
 * far shorter; a longer one is refused with 400 "id_too_long" before it
 * reaches a key name or a log line. */
#define ID_MAX_LEN 128
#define ID_MAX_STR_(n) #n
#define ID_MAX_STR(n) ID_MAX_STR_(n)
/* "longer than 128 bytes", for error details */
#define ID_TOO_LONG_TEXT "longer than " ID_MAX_STR(ID_MAX_LEN) " bytes"
/* True when `s` is NULL (absent) or at most ID_MAX_LEN bytes long. */
bool id_len_ok(const char *s);

/* Milliseconds since the epoch (wall clock): the time stamps of steps,
 * outbox entries and delivery reports. */
long long wall_ms(void);

/* Segments needed to send `s` as one SMS: GSM-7 when every character is
 * ASCII-printable (160 alone, 153 per concatenated part), else UCS-2
 * (70 alone, 67 per part; characters outside the BMP count as two). */
int sms_segments(const char *s, size_t len);

/* Returns a malloc'd copy of `s` with leading/trailing ASCII and
 * ideographic (U+3000) whitespace removed. */
char *str_trim_dup(const char *s);

#endif
