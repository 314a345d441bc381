#ifndef MASHANG_LOG_H
#define MASHANG_LOG_H
/* Structured log lines on stderr:
 *   ts=2026-11-23T09:00:00.123Z level=info event=case_opened case=M1001 ...
 * Callers pass the key=value tail; phone numbers and addresses must go
 * through address_mask() first. */
#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Accepts debug|info|warn|error; returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_emit(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_emit(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  log_emit(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_emit(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(LOG_ERROR, ev, __VA_ARGS__)

#endif
