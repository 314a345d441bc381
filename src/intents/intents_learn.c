/* Training an intent set's models from intents/train/NAME.tsv, with the
 * settings of intents/model.conf (docs/intents.md, "Learned weights").
 *
 * Each line of a training file is `label<TAB>text`.  Files named cmd.*
 * or deputy.* train the deputies' model, all others the residents' (the
 * same words mean different things from each: "收到" is thanks from a
 * resident and taking the case from a deputy).  A label must suit the
 * file's role (intent_label_for_role).  Training is deterministic: the
 * same files give the same weights. */
#include "intents/intents_internal.h"
#include "intents/intents_cache.h"
#include "intents/intents_model.h"

#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct example_list {
    struct model_example *ex;
    char **text;                /* owned copies, only when kept for evaluation */
    size_t n, cap;
};

static void examples_free(struct example_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        model_example_free(&l->ex[i]);
        if (l->text)
            free(l->text[i]);
    }
    free(l->ex);
    free(l->text);
    memset(l, 0, sizeof(*l));
}

static int examples_grow(struct example_list *l, bool keep_text)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 512;
    struct model_example *a = realloc(l->ex, cap * sizeof(*a));
    if (!a)
        return -1;
    l->ex = a;
    if (keep_text) {
        char **t = realloc(l->text, cap * sizeof(*t));
        if (!t)
            return -1;
        l->text = t;
    }
    l->cap = cap;
    return 0;
}

static size_t label_number(const struct intent_set *s, const char *label)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i], label) == 0)
            return i + 1;
    return 0;
}

/* ---- model.conf --------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int read_settings(struct intent_set *s, const char *dir, struct diag *d)
{
    s->confirm_below = INTENT_DEFAULT_CONFIRM_BELOW;
    s->review_below = INTENT_DEFAULT_REVIEW_BELOW;
    s->chat_below = INTENT_DEFAULT_CHAT_BELOW;
    s->cost = INTENT_DEFAULT_COST;
    s->pattern_value = INTENT_DEFAULT_PATTERN_VALUE;
    char *path = NULL;
    if (asprintf(&path, "%s/model.conf", dir) < 0)
        return 1;
    FILE *f = fopen(path, "r");
    if (!f) {
        int missing = errno == ENOENT;
        if (!missing)
            diag_add(d, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        return missing ? 0 : 1;
    }
    static const struct { const char *key; size_t off; double min, max; } keys[] = {
        { "confirm_below", offsetof(struct intent_set, confirm_below), 0, 1 },
        { "review_below", offsetof(struct intent_set, review_below), 0, 1 },
        { "chat_below", offsetof(struct intent_set, chat_below), 0, 1 },
        { "cost", offsetof(struct intent_set, cost), 1e-3, 1e3 },
        { "pattern_value", offsetof(struct intent_set, pattern_value), 0, 100 },
    };
    int errors = 0, lineno = 0;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *l = trim(line);
        if (!*l)
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            diag_add(d, "%s:%d: expected key = value", path, lineno);
            errors++;
            continue;
        }
        *eq = '\0';
        char *key = trim(l), *val = trim(eq + 1), *end;
        size_t k = 0;
        while (k < sizeof(keys) / sizeof(*keys) && strcmp(keys[k].key, key) != 0)
            k++;
        if (k == sizeof(keys) / sizeof(*keys)) {
            diag_add(d, "%s:%d: unknown key \"%s\"", path, lineno, key);
            errors++;
            continue;
        }
        double v = strtod(val, &end);
        if (end == val || *end || v < keys[k].min || v > keys[k].max) {
            diag_add(d, "%s:%d: %s must be a number from %g to %g", path, lineno, key,
                     keys[k].min, keys[k].max);
            errors++;
            continue;
        }
        *(double *)(void *)((char *)s + keys[k].off) = v;
    }
    fclose(f);
    free(path);
    return errors;
}

/* ---- training files ----------------------------------------------------- */

/* Appends the examples of one file for `role` to `l`.  A line whose label
 * the set does not know is an error (a typo would silently train nothing). */
static int read_file(struct intent_set *s, struct intent_matcher *m, const char *path,
                     enum intent_role role, struct example_list *l, bool keep_text,
                     struct diag *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        diag_add(d, "%s: cannot open: %s", path, strerror(errno));
        return 1;
    }
    int errors = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *label = line;
        if (lineno == 1 && strncmp(label, "\xEF\xBB\xBF", 3) == 0)
            label += 3;
        if (!*label || *label == '#')
            continue;
        char *tab = strchr(label, '\t');
        if (!tab || !tab[1]) {
            diag_add(d, "%s:%d: expected label<TAB>text", path, lineno);
            errors++;
            continue;
        }
        *tab = '\0';
        const char *text = tab + 1;
        size_t label_no = label_number(s, label);
        if (!label_no) {
            diag_add(d, "%s:%d: unknown label \"%s\" (no intent has it)", path, lineno, label);
            errors++;
            continue;
        }
        if (!intent_label_for_role(label, role)) {
            diag_add(d, "%s:%d: label %s is not for the %s model (files named cmd.* or deputy.* "
                        "train deputies, the others residents)", path, lineno, label,
                     role == ROLE_DEPUTY ? "deputies'" : "residents'");
            errors++;
            continue;
        }
        struct model_features *feat;
        if (intents_evidence(s, m, text, strlen(text), role, &feat) < 0) {
            diag_add(d, "%s:%d: text is not valid UTF-8", path, lineno);
            errors++;
            continue;
        }
        if (examples_grow(l, keep_text) < 0 ||
            model_example_set(&l->ex[l->n], (int)label_no, feat) < 0) {
            diag_add(d, "%s: out of memory", path);
            errors++;
            break;
        }
        if (keep_text && !(l->text[l->n] = strdup(text))) {
            model_example_free(&l->ex[l->n]);
            diag_add(d, "%s: out of memory", path);
            errors++;
            break;
        }
        l->n++;
    }
    free(line);
    fclose(f);
    return errors;
}

static enum intent_role file_role(const char *name)
{
    return strncmp(name, "cmd.", 4) == 0 || strncmp(name, "deputy.", 7) == 0 ? ROLE_DEPUTY
                                                                            : ROLE_RESIDENT;
}

/* Reads every train/NAME.tsv of `dir` in name order for `role`.  A missing
 * train/ folder is no error: the set then has no model. */
static int read_examples(struct intent_set *s, const char *dir, enum intent_role role,
                         struct example_list *l, bool keep_text, struct diag *d)
{
    char *tdir = NULL;
    if (asprintf(&tdir, "%s/train", dir) < 0)
        return 1;
    char **names;
    size_t n;
    if (intents_list_dir(tdir, ".tsv", &names, &n) < 0) {
        int missing = errno == ENOENT;
        if (!missing)
            diag_add(d, "%s: cannot open: %s", tdir, strerror(errno));
        free(tdir);
        return missing ? 0 : 1;
    }
    int errors = 0;
    struct intent_matcher *m = intent_matcher_new();
    if (!m)
        errors++;
    for (size_t i = 0; i < n && m; i++) {
        if (file_role(names[i]) != role)
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", tdir, names[i]) < 0) {
            errors++;
            break;
        }
        errors += read_file(s, m, path, role, l, keep_text, d);
        free(path);
    }
    intent_matcher_free(m);
    intents_free_names(names, n);
    free(tdir);
    return errors;
}

/* Every non-rule intent a role can reach must have examples: the model
 * can only choose labels it was trained on. */
static int check_coverage(const struct intent_set *s, const struct example_list *l,
                          enum intent_role role, struct diag *d)
{
    int errors = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct intent *it = &s->intents[i];
        if (it->rule || !intent_label_for_role(it->label, role))
            continue;
        bool seen = false;
        for (size_t k = 0; k < l->n && !seen; k++)
            seen = (size_t)l->ex[k].cls == it->label_no;
        if (!seen) {
            diag_add(d, "%s:%d: [%s] has label %s, which no line of train/ teaches; add "
                        "examples or mark the block rule = yes", it->file, it->line, it->name,
                     it->label);
            errors++;
        }
    }
    return errors;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static const char *role_name(enum intent_role role)
{
    return role == ROLE_DEPUTY ? "deputy" : "resident";
}

/* Trains (or takes from the cache) the model of one role. */
static int learn_role(struct intent_set *s, const char *dir, enum intent_role role,
                      const char *cache_dir, const char *key, struct diag *d)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (key) {
        s->model[role] = intents_cache_load(cache_dir, key, role_name(role), s->npatterns);
        if (s->model[role]) {
            s->ntrain[role] = model_examples(s->model[role]);
            log_info("intents_model", "role=%s examples=%zu classes=%zu ngrams=%zu bytes=%zu "
                     "cached=yes ms=%.0f", role_name(role), s->ntrain[role],
                     model_classes(s->model[role]), model_vocabulary(s->model[role]),
                     model_bytes(s->model[role]), elapsed_ms(&t0));
            return 0;
        }
    }
    struct example_list l = { 0 };
    int errors = read_examples(s, dir, role, &l, false, d);
    if (!errors && l.n > 0)
        errors += check_coverage(s, &l, role, d);
    double read_ms = elapsed_ms(&t0);
    if (!errors && l.n > 0) {
        char err[256];
        struct model_params params = { .cost = s->cost, .pattern_value = s->pattern_value };
        s->model[role] = model_train(l.ex, l.n, NULL, s->npatterns, &params, err, sizeof(err));
        if (!s->model[role]) {
            diag_add(d, "%s/train: %s model: %s", dir, role_name(role), err);
            errors++;
        } else {
            s->ntrain[role] = l.n;
            if (key && intents_cache_save(cache_dir, key, role_name(role), s->model[role]) < 0)
                log_warn("intents_cache", "dir=\"%s\" problem=\"cannot write\"", cache_dir);
            log_info("intents_model", "role=%s examples=%zu classes=%zu ngrams=%zu patterns=%u "
                     "bytes=%zu read_ms=%.0f train_ms=%.0f", role_name(role), l.n,
                     model_classes(s->model[role]), model_vocabulary(s->model[role]),
                     (unsigned)s->npatterns, model_bytes(s->model[role]), read_ms,
                     elapsed_ms(&t0) - read_ms);
        }
    }
    examples_free(&l);
    return errors;
}

int intents_learn(struct intent_set *s, const char *dir, const char *cache_dir, struct diag *d)
{
    int errors = read_settings(s, dir, d);
    if (errors)
        return errors;
    char key[65];
    bool cached = cache_dir && *cache_dir && intents_cache_key(dir, key) == 0;
    for (int role = ROLE_RESIDENT; role <= ROLE_DEPUTY; role++)
        errors += learn_role(s, dir, (enum intent_role)role, cache_dir, cached ? key : NULL, d);
    return errors;
}

/* ---- cross-validation --------------------------------------------------- */

/* A fixed-seed Fisher-Yates shuffle (xorshift), so folds never depend on
 * rand() or the platform. */
static void shuffle(size_t *idx, size_t n)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

int intent_set_cross_validate(struct intent_set *s, const char *dir, enum intent_role role,
                              int folds, intent_cv_fn fn, void *arg, struct diag *d)
{
    struct example_list l = { 0 };
    int errors = read_examples(s, dir, role, &l, true, d);
    if (errors || l.n < (size_t)folds || folds < 2) {
        if (!errors)
            diag_add(d, "%s/train: too few %s examples for %d folds", dir, role_name(role), folds);
        examples_free(&l);
        return -1;
    }
    size_t *idx = malloc(l.n * sizeof(*idx));
    int *fold = malloc(l.n * sizeof(*fold));
    bool *use = malloc(l.n * sizeof(*use));
    struct intent_matcher *m = intent_matcher_new();
    int rc = idx && fold && use && m ? 0 : -1;
    if (rc == 0) {
        for (size_t i = 0; i < l.n; i++)
            idx[i] = i;
        shuffle(idx, l.n);
        for (size_t i = 0; i < l.n; i++)
            fold[idx[i]] = (int)(i % (size_t)folds);
    }
    struct model_params params = { .cost = s->cost, .pattern_value = s->pattern_value };
    struct intent_model *kept = s->model[role];
    for (int k = 0; rc == 0 && k < folds; k++) {
        for (size_t i = 0; i < l.n; i++)
            use[i] = fold[i] != k;
        char err[256];
        struct intent_model *fm = model_train(l.ex, l.n, use, s->npatterns, &params, err,
                                              sizeof(err));
        if (!fm) {
            diag_add(d, "%s/train: fold %d: %s", dir, k + 1, err);
            rc = -1;
            break;
        }
        s->model[role] = fm;
        for (size_t i = 0; i < l.n; i++) {
            if (use[i])
                continue;
            struct intent_result r;
            if (intent_match(s, m, l.text[i], strlen(l.text[i]), role, &r) == 0)
                fn(s->labels[l.ex[i].cls - 1], r.label, &r, l.text[i], arg);
        }
        s->model[role] = kept;
        model_free(fm);
    }
    intent_matcher_free(m);
    free(idx);
    free(fold);
    free(use);
    examples_free(&l);
    return rc;
}

void intent_set_model_info(const struct intent_set *s, enum intent_role role,
                           struct intent_model_info *out)
{
    const struct intent_model *m = s->model[role];
    out->examples = s->ntrain[role];
    out->classes = model_classes(m);
    out->ngrams = model_vocabulary(m);
    out->bytes = model_bytes(m);
}

double intent_set_confirm_below(const struct intent_set *s)
{
    return s->confirm_below;
}

int intent_training_each(const char *dir, intent_example_fn fn, void *arg)
{
    char tdir[4096];
    snprintf(tdir, sizeof(tdir), "%s/train", dir);
    char **names;
    size_t n;
    if (intents_list_dir(tdir, ".tsv", &names, &n) < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", tdir, names[i]);
        FILE *f = fopen(path, "r");
        if (!f) {
            rc = -1;
            break;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            char *tab = strchr(line, '\t');
            if (line[0] == '#' || !tab)
                continue;
            *tab = '\0';
            fn(line, tab + 1, arg);
        }
        free(line);
        fclose(f);
    }
    intents_free_names(names, n);
    return rc;
}
