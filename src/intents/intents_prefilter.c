/* Literal prefilter of an intent set (see intents_prefilter.h).
 *
 * The derivation walks the regex source once and computes, for every
 * part, a set of literals one of which any match of that part contains:
 *   - a run of plain characters is one literal (a `+` or `{n,}` on the
 *     last character still leaves the run up to one copy of it);
 *   - a sequence keeps the best set of any of its items (the longest
 *     shortest literal, then the fewest literals);
 *   - an alternation is the union of its branches' sets;
 *   - a group counts like a character, unless it may repeat zero times;
 *   - lookarounds, anchors and \b consume nothing and are skipped;
 *   - classes, `.`, \d and friends, and anything optional, give nothing.
 * Whatever it does not understand (inline options, back-references,
 * unusual escapes) makes the whole pattern unfiltered: a wrong literal
 * would silently drop matches, a missing one only costs time. */
#include "intents/intents_prefilter.h"
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIT_MAX 1024        /* literals per set: more and the set is dropped */
#define RUN_MAX 128         /* bytes of one literal run */

/* A set of necessary literals; `any` when there is none (anything goes). */
struct litset {
    bool any;
    size_t n, cap;
    char **v;               /* owned array of owned strings */
};

struct entry {
    uint32_t key;           /* the literal's first character, packed */
    size_t len;
    char *lit;              /* owned */
    size_t intent;
};

enum filter_state { UNSEEN = 0, FILTERED, UNFILTERED };

struct intent_prefilter {
    struct entry *e;        /* owned, sorted by key */
    size_t n, cap;
    unsigned char *state;   /* owned, enum filter_state per intent */
    size_t nstate;
};

struct rx {
    const char *p;
    bool bad;               /* something not understood: give up */
};

/* ---- literal sets ----------------------------------------------------- */

static void ls_clear(struct litset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Appends `str` (taken); -1 (and `str` freed) on out of memory. */
static int ls_push(struct litset *s, char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static void ls_set_any(struct litset *s)
{
    ls_clear(s);
    s->any = true;
}

static size_t ls_min_len(const struct litset *s)
{
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = strlen(s->v[i]);
        if (l < m)
            m = l;
    }
    return s->n ? m : 0;
}

/* True if `a` filters better than `b`. */
static bool ls_better(const struct litset *a, const struct litset *b)
{
    if (a->any || a->n == 0)
        return false;
    if (b->any || b->n == 0)
        return true;
    size_t la = ls_min_len(a), lb = ls_min_len(b);
    if (la != lb)
        return la > lb;
    return a->n < b->n;
}

/* Keeps the better of `*best` and `*cand`; `*cand` is emptied. */
static void ls_consider(struct litset *best, struct litset *cand)
{
    if (ls_better(cand, best)) {
        ls_clear(best);
        *best = *cand;
        *cand = (struct litset){ .any = true };
    } else {
        ls_set_any(cand);
    }
}

/* `*dst` |= `*src`; `*src` is emptied.  Out of memory gives "any". */
static void ls_union(struct litset *dst, struct litset *src)
{
    if (dst->any || src->any || dst->n + src->n > LIT_MAX) {
        ls_set_any(dst);
        ls_set_any(src);
        return;
    }
    for (size_t i = 0; i < src->n; i++) {
        if (ls_push(dst, src->v[i]) < 0) {
            for (size_t k = i + 1; k < src->n; k++)
                free(src->v[k]);
            src->n = 0;
            ls_set_any(src);
            ls_set_any(dst);
            return;
        }
    }
    src->n = 0;
    ls_clear(src);
}

/* ---- regex walk ------------------------------------------------------- */

static bool is_ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

enum atom_kind { ATOM_LIT, ATOM_ANY, ATOM_ZERO, ATOM_GROUP };

struct atom {
    enum atom_kind kind;
    const char *lit;        /* ATOM_LIT: points into the source */
    size_t len;
    struct litset group;    /* ATOM_GROUP */
};

static void parse_alt(struct rx *r, struct litset *out);

/* Skips a character class; `r->p` is at '['. */
static void skip_class(struct rx *r)
{
    const char *p = r->p + 1;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;                /* a leading ']' is a member */
    while (*p && *p != ']') {
        if (*p == '\\') {
            if (!p[1]) {
                r->bad = true;
                return;
            }
            if ((p[1] == 'p' || p[1] == 'P' || p[1] == 'x') && p[2] == '{') {
                const char *close = strchr(p, '}');
                if (!close) {
                    r->bad = true;
                    return;
                }
                p = close + 1;
            } else {
                p += 1 + utf8_seq_len((unsigned char)p[1]);
            }
        } else if (p[0] == '[' && p[1] == ':') {
            const char *close = strstr(p + 2, ":]");
            p = close ? close + 2 : p + 1;
        } else {
            p += utf8_seq_len((unsigned char)*p);
        }
    }
    if (*p != ']')
        r->bad = true;
    else
        r->p = p + 1;
}

/* A group's body; `r->p` is just past its opening syntax. */
static void parse_group(struct rx *r, struct litset *out)
{
    parse_alt(r, out);
    if (*r->p != ')') {
        r->bad = true;
        return;
    }
    r->p++;
}

static void parse_atom(struct rx *r, struct atom *a)
{
    const char *p = r->p;
    memset(a, 0, sizeof(*a));
    a->kind = ATOM_ANY;
    a->group.any = true;
    switch (*p) {
    case '(':
        if (p[1] == '*') {
            r->bad = true;   /* (*VERB) */
            return;
        }
        if (p[1] != '?') {
            r->p = p + 1;
            a->kind = ATOM_GROUP;
            parse_group(r, &a->group);
            return;
        }
        if (p[2] == ':' || p[2] == '>' || p[2] == '|') {
            r->p = p + 3;
            a->kind = ATOM_GROUP;
            parse_group(r, &a->group);
            return;
        }
        if (p[2] == '=' || p[2] == '!' || (p[2] == '<' && (p[3] == '=' || p[3] == '!'))) {
            r->p = p + (p[2] == '<' ? 4 : 3);
            struct litset ignored = { 0 };
            parse_group(r, &ignored);
            ls_clear(&ignored);
            a->kind = ATOM_ZERO;
            return;
        }
        if (p[2] == '<' || p[2] == '\'' || (p[2] == 'P' && p[3] == '<')) {
            const char *close = strpbrk(p + 3, ">'");
            if (!close) {
                r->bad = true;
                return;
            }
            r->p = close + 1;
            a->kind = ATOM_GROUP;
            parse_group(r, &a->group);
            return;
        }
        if (p[2] == '#') {
            const char *close = strchr(p, ')');
            if (!close) {
                r->bad = true;
                return;
            }
            r->p = close + 1;
            a->kind = ATOM_ZERO;
            return;
        }
        r->bad = true;       /* inline options and the rest */
        return;
    case '[':
        skip_class(r);
        return;
    case '.':
        r->p = p + 1;
        return;
    case '^':
    case '$':
        r->p = p + 1;
        a->kind = ATOM_ZERO;
        return;
    case '\\':
        if (!p[1]) {
            r->bad = true;
        } else if (!is_ascii_alnum(p[1])) {
            a->kind = ATOM_LIT;
            a->lit = p + 1;
            a->len = utf8_seq_len((unsigned char)p[1]);
            r->p = p + 1 + a->len;
        } else if (strchr("dDwWsShHvVRX", p[1])) {
            r->p = p + 2;
        } else if (strchr("bBAzZG", p[1])) {
            r->p = p + 2;
            a->kind = ATOM_ZERO;
        } else if ((p[1] == 'p' || p[1] == 'P') && p[2] == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                r->bad = true;
            else
                r->p = close + 1;
        } else if (p[1] == 'p' || p[1] == 'P') {
            if (!p[2])
                r->bad = true;
            else
                r->p = p + 3;
        } else {
            r->bad = true;   /* back-references, \x, \n, \Q... */
        }
        return;
    case '*':
    case '+':
    case '?':
    case '{':
        r->bad = true;
        return;
    default:
        a->kind = ATOM_LIT;
        a->lit = p;
        a->len = utf8_seq_len((unsigned char)*p);
        if (strnlen(p, a->len) < a->len)
            r->bad = true;
        else
            r->p = p + a->len;
        return;
    }
}

/* Parses an optional quantifier; returns its minimum count (1 if none). */
static unsigned long parse_quant(struct rx *r, bool *present)
{
    const char *p = r->p;
    unsigned long min = 1;
    *present = true;
    if (*p == '?' || *p == '*') {
        min = 0;
        p++;
    } else if (*p == '+') {
        p++;
    } else if (*p == '{') {
        char *end;
        if (p[1] < '0' || p[1] > '9') {
            r->bad = true;   /* "{,n}" and literal braces differ by PCRE2 version */
            return 0;
        }
        min = strtoul(p + 1, &end, 10);
        if (*end == ',') {
            end++;
            while (*end >= '0' && *end <= '9')
                end++;
        }
        if (*end != '}') {
            r->bad = true;
            return 0;
        }
        p = end + 1;
    } else {
        *present = false;
        return 1;
    }
    if (*p == '?' || *p == '+')
        p++;                 /* lazy, possessive */
    r->p = p;
    return min;
}

/* The literal run being built by parse_seq. */
struct run {
    char buf[RUN_MAX];
    size_t len;
};

static void run_close(struct run *run, struct litset *best, struct rx *r)
{
    if (run->len == 0)
        return;
    struct litset cand = { 0 };
    char *lit = strndup(run->buf, run->len);
    if (!lit || ls_push(&cand, lit) < 0)
        r->bad = true;
    else
        ls_consider(best, &cand);
    run->len = 0;
}

static void run_add(struct run *run, const char *s, size_t n, struct litset *best, struct rx *r)
{
    if (run->len + n > sizeof(run->buf))
        run_close(run, best, r);
    memcpy(run->buf + run->len, s, n);
    run->len += n;
}

static void parse_seq(struct rx *r, struct litset *out)
{
    struct litset best = { .any = true };
    struct run run = { .len = 0 };
    while (!r->bad && *r->p && *r->p != '|' && *r->p != ')') {
        struct atom a;
        parse_atom(r, &a);
        bool quant = false;
        unsigned long min = r->bad ? 0 : parse_quant(r, &quant);
        if (r->bad) {
            ls_clear(&a.group);
            break;
        }
        switch (a.kind) {
        case ATOM_LIT:
            if (min == 0) {
                run_close(&run, &best, r);
            } else if (!quant) {
                run_add(&run, a.lit, a.len, &best, r);
            } else {
                /* "xa+b": "xa" and "ab" both occur in every match. */
                run_add(&run, a.lit, a.len, &best, r);
                run_close(&run, &best, r);
                run_add(&run, a.lit, a.len, &best, r);
            }
            break;
        case ATOM_ZERO:
            break;           /* consumes nothing: the run goes on */
        case ATOM_GROUP:
            run_close(&run, &best, r);
            if (min == 0)
                ls_set_any(&a.group);
            ls_consider(&best, &a.group);
            break;
        case ATOM_ANY:
            run_close(&run, &best, r);
            break;
        }
    }
    run_close(&run, &best, r);
    *out = best;
}

static void parse_alt(struct rx *r, struct litset *out)
{
    struct litset acc = { .any = false };
    bool first = true;
    for (;;) {
        struct litset seq;
        parse_seq(r, &seq);
        if (first) {
            acc = seq;
            first = false;
        } else {
            ls_union(&acc, &seq);
        }
        if (r->bad || *r->p != '|')
            break;
        r->p++;
    }
    if (r->bad)
        ls_set_any(&acc);
    *out = acc;
}

/* ---- the filter ------------------------------------------------------- */

static uint32_t char_key(const char *s, size_t avail)
{
    size_t k = utf8_seq_len((unsigned char)s[0]);
    uint32_t key = 0;
    for (size_t i = 0; i < 4; i++)
        key = key << 8 | (i < k && i < avail ? (unsigned char)s[i] : 0);
    return key;
}

struct intent_prefilter *intent_prefilter_new(void)
{
    return calloc(1, sizeof(struct intent_prefilter));
}

void intent_prefilter_free(struct intent_prefilter *pf)
{
    if (!pf)
        return;
    for (size_t i = 0; i < pf->n; i++)
        free(pf->e[i].lit);
    free(pf->e);
    free(pf->state);
    free(pf);
}

static int set_state(struct intent_prefilter *pf, size_t intent, enum filter_state st)
{
    if (intent >= pf->nstate) {
        size_t n = intent + 1 > 2 * pf->nstate ? intent + 1 : 2 * pf->nstate;
        unsigned char *a = realloc(pf->state, n);
        if (!a)
            return -1;
        memset(a + pf->nstate, UNSEEN, n - pf->nstate);
        pf->state = a;
        pf->nstate = n;
    }
    if (pf->state[intent] != UNFILTERED)
        pf->state[intent] = (unsigned char)st;
    return 0;
}

/* Inserts `lit` (taken) in key order. */
static int insert(struct intent_prefilter *pf, char *lit, size_t intent)
{
    if (pf->n == pf->cap) {
        size_t cap = pf->cap ? 2 * pf->cap : 64;
        struct entry *a = realloc(pf->e, cap * sizeof(*a));
        if (!a)
            return -1;
        pf->e = a;
        pf->cap = cap;
    }
    size_t len = strlen(lit);
    uint32_t key = char_key(lit, len);
    size_t at = pf->n;
    while (at > 0 && pf->e[at - 1].key > key) {
        pf->e[at] = pf->e[at - 1];
        at--;
    }
    pf->e[at] = (struct entry){ .key = key, .len = len, .lit = lit, .intent = intent };
    pf->n++;
    return 0;
}

void intent_prefilter_add(struct intent_prefilter *pf, size_t intent, const char *re)
{
    if (!pf)
        return;
    struct rx r = { .p = re, .bad = false };
    struct litset ls;
    parse_alt(&r, &ls);
    if (!r.bad && *r.p != '\0')
        r.bad = true;        /* an unbalanced ')' */
    bool usable = !r.bad && !ls.any && ls.n > 0;
    for (size_t i = 0; usable && i < ls.n; i++)
        if (ls.v[i][0] == '\0')
            usable = false;
    if (!usable || set_state(pf, intent, FILTERED) < 0) {
        ls_clear(&ls);
        set_state(pf, intent, UNFILTERED);   /* on OOM too: state then stays UNSEEN */
        return;
    }
    for (size_t i = 0; i < ls.n; i++) {
        if (insert(pf, ls.v[i], intent) < 0) {
            for (size_t k = i; k < ls.n; k++)
                free(ls.v[k]);
            pf->state[intent] = UNFILTERED;
            break;
        }
    }
    free(ls.v);
}

void intent_prefilter_scan(const struct intent_prefilter *pf, const char *text, size_t len,
                           unsigned char *hit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hit[i] = !(pf && i < pf->nstate && pf->state[i] == FILTERED);
    if (!pf || pf->n == 0)
        return;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (utf8_is_cont(c))
            continue;        /* no literal starts inside a character */
        uint32_t key = char_key(text + i, len - i);
        size_t lo = 0, hi = pf->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (pf->e[mid].key < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < pf->n && pf->e[k].key == key; k++) {
            const struct entry *e = &pf->e[k];
            if (e->intent < n && !hit[e->intent] && e->len <= len - i &&
                memcmp(text + i, e->lit, e->len) == 0)
                hit[e->intent] = 1;
        }
    }
}
