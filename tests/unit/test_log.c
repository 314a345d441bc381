/* log_value(): outside values escaped for the key=value log format, and
 * log lines carrying hostile values parsed back into exactly their fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/log.h"

static void test_bare_values_stay_bare(void **state)
{
    char buf[LOG_VALUE_MAX];
    (void)state;
    assert_string_equal(log_value(buf, sizeof(buf), "chat:relay"), "chat:relay");
    assert_string_equal(log_value(buf, sizeof(buf), "/admin/cases/M1001"), "/admin/cases/M1001");
    assert_string_equal(log_value(buf, sizeof(buf), "138****8000"), "138****8000");
    assert_string_equal(log_value(buf, sizeof(buf), NULL), "-");
    assert_string_equal(log_value(buf, sizeof(buf), ""), "\"\"");
}

static void test_hostile_bytes_are_escaped(void **state)
{
    static const struct { const char *in, *want; } cases[] = {
        { "a b", "\"a b\"" },
        { "x\" forged=1", "\"x\\\" forged=1\"" },
        { "back\\slash", "\"back\\\\slash\"" },
        { "tab\there", "\"tab\\there\"" },
        { "line\nts=x level=error", "\"line\\nts=x level=error\"" },
        { "cr\r", "\"cr\\r\"" },
        { "\x1b[31mred", "\"\\x1b[31mred\"" },
        { "del\x7f", "\"del\\x7f\"" },
        { "k=v", "\"k=v\"" },
        { "路灯", "\"路灯\"" },                          /* valid UTF-8 stays readable */
        { "c1\xc2\x9b", "\"c1\\xc2\\x9b\"" },             /* U+009B CSI */
        { "ls\xe2\x80\xa8", "\"ls\\xe2\\x80\\xa8\"" },    /* U+2028 */
        { "bad\xff\xc3", "\"bad\\xff\\xc3\"" },            /* invalid UTF-8 */
        { "over\xc0\xaf", "\"over\\xc0\\xaf\"" },          /* overlong '/' */
        { "sur\xed\xa0\x80", "\"sur\\xed\\xa0\\x80\"" },   /* UTF-16 surrogate */
    };
    char buf[LOG_VALUE_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(log_value(buf, sizeof(buf), cases[i].in), cases[i].want);
}

static void test_long_values_are_cut_and_closed(void **state)
{
    char big[1000], buf[64];
    (void)state;
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *v = log_value(buf, sizeof(buf), big);
    size_t n = strlen(v);
    assert_true(n < sizeof(buf));
    assert_int_equal(v[0], '"');
    assert_int_equal(v[n - 1], '"');
    assert_memory_equal(v + n - 4, "...\"", 4);
    /* Never half an escape: every backslash is followed by the quote. */
    for (size_t i = 1; i + 4 < n; i += 2)
        assert_memory_equal(v + i, "\\\"", 2);

    /* A cut never splits a UTF-8 character. */
    char cjk[600] = "";
    for (int i = 0; i < 150; i++)
        strcat(cjk, "灯");
    v = log_value(buf, sizeof(buf), cjk);
    n = strlen(v);
    assert_memory_equal(v + n - 4, "...\"", 4);
    assert_int_equal((n - 5) % 3, 0);

    /* LOG_STR: the macro form used at call sites. */
    assert_true(strlen(LOG_STR(big)) <= LOG_VALUE_MAX - 1);
    assert_string_equal(log_value(buf, 4, "x"), "");
}

/* ---- parsing a line back -------------------------------------------- */

struct field {
    char key[32];
    char value[LOG_VALUE_MAX];
};

/* Splits one log line into key=value fields the way a log reader does:
 * keys are bare, values bare or double-quoted with backslash escapes
 * (\" \\ \n \r \t \xHH).  Returns the number of fields, or -1 when the
 * line does not parse. */
static int parse_line(const char *s, struct field *f, int max)
{
    int n = 0;
    while (*s) {
        if (n == max)
            return -1;
        size_t k = strcspn(s, "= ");
        if (s[k] != '=' || k == 0 || k >= sizeof(f[n].key))
            return -1;
        memcpy(f[n].key, s, k);
        f[n].key[k] = '\0';
        s += k + 1;
        size_t o = 0;
        if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if (!*s || o + 1 >= sizeof(f[n].value))
                    return -1;
                if (*s != '\\') {
                    f[n].value[o++] = *s;
                    continue;
                }
                s++;
                if (*s == 'n' || *s == 'r' || *s == 't')
                    f[n].value[o++] = *s == 'n' ? '\n' : *s == 'r' ? '\r' : '\t';
                else if (*s == '"' || *s == '\\')
                    f[n].value[o++] = *s;
                else if (*s == 'x' && s[1] && s[2]) {
                    char hex[3] = { s[1], s[2], 0 };
                    f[n].value[o++] = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else
                    return -1;
            }
            s++;
        } else {
            while (*s && *s != ' ' && *s != '"') {
                if (o + 1 >= sizeof(f[n].value))
                    return -1;
                f[n].value[o++] = *s++;
            }
        }
        f[n].value[o] = '\0';
        n++;
        if (*s == ' ')
            s++;
        else if (*s)
            return -1;
    }
    return n;
}

static void test_hostile_line_parses_back(void **state)
{
    static const char *const hostile[] = {
        "/admin/x\" level=error forged=\"1",
        "/p\tq\x1b[2J\nts=2026-01-01T00:00:00.000Z level=error event=forged",
        "user\nid",
        "\\\"\\",
        "\r\n",
    };
    (void)state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
        log_warn("probe", "path=%s user=%s n=%zu", LOG_STR(hostile[i]), LOG_STR(hostile[i]), i);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);

    rewind(tmp);
    char line[4096];
    size_t lines = 0;
    while (fgets(line, sizeof(line), tmp)) {
        size_t len = strlen(line);
        assert_true(len > 0 && line[len - 1] == '\n');
        line[len - 1] = '\0';
        struct field f[16];
        int n = parse_line(line, f, 16);
        assert_int_equal(n, 6);
        assert_string_equal(f[0].key, "ts");
        assert_string_equal(f[1].key, "level");
        assert_string_equal(f[1].value, "warn");
        assert_string_equal(f[2].key, "event");
        assert_string_equal(f[2].value, "probe");
        assert_string_equal(f[3].key, "path");
        assert_string_equal(f[3].value, hostile[lines]);
        assert_string_equal(f[4].key, "user");
        assert_string_equal(f[4].value, hostile[lines]);
        assert_string_equal(f[5].key, "n");
        lines++;
    }
    fclose(tmp);
    assert_int_equal(lines, sizeof(hostile) / sizeof(hostile[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bare_values_stay_bare),
        cmocka_unit_test(test_hostile_bytes_are_escaped),
        cmocka_unit_test(test_long_values_are_cut_and_closed),
        cmocka_unit_test(test_hostile_line_parses_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
