/* Text helpers shared by every channel: phone numbers, masking, SMS
 * segment arithmetic (UTF-8 itself is utf8.c). */
#include "base/util.h"
#include "base/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* E.164 allows at most 15 digits after the '+'. */
#define E164_MAX_DIGITS 15
/* Anything shorter than this (country code included) is a short code or a
 * typo, not a person. */
#define E164_MIN_DIGITS 8

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Separators people type inside phone numbers. */
static int is_phone_separator(int c)
{
    return c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '\t';
}

int phone_normalize(const char *in, const char *country_code, char *out, size_t outsz)
{
    char digits[64];
    size_t n = 0;
    int plus = 0;

    if (!in || !country_code || !out || outsz == 0)
        return -1;
    for (const char *p = country_code; *p; p++)
        if (!is_digit((unsigned char)*p))
            return -1;
    size_t cclen = strlen(country_code);
    if (cclen == 0 || cclen > 3)
        return -1;

    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_digit(c)) {
            if (n + 1 >= sizeof(digits))
                return -1;
            digits[n++] = (char)c;
        } else if (c == '+' && n == 0 && !plus) {
            plus = 1;
        } else if (!is_phone_separator(c)) {
            return -1;
        }
    }
    digits[n] = '\0';
    if (n == 0)
        return -1;

    /* Work out the international digits (country code + national number). */
    const char *cc = "", *national = digits;
    if (plus) {
        national = digits;
    } else if (n > 2 && digits[0] == '0' && digits[1] == '0') {
        national = digits + 2;          /* 00 = international prefix */
    } else if (digits[0] == '0') {
        /* A trunk prefix: "010 12345678" is a national landline. */
        cc = country_code;
        national = digits + 1;
    } else if (n >= 12 && strncmp(digits, country_code, cclen) == 0) {
        /* Longer than any national number and already starting with the
         * country code: "8613800138000". */
        national = digits;
    } else {
        cc = country_code;
    }
    char intl[sizeof(digits) + 4];
    size_t l1 = strlen(cc), l2 = strlen(national);
    memcpy(intl, cc, l1);
    memcpy(intl + l1, national, l2 + 1);

    size_t len = strlen(intl);
    if (len < E164_MIN_DIGITS || len > E164_MAX_DIGITS || intl[0] == '0')
        return -1;
    /* Chinese mobile numbers (1[3-9]x) have exactly 11 national digits;
     * catching a dropped or doubled digit here keeps one person from
     * becoming two. */
    if (strncmp(intl, "86", 2) == 0 && intl[2] == '1' && intl[3] >= '3' && intl[3] <= '9' &&
        len != 13)
        return -1;
    if (len + 2 > outsz)
        return -1;
    out[0] = '+';
    memcpy(out + 1, intl, len + 1);
    return 0;
}

static int looks_like_phone(const char *s, size_t *ndigits)
{
    const char *p = s;
    size_t n = 0;

    if (*p == '+')
        p++;
    for (; *p; p++, n++)
        if (!is_digit((unsigned char)*p))
            return 0;
    *ndigits = n;
    return n >= 7;
}

void address_mask(const char *addr, char *out, size_t outsz)
{
    size_t nd;

    if (!out || outsz == 0)
        return;
    out[0] = '\0';
    if (!addr)
        return;

    if (looks_like_phone(addr, &nd)) {
        const char *d = addr[0] == '+' ? addr + 1 : addr;
        /* Three digits of the 11-digit national number, then the last
         * four: "13800138000" -> "138****8000".  Shorter numbers only
         * show their last four. */
        if (nd >= 11)
            snprintf(out, outsz, "%.3s****%s", d + nd - 11, d + nd - 4);
        else
            snprintf(out, outsz, "****%s", d + nd - 4);
        return;
    }

    /* Other ids (openids, user ids): first four and last three code
     * points, never splitting a UTF-8 sequence. */
    size_t len = strlen(addr);
    size_t ncp = 0;
    for (size_t i = 0; i < len; i += utf8_seq_len((unsigned char)addr[i]))
        ncp++;
    if (ncp <= 8) {
        snprintf(out, outsz, "****");
        return;
    }
    size_t head = 0, cp = 0;
    while (cp < 4) {
        head += utf8_seq_len((unsigned char)addr[head]);
        cp++;
    }
    size_t tail = head;
    while (cp < ncp - 3) {
        tail += utf8_seq_len((unsigned char)addr[tail]);
        cp++;
    }
    if (tail > len)
        tail = len;
    snprintf(out, outsz, "%.*s****%s", (int)head, addr, addr + tail);
}

/* Bytes of the digit at `p`: 1 for 0-9, 3 for full-width ０-９ (U+FF10-FF19), 0 if none. */
static size_t digit_width(const unsigned char *p)
{
    uint32_t cp;
    if (*p >= '0' && *p <= '9')
        return 1;
    /* NUL-terminated: decoding stops at the NUL, which continues nothing. */
    if (utf8_decode((const char *)p, UTF8_MAX, &cp) == 3 && cp >= 0xFF10 && cp <= 0xFF19)
        return 3;
    return 0;
}

/* Whether digit `k` of a run of `n` is hidden (see text_mask_phones). */
static bool digit_hidden(size_t k, size_t n)
{
    if (n < 7)
        return false;
    if (n <= 10)
        return k < n - 2;
    if (n <= 13)
        return k >= n - 8 && k < n - 4;   /* country code and 3 digits shown */
    return k >= 3 && k < n - 4;
}

char *text_mask_phones(const char *s)
{
    const unsigned char *in = (const unsigned char *)(s ? s : "");
    size_t len = strlen((const char *)in);
    char *out = malloc(len + 1);   /* masking never lengthens the text */
    if (!out)
        return NULL;
    size_t i = 0, o = 0;
    while (i < len) {
        if (!digit_width(in + i)) {
            out[o++] = (char)in[i++];
            continue;
        }
        /* The run: digits, with single separators between them. */
        size_t end = i, n = 0, w;
        for (;;) {
            if ((w = digit_width(in + end))) {
                n++;
                end += w;
            } else if ((in[end] == ' ' || in[end] == '-') && digit_width(in + end + 1)) {
                end++;
            } else {
                break;
            }
        }
        for (size_t k = 0; i < end;) {
            if ((w = digit_width(in + i))) {
                if (digit_hidden(k++, n))
                    out[o++] = '*';
                else
                    for (size_t b = 0; b < w; b++)
                        out[o++] = (char)in[i + b];
                i += w;
            } else {
                out[o++] = (char)in[i++];
            }
        }
    }
    out[o] = '\0';
    return out;
}

bool id_len_ok(const char *s)
{
    return !s || strnlen(s, ID_MAX_LEN + 1) <= ID_MAX_LEN;
}

/* GSM 03.38 extension-table characters, sent as ESC + char (two septets). */
static int gsm7_extended(int c)
{
    return c && strchr("^{}\\[~]|", c) != NULL;
}

int sms_segments(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t septets = 0, units = 0;
    int gsm = 1;

    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = utf8_seq_len(c);
        if (i + n > len)
            n = len - i;
        if (c < 0x80) {
            /* '`' has no GSM-7 encoding; other control bytes than CR/LF
             * neither. */
            if ((c < 0x20 && c != '\n' && c != '\r') || c == '`' || c == 0x7F)
                gsm = 0;
            septets += gsm7_extended(c) ? 2 : 1;
        } else {
            gsm = 0;
        }
        units += n == 4 ? 2 : 1;   /* outside the BMP: a surrogate pair */
        i += n;
    }

    if (gsm) {
        if (septets <= 160)
            return 1;
        return (int)((septets + 152) / 153);
    }
    if (units <= 70)
        return 1;
    return (int)((units + 66) / 67);
}

/* Bytes of whitespace at s[i..len) (0 when none): ASCII space family or
 * U+3000 IDEOGRAPHIC SPACE. */
static size_t space_at(const char *s, size_t i, size_t len)
{
    unsigned char c = (unsigned char)s[i];
    uint32_t cp;
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return 1;
    return utf8_decode(s + i, len - i, &cp) == 3 && cp == 0x3000 ? 3 : 0;
}

char *str_trim_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    size_t start = 0, end = len, n;

    while (start < end && (n = space_at(s, start, end)) > 0)
        start += n;
    for (;;) {
        if (end > start && space_at(s, end - 1, end) == 1) {
            end--;
        } else if (end >= start + 3 && space_at(s, end - 3, end) == 3) {
            end -= 3;
        } else {
            break;
        }
    }
    return strndup(s + start, end - start);
}

long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}
