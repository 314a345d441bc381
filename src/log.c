/* Structured key=value log lines on stderr. */
#include "mashang/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* The one piece of process-wide mutable state outside main.c: the
 * threshold is written once at start-up (and on reload) and only read
 * afterwards, so every module can log without carrying a logger. */
static enum log_level threshold = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    threshold = level;
}

int log_enabled(enum log_level level)
{
    return level >= threshold;
}

void log_emit(enum log_level level, const char *event, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;

    struct timeval tv;
    struct tm tm;
    char ts[32];
    char line[2048];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    int n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s",
                     ts, (long)(tv.tv_usec / 1000), level_names[level], event);
    if (n < 0)
        return;
    if (fmt && *fmt && (size_t)n < sizeof(line) - 2) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m < 0)
            m = 0;
        n += m;
        if ((size_t)n >= sizeof(line))
            n = (int)sizeof(line) - 1;
    }
    line[n] = '\0';
    /* One fputs per line keeps lines whole when several workers log. */
    fprintf(stderr, "%s\n", line);
}
