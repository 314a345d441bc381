/* `mashangctl intents ...`: test, check, eval and bench an intents
 * directory offline (contract §1).  Output formats are relied on by
 * scripts; change them only compatibly. */
#include "cli/ctl.h"
#include "cli/ctl_admin.h"
#include "base/diag.h"
#include "intents/intents.h"
#include "intents/intents_json.h"

#include "cli/ctl_corpus.h"
#include "cli/ctl_intents_eval.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_DIR "intents"

struct opts {
    const char *dir;
    const char *cache;     /* --cache DIR: keep/read trained models there */
    enum intent_role role;
    bool json;
    bool explain;
    const char *arg;       /* the one positional argument, if any */
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    o->dir = DEFAULT_DIR;
    o->cache = NULL;
    o->role = ROLE_RESIDENT;
    o->json = false;
    o->explain = false;
    o->arg = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
            o->dir = argv[++i];
        } else if (strcmp(a, "--cache") == 0 && i + 1 < argc) {
            o->cache = argv[++i];
        } else if (strcmp(a, "--as") == 0 && i + 1 < argc) {
            const char *r = argv[++i];
            if (strcmp(r, "resident") == 0)
                o->role = ROLE_RESIDENT;
            else if (strcmp(r, "deputy") == 0)
                o->role = ROLE_DEPUTY;
            else {
                fprintf(stderr, "mashangctl: --as takes resident or deputy, not \"%s\"\n", r);
                return -1;
            }
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--explain") == 0) {
            o->explain = true;
        } else if (a[0] == '-' && a[1] == '-' && !o->arg) {
            fprintf(stderr, "mashangctl: unknown option %s\n", a);
            return -1;
        } else if (!o->arg) {
            o->arg = a;
        } else {
            fprintf(stderr, "mashangctl: unexpected argument \"%s\"\n", a);
            return -1;
        }
    }
    return 0;
}

/* Loads the set and a matcher; prints problems.  Returns 0 or -1. */
static int open_set(const char *dir, const char *cache, struct intent_set **s,
                    struct intent_matcher **m)
{
    struct diag d;
    diag_init(&d);
    *s = intent_set_load_cached(dir, cache, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    if (!*s)
        return -1;
    *m = intent_matcher_new();
    if (!*m) {
        fprintf(stderr, "mashangctl: cannot create a matcher (OpenCC data missing?)\n");
        intent_set_free(*s);
        return -1;
    }
    return 0;
}

/* ---- test ------------------------------------------------------------- */

static void print_json(const char *text, size_t len, const char *norm,
                       const struct intent_result *r, bool ok, double us)
{
    json_t *o = intent_result_json(text, len, ok ? norm : NULL, ok ? r : NULL, us);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

static void print_human(const char *norm, const struct intent_result *r, bool ok, double us)
{
    if (!ok) {
        printf("error:      invalid UTF-8\n\n");
        return;
    }
    printf("normalized: %s\n", norm);
    if (r->kind == INTENT_NONE)
        printf("intent:     (none) -> fallback label %s\n", r->label);
    else
        printf("intent:     %s  kind=%s  label=%s  priority=%d%s%s\n", r->intent,
               intent_kind_name(r->kind), r->label, r->priority, r->title ? "  title=" : "",
               r->title ? r->title : "");
    if (r->kind != INTENT_NONE)
        printf("decided by: %s, confidence %.2f%s%s\n", r->by_rule ? "rule" : r->nalts ? "model" : "patterns",
               r->confidence, r->certain ? "" : " (unsure: a deputy is asked first)",
               r->review ? " (flagged for review)" : "");
    for (size_t i = 0; i < r->nslots; i++)
        printf("slot:       %s = %s\n", r->slots[i].name, r->slots[i].value);
    for (const char *const *n = r->needs; n && *n; n++)
        printf("needs:      %s%s\n", *n, intent_slot(r, *n) ? "" : " (missing)");
    for (size_t i = 1; i < r->ncandidates; i++) {
        const struct intent_candidate *c = &r->candidates[i];
        printf("also:       %s (%s) priority=%d span=%zu-%zu\n", c->intent, c->label,
               c->priority, c->start, c->end);
    }
    printf("time:       %.1f us\n\n", us);
}

static void print_explain(const struct intent_set *s, struct intent_matcher *m,
                          const struct opts *o, const char *text, size_t len,
                          const struct intent_result *r)
{
    struct intent_explanation e;
    if (intent_explain(s, m, text, len, o->role, r, &e) < 0)
        return;
    if (r->by_rule)
        printf("rule:       [%s] decided; the model was not asked\n", r->intent);
    for (size_t i = 0; i < r->nalts; i++)
        printf("top %zu:      %-16s %.3f\n", i + 1, r->alts[i].label, r->alts[i].p);
    for (size_t i = 0; i < e.npatterns; i++)
        printf("pattern:    %s  %+.2f toward %s\n", e.patterns[i].what, e.patterns[i].weight,
               r->label);
    if (e.npatterns == 0)
        printf("pattern:    (none matched)\n");
    for (size_t i = 0; i < e.ngrams; i++)
        printf("n-gram:     \"%s\"  %+.2f\n", e.grams[i].what, e.grams[i].weight);
    printf("\n");
}

static void test_one(const struct intent_set *s, struct intent_matcher *m, const struct opts *o,
                     const char *text, size_t len)
{
    struct intent_result r;
    double t0 = now_us();
    bool ok = intent_match(s, m, text, len, o->role, &r) == 0;
    double us = now_us() - t0;
    if (o->json)
        print_json(text, len, intent_matcher_normalized(m), &r, ok, us);
    else
        print_human(intent_matcher_normalized(m), &r, ok, us);
    if (o->explain && ok && !o->json)
        print_explain(s, m, o, text, len, &r);
}


static int cmd_test(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    struct intent_set *s;
    struct intent_matcher *m;
    if (open_set(o.dir, o.cache, &s, &m) < 0)
        return 1;
    if (o.arg) {
        test_one(s, m, &o, o.arg, strlen(o.arg));
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            ctl_chomp(line, &len);
            test_one(s, m, &o, line, (size_t)len);
            fflush(stdout);
        }
        free(line);
    }
    intent_matcher_free(m);
    intent_set_free(s);
    return 0;
}

/* ---- check ------------------------------------------------------------ */

static int cmd_check(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    const char *dir = o.arg ? o.arg : o.dir;
    struct intent_set *s;
    struct intent_matcher *m;
    if (open_set(dir, o.cache, &s, &m) < 0)
        return 1;
    struct diag d;
    diag_init(&d);
    int failures = intent_set_check(s, m, &d);
    diag_print(&d, stdout);
    diag_free(&d);
    size_t nex, nco;
    intent_set_counts(s, &nex, &nco);
    printf("intents check: %s: %zu intents, %zu examples, %zu counters, %d failure%s\n", dir,
           intent_set_size(s), nex, nco, failures, failures == 1 ? "" : "s");
    intent_matcher_free(m);
    intent_set_free(s);
    return failures ? 1 : 0;
}

static bool is_command_label(const char *label)
{
    return strncmp(label, "cmd.", 4) == 0;
}

/* ---- bench ------------------------------------------------------------ */

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    if (!o.arg) {
        fprintf(stderr, "usage: mashangctl intents bench FILE.tsv [--dir DIR]\n");
        return 2;
    }
    struct corpus c;
    if (corpus_load(o.arg, &c) < 0)
        return 1;
    if (c.n == 0) {
        fprintf(stderr, "%s: no lines\n", o.arg);
        corpus_free(&c);
        return 1;
    }
    struct intent_set *s;
    struct intent_matcher *m;
    if (open_set(o.dir, o.cache, &s, &m) < 0) {
        corpus_free(&c);
        return 1;
    }
    /* Enough rounds for a stable p99 without taking all day. */
    size_t rounds = 200000 / c.n;
    if (rounds < 20)
        rounds = 20;
    double *us = malloc(rounds * c.n * sizeof(*us));
    if (!us) {
        fprintf(stderr, "mashangctl: out of memory\n");
        intent_matcher_free(m);
        intent_set_free(s);
        corpus_free(&c);
        return 1;
    }
    struct intent_result r;
    for (size_t i = 0; i < c.n; i++) /* warm-up: caches, OpenCC dictionaries */
        intent_match(s, m, c.v[i].text, strlen(c.v[i].text), ROLE_RESIDENT, &r);
    size_t k = 0;
    double t_start = now_us();
    for (size_t round = 0; round < rounds; round++) {
        for (size_t i = 0; i < c.n; i++) {
            enum intent_role role = is_command_label(c.v[i].label) ? ROLE_DEPUTY : ROLE_RESIDENT;
            double t0 = now_us();
            intent_match(s, m, c.v[i].text, strlen(c.v[i].text), role, &r);
            us[k++] = now_us() - t0;
        }
    }
    double total = now_us() - t_start;
    qsort(us, k, sizeof(*us), double_cmp);
    printf("intents bench: %s: %zu messages x %zu rounds, %zu intents\n", o.arg, c.n, rounds,
           intent_set_size(s));
    struct intent_model_info res, dep;
    intent_set_model_info(s, ROLE_RESIDENT, &res);
    intent_set_model_info(s, ROLE_DEPUTY, &dep);
    printf("models: residents %.1f MB (%zu labels), deputies %.1f MB (%zu labels)\n",
           (double)res.bytes / 1048576.0, res.classes, (double)dep.bytes / 1048576.0,
           dep.classes);
    printf("median %.1f us, p99 %.1f us, max %.1f us, %.0f messages/s\n", us[k / 2],
           us[(size_t)((double)k * 0.99)], us[k - 1], (double)k / (total / 1e6));
    free(us);
    intent_matcher_free(m);
    intent_set_free(s);
    corpus_free(&c);
    return 0;
}

/* ---- corrections, review: the teach loop, through the daemon's admin
 * API (src/cli/ctl_admin.c), unlike the offline subcommands above. */

static int cmd_corrections(int argc, char **argv)
{
    return ctl_admin_intents("corrections", argc, argv);
}

static int cmd_review(int argc, char **argv)
{
    return ctl_admin_intents("review", argc, argv);
}

int ctl_intents_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } sub[] = {
        { "test", cmd_test }, { "check", cmd_check }, { "eval", ctl_intents_eval },
        { "bench", cmd_bench }, { "corrections", cmd_corrections }, { "review", cmd_review },
    };
    if (argc >= 2)
        for (size_t i = 0; i < sizeof(sub) / sizeof(*sub); i++)
            if (strcmp(argv[1], sub[i].name) == 0)
                return sub[i].run(argc - 2, argv + 2);
    fprintf(stderr, "usage: mashangctl intents test [--dir DIR] [--as resident|deputy] [--json] [--explain] "
                    "[\"text\"]\n"
                    "       mashangctl intents check [DIR] [--cache DIR]\n"
                    "       mashangctl intents eval [DEV.tsv] [--dir DIR] [--folds K] "
                    "[--min-resident PCT] [--min-deputy PCT] [--misses]\n"
                    "       mashangctl intents bench FILE.tsv [--dir DIR]\n"
                    "       mashangctl intents corrections [--label CATEGORY] [--from T] [--limit N] [--json]\n"
                    "       mashangctl intents review [--limit N] [--json]\n");
    return 2;
}
