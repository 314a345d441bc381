/* Structured key=value log lines on stderr. */
#include "base/log.h"
#include "base/utf8.h"

#include <stdbool.h>
#include <stdint.h>
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

/* Bytes a bare value may hold: nothing that could end a field, quote it
 * or be read as an assignment. */
static bool bare_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("._:/@+,*-", c) != NULL);
}

/* Length of the valid UTF-8 character at `s` (1..4) that is safe to show
 * as is, or 0 when the byte must be escaped: C1 controls (U+0080..U+009F,
 * ESC's 8-bit twins) and the line/paragraph separators U+2028/U+2029
 * would end a line or drive a terminal like control bytes do. */
static size_t shown_char(const unsigned char *s, size_t avail)
{
    uint32_t cp;
    size_t n = utf8_decode((const char *)s, avail, &cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
        cp == 0x2029)
        return 0;
    return n;
}

/* Writes the escaped form of one character (n bytes at s) to `out`
 * (room for 5 bytes); returns its length. */
static size_t escape_char(const unsigned char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (n) {
        if (s[0] == '"' || s[0] == '\\') {
            out[0] = '\\';
            out[1] = (char)s[0];
            return 2;
        }
        memcpy(out, s, n);
        return n;
    }
    const char *named = s[0] == '\n' ? "\\n" : s[0] == '\r' ? "\\r" : s[0] == '\t' ? "\\t" : NULL;
    if (named) {
        memcpy(out, named, 2);
        return 2;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[s[0] >> 4];
    out[3] = hex[s[0] & 0x0f];
    return 4;
}

const char *log_value(char *buf, size_t size, const char *s)
{
    if (!buf || size == 0)
        return "";
    if (size < 8) {
        buf[0] = '\0';
        return buf;
    }
    if (!s) {
        snprintf(buf, size, "-");
        return buf;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    while (i < len && bare_byte(u[i]))
        i++;
    if (len && i == len && len < size) {
        memcpy(buf, s, len + 1);
        return buf;
    }
    /* Quoted: keep room for "...", the closing quote and the NUL. */
    size_t o = 0, room = size - 5;
    buf[o++] = '"';
    for (i = 0; i < len;) {
        char tmp[5];
        size_t n = shown_char(u + i, len - i);
        size_t w = escape_char(u + i, n, tmp);
        if (o + w > room) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, tmp, w);
        o += w;
        i += n ? n : 1;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
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
    /* Last line of defence for a value a caller forgot to pass through
     * log_value(): no control byte may split or colour the line. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    /* One fputs per line keeps lines whole when several workers log. */
    fprintf(stderr, "%s\n", line);
}
