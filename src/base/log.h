#ifndef MASHANG_LOG_H
#define MASHANG_LOG_H
/* Structured log lines on stderr:
 *   ts=2026-11-23T09:00:00.123Z level=info event=case_opened case=M1001 ...
 * Callers pass the key=value tail; phone numbers and addresses must go
 * through address_mask() first. */
#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Accepts debug|info|warn|error; returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_emit(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Values from outside (paths, ids, texts, error strings of peers) go
 * through log_value() so they cannot forge fields or split lines: a value
 * made only of [A-Za-z0-9._:/@+,*-] is written bare; anything else is
 * written in double quotes with `"` and `\\` escaped, \n \r \t as such,
 * other control bytes (C0, DEL, C1 such as ESC or U+009B, U+2028/2029)
 * and invalid UTF-8 as \xHH; valid UTF-8 text stays readable.  NULL is
 * "-".  A value that does not fit `size` is cut on a character boundary
 * and ends in "...", still quoted and terminated.  Returns `buf`. */
#define LOG_VALUE_MAX 256
const char *log_value(char *buf, size_t size, const char *s);
/* log_value() into a buffer that lives as long as the enclosing block,
 * for use as a printf argument:  log_warn("x", "path=%s", LOG_STR(path)); */
#define LOG_STR(s) log_value((char[LOG_VALUE_MAX]){ 0 }, LOG_VALUE_MAX, (s))

#define log_debug(ev, ...) log_emit(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  log_emit(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_emit(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(LOG_ERROR, ev, __VA_ARGS__)

#endif
