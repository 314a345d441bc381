/* Signatures of concerns and their cosine (similar.h). */
#include "intents/similar.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intents/intents_model.h"

#define HASH_MASK 0xFFFFFFu

/* The distinct gram hashes seen so far; grows as needed.  Owned by the
 * caller of similar_signature, freed there. */
struct grams {
    uint32_t *h;
    size_t n, cap;
    int oom;
};

static void add_gram(const char *gram, uint64_t hash, void *arg)
{
    struct grams *g = arg;
    /* Grams with the text's ends (^, $) say how a message begins and
     * ends ("^我", "了$"), which residents share whatever their concern:
     * left out, they no longer pull unrelated short texts together. */
    if (g->oom || strpbrk(gram, "^$"))
        return;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        uint32_t *p = realloc(g->h, cap * sizeof(*p));
        if (!p) {
            g->oom = 1;
            return;
        }
        g->h = p;
        g->cap = cap;
    }
    g->h[g->n++] = (uint32_t)(hash ^ (hash >> 24) ^ (hash >> 48)) & HASH_MASK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int similar_signature(const char *norm, size_t len, size_t skip_start, size_t skip_end,
                      char buf[SIMILAR_SIG_SIZE])
{
    buf[0] = '\0';
    if (skip_end > len || skip_start > skip_end)
        skip_start = skip_end = 0;
    /* The text without the skipped span, joined by a blank so that no
     * gram spans the gap. */
    char *text = malloc(len + 2);
    if (!text)
        return -1;
    size_t tl = 0;
    memcpy(text, norm, skip_start);
    tl = skip_start;
    if (skip_end > skip_start)
        text[tl++] = ' ';
    memcpy(text + tl, norm + skip_end, len - skip_end);
    tl += len - skip_end;
    text[tl] = '\0';

    struct grams g = { 0 };
    model_ngrams_each(text, tl, add_gram, &g);
    free(text);
    if (g.oom) {
        free(g.h);
        return -1;
    }
    if (g.n > 0) /* no grams: g.h is NULL, which qsort may not be given */
        qsort(g.h, g.n, sizeof(*g.h), cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < g.n && k < SIMILAR_SIG_MAX; i++) {
        if (i > 0 && g.h[i] == g.h[i - 1])
            continue;
        snprintf(buf + k * SIMILAR_HEX, SIMILAR_HEX + 1, "%06x", (unsigned)g.h[i]);
        k++;
    }
    free(g.h);
    return (int)k;
}

/* Number of 6-digit entries of a signature, or -1 when malformed. */
static long entries(const char *s)
{
    size_t n = strlen(s);
    return n % SIMILAR_HEX ? -1 : (long)(n / SIMILAR_HEX);
}

double similar_cosine(const char *a, const char *b)
{
    long na = a ? entries(a) : -1, nb = b ? entries(b) : -1;
    if (na <= 0 || nb <= 0)
        return 0;
    /* Both sorted: one merge walk counts the shared grams. */
    long i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        int c = strncmp(a + i * SIMILAR_HEX, b + j * SIMILAR_HEX, SIMILAR_HEX);
        if (c == 0)
            both++, i++, j++;
        else if (c < 0)
            i++;
        else
            j++;
    }
    return (double)both / sqrt((double)na * (double)nb);
}
