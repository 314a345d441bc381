/* intents/similar: signatures of concerns and their cosine, and the
 * common-issue threshold measured on tests/unit/fixtures/similar_pairs.tsv.
 * SIMILAR_PAIRS_PRINT=1 prints every pair's cosine (to measure again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "intents/similar.h"

#define PAIRS "tests/unit/fixtures/similar_pairs.tsv"

/* The signature of `s` with its [place] left out, as the daemon makes it
 * from the text and the place slot's span. */
static int sig_of(const char *s, char buf[SIMILAR_SIG_SIZE])
{
    char text[512];
    size_t n = 0, start = 0, end = 0;
    for (const char *p = s; *p && n < sizeof(text) - 1; p++) {
        if (*p == '[')
            start = n;
        else if (*p == ']')
            end = n;
        else
            text[n++] = *p;
    }
    text[n] = '\0';
    return similar_signature(text, n, start, end, buf);
}

static double cos_of(const char *a, const char *b)
{
    char sa[SIMILAR_SIG_SIZE], sb[SIMILAR_SIG_SIZE];
    assert_true(sig_of(a, sa) > 0);
    assert_true(sig_of(b, sb) > 0);
    return similar_cosine(sa, sb);
}

static void test_signature_form(void **state)
{
    (void)state;
    char s[SIMILAR_SIG_SIZE];
    int n = similar_signature("路灯坏了", strlen("路灯坏了"), 0, 0, s);
    /* 路 灯 坏 了, 路灯 灯坏 坏了, 路灯坏 灯坏了 (none with the ends) */
    assert_int_equal(n, 9);
    assert_int_equal(strlen(s), 9 * SIMILAR_HEX);
    /* sorted and distinct */
    for (int i = 1; i < n; i++)
        assert_true(strncmp(s + (i - 1) * SIMILAR_HEX, s + i * SIMILAR_HEX, SIMILAR_HEX) < 0);
    assert_true(similar_cosine(s, s) > 0.999);
    assert_true(similar_cosine(s, "") == 0);
    assert_int_equal(similar_signature("", 0, 0, 0, s), 0);   /* no grams, nothing sorted */
    assert_string_equal(s, "");
    assert_true(similar_cosine(s, "12345") == 0); /* malformed */
    /* A long text keeps at most SIMILAR_SIG_MAX grams. */
    const char *longer = "幸福路十二号门口的那盏路灯已经坏了整整两个星期了晚上出门一片漆黑老人孩子都不敢走夜路希望尽快修好";
    n = similar_signature(longer, strlen(longer), 0, 0, s);
    assert_int_equal(n, SIMILAR_SIG_MAX);
    /* The place is left out: only the concern's words remain. */
    const char *t = "幸福路12号路灯坏了";
    char a[SIMILAR_SIG_SIZE], b[SIMILAR_SIG_SIZE];
    similar_signature(t, strlen(t), 0, strlen("幸福路12号"), a);
    similar_signature("路灯坏了", strlen("路灯坏了"), 0, 0, b);
    assert_true(similar_cosine(a, b) > 0.7);
}

/* Every "diff" pair below the threshold (no wrong join), and at least 3
 * of 4 "same" pairs at or above it (16 of 20 when measured): the test
 * fails when a change of the signature or the threshold loses either. */
static void test_threshold_separates_pairs(void **state)
{
    (void)state;
    FILE *f = fopen(PAIRS, "r");
    assert_non_null(f);
    char line[1024];
    double same_min = 1, diff_max = 0;
    int nsame = 0, ndiff = 0, joined = 0;
    int print = getenv("SIMILAR_PAIRS_PRINT") != NULL;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *kind = line, *a = strchr(kind, '\t'), *b;
        assert_non_null(a);
        *a++ = '\0';
        b = strchr(a, '\t');
        assert_non_null(b);
        *b++ = '\0';
        double c = cos_of(a, b);
        if (print)
            printf("%.3f\t%s\t%s\t%s\n", c, kind, a, b);
        if (strcmp(kind, "same") == 0) {
            nsame++;
            joined += c >= SIMILAR_COMMON_MIN;
            if (c < same_min)
                same_min = c;
        } else {
            ndiff++;
            if (c > diff_max)
                diff_max = c;
        }
    }
    fclose(f);
    printf("pairs same=%d (joined %d, min %.3f) diff=%d (max %.3f) threshold=%.2f\n", nsame,
           joined, same_min, ndiff, diff_max, SIMILAR_COMMON_MIN);
    assert_true(nsame >= 20 && ndiff >= 20);
    assert_true(diff_max < SIMILAR_COMMON_MIN);
    assert_true(4 * joined >= 3 * nsame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_form),
        cmocka_unit_test(test_threshold_separates_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
