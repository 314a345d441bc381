/* base/utf8: strict and lossy decoding, encoding, validation, counting,
 * cutting and UTF-16 conversion, on valid, invalid, overlong, surrogate
 * and truncated sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/utf8.h"

static void test_seq_len(void **state)
{
    (void)state;
    assert_int_equal(utf8_seq_len('a'), 1);
    assert_int_equal(utf8_seq_len(0x00), 1);
    assert_int_equal(utf8_seq_len(0x80), 1);   /* continuation: cannot lead */
    assert_int_equal(utf8_seq_len(0xBF), 1);
    assert_int_equal(utf8_seq_len(0xC0), 1);   /* always overlong */
    assert_int_equal(utf8_seq_len(0xC1), 1);
    assert_int_equal(utf8_seq_len(0xC2), 2);
    assert_int_equal(utf8_seq_len(0xDF), 2);
    assert_int_equal(utf8_seq_len(0xE0), 3);
    assert_int_equal(utf8_seq_len(0xEF), 3);
    assert_int_equal(utf8_seq_len(0xF0), 4);
    assert_int_equal(utf8_seq_len(0xF4), 4);
    assert_int_equal(utf8_seq_len(0xF5), 1);   /* past U+10FFFF */
    assert_int_equal(utf8_seq_len(0xFF), 1);
    assert_true(utf8_is_cont(0x80));
    assert_true(utf8_is_cont(0xBF));
    assert_false(utf8_is_cont(0x7F));
    assert_false(utf8_is_cont(0xC0));
}

/* Decodes `s` strictly; returns the length and the code point in *cp. */
static size_t dec(const char *s, size_t len, uint32_t *cp)
{
    *cp = 0x12345678;
    return utf8_decode(s, len, cp);
}

static void test_decode_valid(void **state)
{
    uint32_t cp;
    (void)state;
    assert_int_equal(dec("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(dec("\0", 1, &cp), 1);          /* NUL is a character */
    assert_int_equal(cp, 0);
    assert_int_equal(dec("\x7F", 1, &cp), 1);
    assert_int_equal(cp, 0x7F);
    assert_int_equal(dec("\xC2\x80", 2, &cp), 2);     /* smallest 2-byte */
    assert_int_equal(cp, 0x80);
    assert_int_equal(dec("\xDF\xBF", 2, &cp), 2);
    assert_int_equal(cp, 0x7FF);
    assert_int_equal(dec("\xE0\xA0\x80", 3, &cp), 3); /* smallest 3-byte */
    assert_int_equal(cp, 0x800);
    assert_int_equal(dec("路", 3, &cp), 3);
    assert_int_equal(cp, 0x8DEF);
    assert_int_equal(dec("\xED\x9F\xBF", 3, &cp), 3); /* just below the surrogates */
    assert_int_equal(cp, 0xD7FF);
    assert_int_equal(dec("\xEE\x80\x80", 3, &cp), 3); /* just above them */
    assert_int_equal(cp, 0xE000);
    assert_int_equal(dec("\xEF\xBF\xBF", 3, &cp), 3);
    assert_int_equal(cp, 0xFFFF);
    assert_int_equal(dec("\xF0\x90\x80\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x10000);
    assert_int_equal(dec("\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(dec("\xF4\x8F\xBF\xBF", 4, &cp), 4);
    assert_int_equal(cp, 0x10FFFF);
    /* Only the first character is read. */
    assert_int_equal(dec("路灯", 6, &cp), 3);
    assert_int_equal(cp, 0x8DEF);
}

static void test_decode_invalid(void **state)
{
    static const struct { const char *s; size_t len, lossy; const char *why; } bad[] = {
        { "\x80", 1, 1, "stray continuation" },
        { "\xBF\x80", 2, 1, "stray continuation" },
        { "\xC0\xAF", 2, 1, "overlong '/' (C0)" },
        { "\xC1\xBF", 2, 1, "overlong (C1)" },
        { "\xE0\x80\xAF", 3, 1, "overlong 3-byte" },
        { "\xE0\x9F\xBF", 3, 1, "overlong 3-byte, top" },
        { "\xF0\x80\x80\xAF", 4, 1, "overlong 4-byte" },
        { "\xF0\x8F\xBF\xBF", 4, 1, "overlong 4-byte, top" },
        { "\xED\xA0\x80", 3, 1, "U+D800 surrogate" },
        { "\xED\xBF\xBF", 3, 1, "U+DFFF surrogate" },
        { "\xF4\x90\x80\x80", 4, 1, "past U+10FFFF" },
        { "\xF5\x80\x80\x80", 4, 1, "F5 lead" },
        { "\xFF", 1, 1, "FF" },
        { "\xC2", 1, 1, "cut 2-byte" },
        { "\xE8\xB7", 2, 2, "cut 3-byte" },
        { "\xF0\x9F\x98", 3, 3, "cut 4-byte" },
        { "\xE8\x41\x41", 3, 1, "ASCII where a continuation belongs" },
        { "\xE8\xB7\x41", 3, 2, "ASCII as third byte" },
        { "\xF0\x9F\xC3\xA9", 4, 2, "new lead as third byte" },
        { "\xC2\xC2\x80", 3, 1, "lead after lead" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t cp = 0x12345678;
        size_t n = utf8_decode(bad[i].s, bad[i].len, &cp);
        if (n != 0 || cp != 0x12345678)
            fail_msg("strict decode accepted %s", bad[i].why);
        n = utf8_decode_lossy(bad[i].s, bad[i].len, &cp);
        if (n != bad[i].lossy || cp != 0xFFFD)
            fail_msg("lossy decode of %s: %zu bytes, U+%04X", bad[i].why, n, (unsigned)cp);
        if (utf8_valid(bad[i].s, bad[i].len))
            fail_msg("utf8_valid accepted %s", bad[i].why);
    }
    /* The length bounds the decode: a whole sequence past `len` is cut. */
    uint32_t cp;
    assert_int_equal(utf8_decode("路", 2, &cp), 0);
    assert_int_equal(utf8_decode_lossy("路", 2, &cp), 2);
}

static void test_decode_lossy_walks(void **state)
{
    /* "a", stray 80, "路" cut to two bytes, "b", overlong C0 AF, "灯":
     * every ill-formed part is one U+FFFD and the walk never stalls. */
    static const char s[] = "a\x80\xE8\xB7" "b\xC0\xAF灯";
    static const uint32_t want[] = { 'a', 0xFFFD, 0xFFFD, 'b', 0xFFFD, 0xFFFD, 0x706F };
    size_t len = sizeof(s) - 1, k = 0;
    (void)state;
    for (size_t i = 0; i < len; k++) {
        uint32_t cp;
        size_t n = utf8_decode_lossy(s + i, len - i, &cp);
        assert_true(n >= 1);
        assert_true(k < sizeof(want) / sizeof(want[0]));
        assert_int_equal(cp, want[k]);
        i += n;
    }
    assert_int_equal(k, sizeof(want) / sizeof(want[0]));
    /* Well-formed input decodes the same both ways. */
    uint32_t a, b;
    assert_int_equal(utf8_decode_lossy("\xF0\x9F\x98\x80", 4, &a), 4);
    assert_int_equal(utf8_decode("\xF0\x9F\x98\x80", 4, &b), 4);
    assert_int_equal(a, b);
}

static void test_encode(void **state)
{
    static const struct { uint32_t cp; const char *want; } cases[] = {
        { 0, "" }, { 'A', "A" }, { 0x7F, "\x7F" }, { 0x80, "\xC2\x80" }, { 0x7FF, "\xDF\xBF" },
        { 0x800, "\xE0\xA0\x80" }, { 0x8DEF, "路" }, { 0xFFFF, "\xEF\xBF\xBF" },
        { 0x10000, "\xF0\x90\x80\x80" }, { 0x1F600, "\xF0\x9F\x98\x80" },
        { 0x10FFFF, "\xF4\x8F\xBF\xBF" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[UTF8_MAX + 1];
        size_t wl = cases[i].cp ? strlen(cases[i].want) : 1;
        memset(out, 'x', sizeof(out));
        assert_int_equal(utf8_encode(cases[i].cp, out), wl);
        assert_memory_equal(out, cases[i].cp ? cases[i].want : "\0", wl);
        assert_int_equal(out[wl], 'x');           /* writes no NUL of its own */
        uint32_t back;
        assert_int_equal(utf8_decode(out, wl, &back), wl);
        assert_int_equal(back, cases[i].cp);
    }
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("abc", 3));
    assert_true(utf8_valid("路灯", strlen("路灯")));
    assert_true(utf8_valid("\xF0\x9F\x98\x80", 4));             /* U+1F600 */
    assert_true(utf8_valid("\xF4\x8F\xBF\xBF", 4));             /* U+10FFFF */
    assert_true(utf8_valid("a\0b", 3));                          /* NUL is valid UTF-8 */
    assert_false(utf8_valid("\xC0\xAF", 2));                     /* overlong '/' */
    assert_false(utf8_valid("\xE0\x80\xAF", 3));                 /* overlong 3-byte */
    assert_false(utf8_valid("\xF0\x80\x80\xAF", 4));             /* overlong 4-byte */
    assert_false(utf8_valid("\xED\xA0\x80", 3));                 /* U+D800 surrogate */
    assert_false(utf8_valid("\xED\xBF\xBF", 3));                 /* U+DFFF surrogate */
    assert_false(utf8_valid("\xF4\x90\x80\x80", 4));             /* > U+10FFFF */
    assert_false(utf8_valid("\xF5\x80\x80\x80", 4));
    assert_false(utf8_valid("\x80", 1));                         /* stray continuation */
    assert_false(utf8_valid("\xE8\xB7", 2));                     /* truncated */
    assert_false(utf8_valid("\xE8\x41\x41", 3));                 /* bad continuation */
    assert_false(utf8_valid("\xFF", 1));
    /* The length bounds the check: a valid prefix of a longer buffer. */
    assert_true(utf8_valid("ab\xFF", 2));
}

static void test_utf8_length(void **state)
{
    (void)state;
    assert_int_equal(utf8_length("", 0), 0);
    assert_int_equal(utf8_length("abc", 3), 3);
    assert_int_equal(utf8_length("幸福路12号", strlen("幸福路12号")), 6);
    assert_int_equal(utf8_length("\xF0\x9F\x98\x80x", 5), 2);
}

static void test_utf16be_to_utf8(void **state)
{
    size_t n = 99;
    char *s;
    (void)state;

    /* "路灯A" */
    static const unsigned char lamp[] = { 0x8D, 0xEF, 0x70, 0x6F, 0x00, 0x41 };
    s = utf16be_to_utf8(lamp, sizeof(lamp), &n);
    assert_non_null(s);
    assert_string_equal(s, "路灯A");
    assert_int_equal(n, strlen("路灯A"));
    free(s);

    /* U+1F600 as a surrogate pair, then U+00E9. */
    static const unsigned char pair[] = { 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0xE9 };
    s = utf16be_to_utf8(pair, sizeof(pair), &n);
    assert_non_null(s);
    assert_memory_equal(s, "\xF0\x9F\x98\x80\xC3\xA9", 7);
    assert_int_equal(n, 6);
    free(s);

    /* An embedded U+0000 survives with the length telling the truth. */
    static const unsigned char nul[] = { 0x00, 0x61, 0x00, 0x00, 0x00, 0x62 };
    s = utf16be_to_utf8(nul, sizeof(nul), &n);
    assert_non_null(s);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 3);
    free(s);

    s = utf16be_to_utf8((const unsigned char *)"", 0, &n);
    assert_non_null(s);
    assert_int_equal(n, 0);
    free(s);

    static const unsigned char odd[] = { 0x00, 0x41, 0x00 };
    assert_null(utf16be_to_utf8(odd, sizeof(odd), &n));
    static const unsigned char lone_high[] = { 0xD8, 0x3D, 0x00, 0x41 };
    assert_null(utf16be_to_utf8(lone_high, sizeof(lone_high), &n));
    static const unsigned char high_at_end[] = { 0x00, 0x41, 0xD8, 0x3D };
    assert_null(utf16be_to_utf8(high_at_end, sizeof(high_at_end), &n));
    static const unsigned char lone_low[] = { 0xDE, 0x00, 0x00, 0x41 };
    assert_null(utf16be_to_utf8(lone_low, sizeof(lone_low), &n));
}

static void test_utf8_length_counts_leads(void **state)
{
    (void)state;
    /* Counts what is not a continuation byte, valid or not. */
    assert_int_equal(utf8_length("\xE8\xB7", 2), 1);
    assert_int_equal(utf8_length("\x80\x80", 2), 0);
    assert_int_equal(utf8_length("a\0b", 3), 3);
}

static void test_utf8_cut(void **state)
{
    (void)state;
    const char *s = "ab\xe8\xb7\xaf\xe7\x81\xaf";   /* "ab路灯": 2 + 3 + 3 bytes */
    assert_int_equal(utf8_cut(s, 8, 100), 8);
    assert_int_equal(utf8_cut(s, 8, 8), 8);
    assert_int_equal(utf8_cut(s, 8, 7), 5);
    assert_int_equal(utf8_cut(s, 8, 5), 5);
    assert_int_equal(utf8_cut(s, 8, 4), 2);
    assert_int_equal(utf8_cut(s, 8, 0), 0);
}

static void test_utf8_cut_edges(void **state)
{
    (void)state;
    const char *emoji = "\xF0\x9F\x98\x80z";   /* U+1F600 then 'z' */
    assert_int_equal(utf8_cut(emoji, 5, 3), 0);
    assert_int_equal(utf8_cut(emoji, 5, 4), 4);
    assert_int_equal(utf8_cut("", 0, 0), 0);
    assert_int_equal(utf8_cut("abc", 3, 1), 1);
}

static void test_utf8_halfwidth(void **state)
{
    (void)state;
    assert_int_equal(utf8_halfwidth(0xFF01), '!');     /* ！ */
    assert_int_equal(utf8_halfwidth(0xFF10), '0');     /* ０ */
    assert_int_equal(utf8_halfwidth(0xFF2D), 'M');     /* Ｍ */
    assert_int_equal(utf8_halfwidth(0xFF5E), '~');     /* ～ */
    assert_int_equal(utf8_halfwidth(0xFF00), 0xFF00);  /* outside the block */
    assert_int_equal(utf8_halfwidth(0xFF5F), 0xFF5F);
    assert_int_equal(utf8_halfwidth(0x3000), 0x3000);  /* ideographic space is a space, not ASCII */
    assert_int_equal(utf8_halfwidth('a'), 'a');
}

static void test_utf8_prev(void **state)
{
    const char *s = "a路\xF0\x9F\x98\x80";   /* 1 + 3 + 4 bytes */
    (void)state;
    assert_int_equal(utf8_prev(s, 1), 0);
    assert_int_equal(utf8_prev(s, 4), 1);
    assert_int_equal(utf8_prev(s, 8), 4);
    assert_int_equal(utf8_prev(s, 3), 1);   /* inside a character: its start */
    assert_int_equal(utf8_prev("\x80\x80", 2), 0);   /* never below 0 */
}

static void test_utf8_prefix_utf16(void **state)
{
    const char *s = "a路\xF0\x9F\x98\x80" "b";   /* units: 1, 1, 2, 1 */
    (void)state;
    assert_int_equal(utf8_prefix_utf16(s, 0), 0);
    assert_int_equal(utf8_prefix_utf16(s, 1), 1);
    assert_int_equal(utf8_prefix_utf16(s, 2), 4);
    assert_int_equal(utf8_prefix_utf16(s, 3), 4);    /* the pair does not fit */
    assert_int_equal(utf8_prefix_utf16(s, 4), 8);
    assert_int_equal(utf8_prefix_utf16(s, 5), 9);
    assert_int_equal(utf8_prefix_utf16(s, 99), 9);
    assert_int_equal(utf8_prefix_utf16("", 5), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_len),
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_invalid),
        cmocka_unit_test(test_decode_lossy_walks),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_length),
        cmocka_unit_test(test_utf8_length_counts_leads),
        cmocka_unit_test(test_utf16be_to_utf8),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_utf8_cut_edges),
        cmocka_unit_test(test_utf8_halfwidth),
        cmocka_unit_test(test_utf8_prev),
        cmocka_unit_test(test_utf8_prefix_utf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
