/* `mashangctl intents eval`: how well the set understands, measured
 * honestly — on a labelled corpus the set never trained on (dev), and by
 * k-fold cross-validation on its own training files — for the residents'
 * and the deputies' models separately.  Prints per-label precision,
 * recall and F1, the worst confusions and how sure the set was; with
 * --min-resident / --min-deputy it fails (exit 1) below a floor. */
#include "cli/ctl_intents_eval.h"
#include "cli/ctl_corpus.h"

#include "base/diag.h"
#include "intents/intents.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct label_stats {
    char *label;               /* owned */
    int tp, fp, fn, support;
};

struct confusion {
    char *gold, *pred;         /* owned */
    int count;
};

/* What one evaluation saw. */
struct tally {
    struct label_stats *ls;
    size_t nls, lscap;
    struct confusion *cf;
    size_t ncf, cfcap;
    int total, right;
    int certain, certain_right;    /* acted on without asking (deputies) */
    int review, review_right;      /* flagged for review (residents' concerns) */
    double *conf;                  /* per decision: confidence (rules: 1) */
    bool *ok;                      /* per decision: right */
    size_t nconf, confcap;
    bool oom;
};

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->nls; i++)
        free(t->ls[i].label);
    for (size_t i = 0; i < t->ncf; i++) {
        free(t->cf[i].gold);
        free(t->cf[i].pred);
    }
    free(t->ls);
    free(t->cf);
    free(t->conf);
    free(t->ok);
    memset(t, 0, sizeof(*t));
}

static struct label_stats *stats_for(struct tally *t, const char *label)
{
    for (size_t i = 0; i < t->nls; i++)
        if (strcmp(t->ls[i].label, label) == 0)
            return &t->ls[i];
    if (t->nls == t->lscap) {
        size_t cap = t->lscap ? t->lscap * 2 : 32;
        struct label_stats *a = realloc(t->ls, cap * sizeof(*a));
        if (!a)
            return NULL;
        t->ls = a;
        t->lscap = cap;
    }
    struct label_stats *l = &t->ls[t->nls];
    *l = (struct label_stats){ .label = strdup(label) };
    if (!l->label)
        return NULL;
    t->nls++;
    return l;
}

static int confuse(struct tally *t, const char *gold, const char *pred)
{
    for (size_t i = 0; i < t->ncf; i++)
        if (strcmp(t->cf[i].gold, gold) == 0 && strcmp(t->cf[i].pred, pred) == 0) {
            t->cf[i].count++;
            return 0;
        }
    if (t->ncf == t->cfcap) {
        size_t cap = t->cfcap ? t->cfcap * 2 : 32;
        struct confusion *a = realloc(t->cf, cap * sizeof(*a));
        if (!a)
            return -1;
        t->cf = a;
        t->cfcap = cap;
    }
    struct confusion *c = &t->cf[t->ncf];
    c->gold = strdup(gold);
    c->pred = strdup(pred);
    c->count = 1;
    if (!c->gold || !c->pred) {
        free(c->gold);
        free(c->pred);
        return -1;
    }
    t->ncf++;
    return 0;
}

static void tally_add(struct tally *t, const char *gold, const struct intent_result *r)
{
    const char *pred = r ? r->label : "(invalid-utf8)";
    bool ok = strcmp(gold, pred) == 0;
    t->total++;
    t->right += ok;
    if (r && r->certain) {
        t->certain++;
        t->certain_right += ok;
    }
    if (r && r->review) {
        t->review++;
        t->review_right += ok;
    }
    if (t->nconf == t->confcap) {
        size_t cap = t->confcap ? t->confcap * 2 : 256;
        double *c = realloc(t->conf, cap * sizeof(*c));
        bool *o = c ? realloc(t->ok, cap * sizeof(*o)) : NULL;
        if (c)
            t->conf = c;
        if (o)
            t->ok = o;
        if (!c || !o) {
            t->oom = true;
            return;
        }
        t->confcap = cap;
    }
    t->conf[t->nconf] = r ? r->confidence : 0;
    t->ok[t->nconf++] = ok;
    struct label_stats *g = stats_for(t, gold);
    struct label_stats *p = stats_for(t, pred);
    if (!g || !p) {
        t->oom = true;
        return;
    }
    g->support++;
    if (ok) {
        g->tp++;
        return;
    }
    g->fn++;
    p->fp++;
    if (confuse(t, gold, pred) < 0)
        t->oom = true;
}

static double pct(int a, int b)
{
    return b ? 100.0 * a / b : 0.0;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct label_stats *)a)->label, ((const struct label_stats *)b)->label);
}

static int confusion_cmp(const void *a, const void *b)
{
    const struct confusion *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    int c = strcmp(x->gold, y->gold);
    return c ? c : strcmp(x->pred, y->pred);
}

static void tally_print(struct tally *t, const char *title, enum intent_role role)
{
    printf("\n== %s\n", title);
    printf("accuracy: %d/%d = %.1f%%\n", t->right, t->total, pct(t->right, t->total));
    if (role == ROLE_DEPUTY)
        printf("acted on without asking: %d/%d, of which right %.1f%%; asked first: %d\n",
               t->certain, t->total, pct(t->certain_right, t->certain), t->total - t->certain);
    else
        printf("flagged for review: %d/%d, of which right %.1f%%; unflagged right %.1f%%\n",
               t->review, t->total, pct(t->review_right, t->review),
               pct(t->right - t->review_right, t->total - t->review));
    /* What a threshold would do: how many decisions reach it, and how
     * many of those are right (the basis for confirm_below and
     * review_below in model.conf). */
    printf("threshold   at or above   right there   below   right there\n");
    for (int k = 3; k <= 9; k++) {
        double th = k / 10.0;
        int above = 0, above_ok = 0, below = 0, below_ok = 0;
        for (size_t i = 0; i < t->nconf; i++) {
            if (t->conf[i] >= th) {
                above++;
                above_ok += t->ok[i];
            } else {
                below++;
                below_ok += t->ok[i];
            }
        }
        printf("  %.1f       %5.1f%%        %5.1f%%      %5.1f%%  %5.1f%%\n", th,
               pct(above, t->total), pct(above_ok, above), pct(below, t->total),
               pct(below_ok, below));
    }
    qsort(t->ls, t->nls, sizeof(*t->ls), label_cmp);
    printf("%-16s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (size_t i = 0; i < t->nls; i++) {
        const struct label_stats *l = &t->ls[i];
        if (l->support == 0 && l->fp == 0)
            continue;
        double p = pct(l->tp, l->tp + l->fp), r = pct(l->tp, l->tp + l->fn);
        double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        printf("%-16s %8.1f%% %8.1f%% %8.1f%% %8d\n", l->label, p, r, f1, l->support);
    }
    qsort(t->cf, t->ncf, sizeof(*t->cf), confusion_cmp);
    printf("top confusions (gold -> predicted):\n");
    for (size_t i = 0; i < t->ncf && i < 10; i++)
        printf("  %3d  %s -> %s\n", t->cf[i].count, t->cf[i].gold, t->cf[i].pred);
    if (t->ncf == 0)
        printf("  (none)\n");
}

/* ---- training texts (a dev line must never be one) ---------------------- */



struct texts {
    char **v;
    size_t n, cap;
    bool oom;
};

static void texts_free(struct texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_example(const char *label, const char *text, void *arg)
{
    (void)label;
    struct texts *t = arg;
    if (t->oom)
        return;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        char **a = realloc(t->v, nc * sizeof(*a));
        if (!a) {
            t->oom = true;
            return;
        }
        t->v = a;
        t->cap = nc;
    }
    if (!(t->v[t->n] = strdup(text)))
        t->oom = true;
    else
        t->n++;
}

/* Reads the text of every training example of `dir`, sorted. */
static int texts_load(const char *dir, struct texts *t)
{
    if (intent_training_each(dir, on_example, t) < 0 || t->oom)
        return -1;
    if (t->n)
        qsort(t->v, t->n, sizeof(*t->v), str_cmp);
    return 0;
}

static bool texts_has(const struct texts *t, const char *text)
{
    return t->n && bsearch(&text, t->v, t->n, sizeof(*t->v), str_cmp) != NULL;
}

/* ---- dev corpus --------------------------------------------------------- */


/* Classifies every `label<TAB>text` line of `path`: cmd.* lines as sent by
 * a deputy, the others by a resident.  Misclassified lines are printed
 * when `show` is set. */
static int eval_dev(const struct intent_set *s, struct intent_matcher *m, const char *path,
                    const struct texts *train, int *leaked, struct tally *t, bool show)
{
    struct corpus c;
    if (corpus_load(path, &c) < 0)
        return -1;
    for (size_t i = 0; i < c.n; i++) {
        const char *gold = c.v[i].label, *text = c.v[i].text;
        if (texts_has(train, text)) {
            printf("  %s:%d: also a training line: %s\n", path, c.v[i].line, text);
            ++*leaked;
        }
        enum intent_role role = strncmp(gold, "cmd.", 4) == 0 ? ROLE_DEPUTY : ROLE_RESIDENT;
        struct intent_result r;
        bool ok = intent_match(s, m, text, strlen(text), role, &r) == 0;
        tally_add(&t[role], gold, ok ? &r : NULL);
        if (show && (!ok || strcmp(gold, r.label) != 0))
            printf("  %s:%d: %s -> %s (%.2f%s) %s\n", path, c.v[i].line, gold,
                   ok ? r.label : "(invalid-utf8)", ok ? r.confidence : 0.0,
                   ok && r.by_rule ? ", rule" : "", text);
    }
    corpus_free(&c);
    return 0;
}

/* ---- cross-validation --------------------------------------------------- */

struct fold_arg {
    struct tally *t;
    bool show;
};

static void on_fold(const char *gold, const char *pred, const struct intent_result *r,
                    const char *text, void *arg)
{
    struct fold_arg *fa = arg;
    tally_add(fa->t, gold, r);
    if (fa->show && strcmp(gold, pred) != 0)
        printf("  cv: %s -> %s (%.2f) %s\n", gold, pred, r->confidence, text);
}

/* ---- the command -------------------------------------------------------- */

struct eval_opts {
    const char *dir, *dev;
    int folds;
    double min[2];             /* by role; < 0: no floor */
    bool misses;
};

static int parse(int argc, char **argv, struct eval_opts *o)
{
    *o = (struct eval_opts){ .dir = "intents", .folds = 5, .min = { -1, -1 } };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--dir") == 0 && more)
            o->dir = argv[++i];
        else if (strcmp(a, "--folds") == 0 && more)
            o->folds = atoi(argv[++i]);
        else if (strcmp(a, "--min-resident") == 0 && more)
            o->min[ROLE_RESIDENT] = atof(argv[++i]);
        else if (strcmp(a, "--min-deputy") == 0 && more)
            o->min[ROLE_DEPUTY] = atof(argv[++i]);
        else if (strcmp(a, "--misses") == 0)
            o->misses = true;
        else if (a[0] != '-' && !o->dev)
            o->dev = a;
        else {
            fprintf(stderr, "mashangctl: unexpected argument \"%s\"\n", a);
            return -1;
        }
    }
    if (o->folds != 0 && (o->folds < 2 || o->folds > 20)) {
        fprintf(stderr, "mashangctl: --folds takes 2 to 20, or 0 for none\n");
        return -1;
    }
    return 0;
}

int ctl_intents_eval(int argc, char **argv)
{
    struct eval_opts o;
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: mashangctl intents eval [DEV.tsv] [--dir DIR] [--folds K] "
                        "[--min-resident PCT] [--min-deputy PCT] [--misses]\n");
        return 2;
    }
    struct diag d;
    diag_init(&d);
    struct intent_set *s = intent_set_load(o.dir, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    struct intent_matcher *m = s ? intent_matcher_new() : NULL;
    if (!s || !m) {
        intent_set_free(s);
        return 1;
    }
    static const char *const who[] = { "residents", "deputies" };
    printf("intents eval: %s\n", o.dir);
    for (int role = 0; role < 2; role++) {
        struct intent_model_info mi;
        intent_set_model_info(s, (enum intent_role)role, &mi);
        printf("%s' model: %zu examples, %zu labels, %zu n-grams, %.1f MB\n", who[role],
               mi.examples, mi.classes, mi.ngrams, (double)mi.bytes / 1048576.0);
    }
    struct tally dev[2] = { 0 }, cv[2] = { 0 };
    struct texts train = { 0 };
    int rc = 0, leaked = 0;
    if (o.dev) {
        if (texts_load(o.dir, &train) < 0)
            rc = 1;
        if (o.misses)
            printf("\nmisclassified in %s (gold -> predicted (confidence)):\n", o.dev);
        if (rc == 0 && eval_dev(s, m, o.dev, &train, &leaked, dev, o.misses) < 0)
            rc = 1;
        if (leaked) {
            printf("FAIL: %d line%s of %s also in %s/train: the evaluation would not be "
                   "honest\n", leaked, leaked == 1 ? "" : "s", o.dev, o.dir);
            rc = 1;
        }
        for (int role = 0; role < 2 && rc == 0; role++) {
            char title[512];
            snprintf(title, sizeof(title), "%s: %s", who[role], o.dev);
            tally_print(&dev[role], title, (enum intent_role)role);
        }
    }
    for (int role = 0; role < 2 && rc == 0 && o.folds; role++) {
        struct intent_model_info mi;
        intent_set_model_info(s, (enum intent_role)role, &mi);
        if (!mi.examples)
            continue;
        diag_init(&d);
        struct fold_arg fa = { .t = &cv[role], .show = o.misses };
        if (intent_set_cross_validate(s, o.dir, (enum intent_role)role, o.folds, on_fold, &fa,
                                      &d) < 0) {
            diag_print(&d, stderr);
            rc = 1;
        } else {
            char title[512];
            snprintf(title, sizeof(title), "%s: %d-fold cross-validation on %s/train", who[role],
                     o.folds, o.dir);
            tally_print(&cv[role], title, (enum intent_role)role);
        }
        diag_free(&d);
    }
    printf("\nsummary:\n");
    for (int role = 0; role < 2; role++) {
        printf("  %-10s corpus %5.1f%% (%d lines)   cross-validated %5.1f%% (%d lines)\n", who[role],
               pct(dev[role].right, dev[role].total), dev[role].total,
               pct(cv[role].right, cv[role].total), cv[role].total);
        if (o.min[role] >= 0 && o.dev && pct(dev[role].right, dev[role].total) < o.min[role]) {
            printf("  FAIL: %s accuracy on %s below the floor of %.1f%%\n", who[role], o.dev,
                   o.min[role]);
            rc = 1;
        }
    }
    int all = dev[0].total + dev[1].total;
    if (all)
        printf("  overall    corpus %5.1f%% (%d lines)\n",
               pct(dev[0].right + dev[1].right, all), all);
    for (int role = 0; role < 2; role++) {
        if (dev[role].oom || cv[role].oom)
            rc = 1;
        tally_free(&dev[role]);
        tally_free(&cv[role]);
    }
    texts_free(&train);
    intent_matcher_free(m);
    intent_set_free(s);
    return rc;
}
