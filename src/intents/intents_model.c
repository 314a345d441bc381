/* Learned weights: character n-gram and pattern features, LIBLINEAR
 * logistic regression (see intents_model.h and docs/intents.md).
 *
 * N-grams are identified by a 64-bit hash of their code points; the
 * vocabulary maps the hashes seen in training to feature numbers, so the
 * weight matrix is as wide as what training saw, not a hash space. */
#include "intents/intents_model.h"

#include "base/utf8.h"

#include <linear.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Placeholders of the folded text: below every real character. */
enum { CP_BEGIN = 1, CP_END = 2, CP_CASE = 3, CP_DEPUTY = 4, CP_DIGIT = 5 };
#define MAX_GRAM 3
/* A run of characters seen in fewer training examples than this cannot
 * generalise; dropping it keeps the model small and quick to train. */
#define MIN_DOCS 3
/* LIBLINEAR's stopping tolerance: looser than its default 0.01, which
 * costs training time without changing a cross-validated decision. */
#define TRAIN_EPS 0.1

struct intent_model {
    double *w;                  /* owned: (nfeat + 1) rows of nclass weights, the last row
                                 * the bias; feature-major so one feature's row is one line */
    int *cls;                   /* owned: class of each column, ascending */
    int nclass;
    int nfeat;                  /* n-grams + patterns */
    uint64_t *keys;             /* owned vocabulary: open addressing, 0 = empty */
    uint32_t *vals;             /* feature number (1-based) of keys[i] */
    size_t mask;
    size_t nvocab;
    size_t npatterns;
    double pattern_value;       /* as trained; predictions use the same */
    size_t nexamples;           /* trained on */
};

#define STR_(x) #x
#define STR(x) STR_(x)
const char *model_recipe(void)
{
    return "ngrams 1-" STR(MAX_GRAM) " min_docs " STR(MIN_DOCS) " eps " STR(TRAIN_EPS)
           " l2r_lr ovr";
}

size_t model_examples(const struct intent_model *m)
{
    return m ? m->nexamples : 0;
}

/* ---- folding and n-grams ------------------------------------------------ */

static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool is_alnum(uint32_t c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }

static size_t digits_at(const uint32_t *cp, size_t i, size_t n)
{
    size_t k = i;
    while (k < n && is_digit(cp[k]))
        k++;
    return k - i;
}

/* Decodes `text` into f->cp with the placeholders: a case id (m1024,
 * 1024: three or more digits) becomes one CP_CASE, a deputy id (d0007)
 * one CP_DEPUTY, any other digit CP_DIGIT; the text is framed by
 * CP_BEGIN and CP_END.  Returns the number of code points or -1. */
static long fold(struct model_features *f, const char *text, size_t len)
{
    if (len + 2 > f->cpcap) {
        uint32_t *p = realloc(f->cp, (len + 2) * sizeof(*p));
        if (!p)
            return -1;
        f->cp = p;
        f->cpcap = len + 2;
    }
    /* Decode first (never more code points than bytes), then fold in place. */
    uint32_t *raw = f->cp + 1;
    size_t n = 0;
    for (size_t i = 0; i < len;)
        i += utf8_decode_lossy(text + i, len - i, &raw[n++]); /* valid: normalised */
    size_t out = 1;
    f->cp[0] = CP_BEGIN;
    for (size_t i = 0; i < n;) {
        uint32_t c = raw[i];
        bool boundary = i == 0 || !is_alnum(raw[i - 1]);
        if ((c == 'm' || c == 'd') && boundary && digits_at(raw, i + 1, n) >= 3) {
            size_t k = digits_at(raw, i + 1, n);
            f->cp[out++] = c == 'm' ? CP_CASE : CP_DEPUTY;
            i += 1 + k;
        } else if (is_digit(c)) {
            size_t k = digits_at(raw, i, n);
            if (k >= 3) {
                f->cp[out++] = CP_CASE;
            } else {
                for (size_t j = 0; j < k; j++)
                    f->cp[out++] = CP_DIGIT;
            }
            i += k;
        } else {
            f->cp[out++] = c;
            i++;
        }
    }
    f->cp[out++] = CP_END;
    return (long)out;
}

static uint64_t gram_hash(const uint32_t *cp, size_t k)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)k;
    for (size_t i = 0; i < k; i++) {
        uint32_t c = cp[i];
        for (int b = 0; b < 4; b++) {
            h ^= (c >> (8 * b)) & 0xFF;
            h *= 1099511628211ULL;
        }
    }
    return h ? h : 1; /* 0 marks an empty vocabulary slot */
}

/* A lone begin or end mark says nothing. */
static bool gram_wanted(const uint32_t *cp, size_t k)
{
    return !(k == 1 && (cp[0] == CP_BEGIN || cp[0] == CP_END));
}

static int push_hash(struct model_features *f, uint64_t h)
{
    if (f->nhash == f->hcap) {
        size_t cap = f->hcap ? f->hcap * 2 : 256;
        uint64_t *a = realloc(f->hash, cap * sizeof(*a));
        if (!a)
            return -1;
        f->hash = a;
        double *c = realloc(f->count, cap * sizeof(*c));
        if (!c)
            return -1;
        f->count = c;
        f->hcap = cap;
    }
    f->hash[f->nhash] = h;
    f->count[f->nhash] = 1;
    f->nhash++;
    return 0;
}

/* Merges repeated hashes into counts, keeping first occurrences in
 * order (so training numbers features deterministically).  A small open
 * addressing table of positions does it in linear time: sorting was the
 * largest cost of a classification. */
static int merge(struct model_features *f)
{
    if (f->nhash < 2)
        return 0;
    size_t cap = 16;
    while (cap < f->nhash * 2)
        cap *= 2;
    if (cap > f->tabcap) {
        uint32_t *t = realloc(f->tab, cap * sizeof(*t));
        if (!t)
            return -1;
        f->tab = t;
        f->tabcap = cap;
    }
    memset(f->tab, 0xFF, cap * sizeof(*f->tab));
    size_t mask = cap - 1, out = 0;
    for (size_t i = 0; i < f->nhash; i++) {
        uint64_t h = f->hash[i];
        size_t s = (size_t)(h ^ (h >> 31)) & mask;
        while (f->tab[s] != UINT32_MAX && f->hash[f->tab[s]] != h)
            s = (s + 1) & mask;
        if (f->tab[s] != UINT32_MAX) {
            f->count[f->tab[s]] += 1;
        } else {
            f->hash[out] = h;
            f->count[out] = 1;
            f->tab[s] = (uint32_t)out++;
        }
    }
    f->nhash = out;
    return 0;
}

/* Emoji and pictographs, which normalisation removes but people use to
 * mean something (👍 thanks, ⭐ a rating, ✅ done). */
static bool is_symbol(uint32_t c)
{
    return (c >= 0x2600 && c <= 0x27BF) || (c >= 0x2B00 && c <= 0x2BFF) ||
           (c >= 0x1F000 && c <= 0x1FAFF);
}

int model_features_text(struct model_features *f, const char *text, size_t len,
                        const char *raw, size_t rawlen)
{
    f->nhash = 0;
    f->npattern = 0;
    long n = fold(f, text, len);
    if (n < 0)
        return -1;
    for (long i = 0; i < n; i++)
        for (size_t k = 1; k <= MAX_GRAM && i + (long)k <= n; k++)
            if (gram_wanted(f->cp + i, k) && push_hash(f, gram_hash(f->cp + i, k)) < 0)
                return -1;
    for (size_t i = 0; raw && i < rawlen;) {
        uint32_t c;
        i += utf8_decode_lossy(raw + i, rawlen - i, &c);
        if (is_symbol(c) && push_hash(f, gram_hash(&c, 1)) < 0)
            return -1;
    }
    return merge(f);
}

int model_features_add_pattern(struct model_features *f, uint32_t pattern)
{
    if (f->npattern == f->pcap) {
        size_t cap = f->pcap ? f->pcap * 2 : 32;
        uint32_t *a = realloc(f->pattern, cap * sizeof(*a));
        if (!a)
            return -1;
        f->pattern = a;
        f->pcap = cap;
    }
    f->pattern[f->npattern++] = pattern;
    return 0;
}

void model_features_free(struct model_features *f)
{
    if (!f)
        return;
    free(f->hash);
    free(f->count);
    free(f->pattern);
    free(f->cp);
    free(f->nodes);
    free(f->prob);
    free(f->tab);
    memset(f, 0, sizeof(*f));
}

static size_t put_cp(char *out, uint32_t c)
{
    static const char marks[] = { '?', '^', '$', '#', '@', '0' };
    if (c <= CP_DIGIT) {
        out[0] = marks[c];
        return 1;
    }
    return utf8_encode(c, out);
}

void model_ngrams_each(const char *text, size_t len,
                       void (*fn)(const char *gram, uint64_t hash, void *arg), void *arg)
{
    struct model_features f = { 0 };
    long n = fold(&f, text, len);
    for (long i = 0; i < n; i++) {
        for (size_t k = 1; k <= MAX_GRAM && i + (long)k <= n; k++) {
            if (!gram_wanted(f.cp + i, k))
                continue;
            char buf[4 * MAX_GRAM + 1];
            size_t bl = 0;
            for (size_t j = 0; j < k; j++)
                bl += put_cp(buf + bl, f.cp[i + j]);
            buf[bl] = '\0';
            fn(buf, gram_hash(f.cp + i, k), arg);
        }
    }
    model_features_free(&f);
}

/* ---- examples ----------------------------------------------------------- */

int model_example_set(struct model_example *ex, int cls, struct model_features *f)
{
    memset(ex, 0, sizeof(*ex));
    ex->cls = cls;
    ex->nhash = f->nhash;
    ex->npattern = f->npattern;
    ex->hash = malloc((f->nhash ? f->nhash : 1) * sizeof(*ex->hash));
    ex->count = malloc((f->nhash ? f->nhash : 1) * sizeof(*ex->count));
    ex->pattern = malloc((f->npattern ? f->npattern : 1) * sizeof(*ex->pattern));
    if (!ex->hash || !ex->count || !ex->pattern) {
        model_example_free(ex);
        return -1;
    }
    memcpy(ex->hash, f->hash, f->nhash * sizeof(*ex->hash));
    memcpy(ex->count, f->count, f->nhash * sizeof(*ex->count));
    memcpy(ex->pattern, f->pattern, f->npattern * sizeof(*ex->pattern));
    return 0;
}

void model_example_free(struct model_example *ex)
{
    free(ex->hash);
    free(ex->count);
    free(ex->pattern);
    memset(ex, 0, sizeof(*ex));
}

/* ---- vocabulary --------------------------------------------------------- */

static size_t slot_of(const struct intent_model *m, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 29)) & m->mask;
    while (m->keys[i] && m->keys[i] != h)
        i = (i + 1) & m->mask;
    return i;
}

static uint32_t vocab_find(const struct intent_model *m, uint64_t h)
{
    if (!m->keys)
        return 0;
    size_t i = slot_of(m, h);
    return m->keys[i] ? m->vals[i] : 0;
}

/* Numbers the hashes that occur in at least MIN_DOCS of the used
 * examples, in first-seen order, so a given training set always gives the
 * same feature numbers. */
static int vocab_build(struct intent_model *m, const struct model_example *ex, size_t n,
                       const bool *use)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (!use || use[i])
            total += ex[i].nhash;
    size_t cap = 64;
    while (cap < total * 2)
        cap *= 2;
    m->keys = calloc(cap, sizeof(*m->keys));
    m->vals = calloc(cap, sizeof(*m->vals));
    if (!m->keys || !m->vals)
        return -1;
    m->mask = cap - 1;
    /* First pass: document frequencies in vals; second: numbers. */
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        for (size_t k = 0; k < ex[i].nhash; k++) {
            size_t s = slot_of(m, ex[i].hash[k]);
            m->keys[s] = ex[i].hash[k];
            m->vals[s]++;
        }
    }
    uint32_t *docs = calloc(cap, sizeof(*docs));
    if (!docs)
        return -1;
    memcpy(docs, m->vals, cap * sizeof(*docs));
    memset(m->vals, 0, cap * sizeof(*m->vals));
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        for (size_t k = 0; k < ex[i].nhash; k++) {
            size_t s = slot_of(m, ex[i].hash[k]);
            if (!m->vals[s] && docs[s] >= MIN_DOCS)
                m->vals[s] = (uint32_t)++m->nvocab;
        }
    }
    free(docs);
    /* Rebuild without the dropped keys, so lookups of them miss quickly. */
    size_t keep = 64;
    while (keep < m->nvocab * 2)
        keep *= 2;
    uint64_t *keys = calloc(keep, sizeof(*keys));
    uint32_t *vals = calloc(keep, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    uint64_t *old_keys = m->keys;
    uint32_t *old_vals = m->vals;
    size_t old_cap = cap;
    m->keys = keys;
    m->vals = vals;
    m->mask = keep - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old_vals[i])
            continue;
        size_t s = slot_of(m, old_keys[i]);
        m->keys[s] = old_keys[i];
        m->vals[s] = old_vals[i];
    }
    free(old_keys);
    free(old_vals);
    return 0;
}

/* ---- instances ---------------------------------------------------------- */

static int node_cmp(const void *a, const void *b)
{
    const struct feature_node *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* Writes the instance of one text into `out` (room for nhash + npattern +
 * 2 nodes): known n-grams as L2-normalised counts, matching patterns,
 * the bias, the terminator.  Returns the number of nodes written. */
static size_t instance(const struct intent_model *m, const uint64_t *hash, const double *count,
                       size_t nhash, const uint32_t *pattern, size_t npattern,
                       double pattern_value, double bias, bool sorted, struct feature_node *out)
{
    double norm = 0;
    for (size_t i = 0; i < nhash; i++)
        norm += count[i] * count[i];
    norm = norm > 0 ? sqrt(norm) : 1;
    size_t n = 0;
    for (size_t i = 0; i < nhash; i++) {
        uint32_t idx = vocab_find(m, hash[i]);
        if (idx)
            out[n++] = (struct feature_node){ .index = (int)idx, .value = count[i] / norm };
    }
    size_t ngrams = n;
    for (size_t i = 0; i < npattern; i++) {
        if (pattern[i] >= m->npatterns)
            continue;
        int idx = (int)(m->nvocab + 1 + pattern[i]);
        bool dup = false;
        for (size_t k = ngrams; k < n; k++)
            dup = dup || out[k].index == idx;
        if (!dup)
            out[n++] = (struct feature_node){ .index = idx, .value = pattern_value };
    }
    /* Training wants ascending indices; a prediction is a plain sum. */
    if (sorted)
        qsort(out, n, sizeof(*out), node_cmp);
    if (bias >= 0)
        out[n++] = (struct feature_node){ .index = (int)(m->nvocab + m->npatterns + 1),
                                          .value = bias };
    out[n] = (struct feature_node){ .index = -1, .value = 0 };
    return n;
}

static void quiet(const char *s) { (void)s; }

/* One-vs-rest, as LIBLINEAR does it for several classes, but with the
 * binary problems spread over threads: each class's weights are an
 * independent L2-regularised logistic regression of "this class" against
 * the rest.  Every thread reads the shared instances and writes only its
 * own columns, so the result does not depend on the schedule. */
struct ovr_job {
    const struct problem *prob;
    const struct parameter *param;
    struct intent_model *m;
    atomic_int next;            /* next column to train */
    atomic_bool failed;
};

static void *ovr_worker(void *arg)
{
    struct ovr_job *job = arg;
    const struct problem *prob = job->prob;
    double *y = malloc((size_t)prob->l * sizeof(*y));
    if (!y) {
        atomic_store(&job->failed, true);
        return NULL;
    }
    for (;;) {
        int c = atomic_fetch_add(&job->next, 1);
        if (c >= job->m->nclass || atomic_load(&job->failed))
            break;
        int cls = job->m->cls[c];
        for (int i = 0; i < prob->l; i++)
            y[i] = prob->y[i] == cls ? 1 : -1;
        struct problem bin = *prob;
        bin.y = y;
        struct model *lm = train(&bin, job->param);
        if (!lm) {
            atomic_store(&job->failed, true);
            break;
        }
        /* A binary model's weights point toward its first label. */
        double sign = lm->label[0] == 1 ? 1 : -1;
        for (int k = 0; k <= job->m->nfeat; k++)
            job->m->w[(size_t)k * (size_t)job->m->nclass + (size_t)c] = sign * lm->w[k];
        free_and_destroy_model(&lm);
    }
    free(y);
    return NULL;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The distinct classes of the used examples, ascending, into m->cls. */
static int collect_classes(struct intent_model *m, const struct model_example *ex, size_t n,
                           const bool *use)
{
    int *all = malloc((n ? n : 1) * sizeof(*all));
    if (!all)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!use || use[i])
            all[k++] = ex[i].cls;
    qsort(all, k, sizeof(*all), int_cmp);
    size_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (d == 0 || all[d - 1] != all[i])
            all[d++] = all[i];
    m->cls = all;
    m->nclass = (int)d;
    return 0;
}

static long train_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : n;
}

struct intent_model *model_train(const struct model_example *ex, size_t n, const bool *use,
                                 size_t npatterns, const struct model_params *params,
                                 char *err, size_t errsz)
{
    struct intent_model *m = calloc(1, sizeof(*m));
    struct problem prob = { .bias = 1 };
    struct feature_node *pool = NULL;
    const char *why = "out of memory";
    if (!m)
        goto fail;
    m->npatterns = npatterns;
    m->pattern_value = params->pattern_value;
    if (vocab_build(m, ex, n, use) < 0 || collect_classes(m, ex, n, use) < 0)
        goto fail;
    if (m->nclass < 2) {
        why = "training needs examples of at least two labels";
        goto fail;
    }
    size_t l = 0, nodes = 0;
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        l++;
        nodes += ex[i].nhash + ex[i].npattern + 2;
    }
    m->nfeat = (int)(m->nvocab + npatterns);
    m->nexamples = l;
    prob.l = (int)l;
    prob.n = m->nfeat + 1;
    prob.y = malloc(l * sizeof(*prob.y));
    prob.x = malloc(l * sizeof(*prob.x));
    pool = malloc(nodes * sizeof(*pool));
    m->w = calloc((size_t)(m->nfeat + 1) * (size_t)m->nclass, sizeof(*m->w));
    if (!prob.y || !prob.x || !pool || !m->w)
        goto fail;
    size_t at = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        prob.y[k] = ex[i].cls;
        prob.x[k] = pool + at;
        at += instance(m, ex[i].hash, ex[i].count, ex[i].nhash, ex[i].pattern, ex[i].npattern,
                       params->pattern_value, prob.bias, true, pool + at) + 1;
        k++;
    }
    struct parameter param = { .solver_type = L2R_LR, .eps = TRAIN_EPS, .C = params->cost };
    const char *bad = check_parameter(&prob, &param);
    if (bad) {
        why = bad;
        goto fail;
    }
    set_print_string_function(quiet);
    struct ovr_job job = { .prob = &prob, .param = &param, .m = m };
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, false);
    pthread_t th[8];
    long nth = train_threads(), started = 0;
    for (long t = 1; t < nth; t++)
        if (pthread_create(&th[started], NULL, ovr_worker, &job) == 0)
            started++;
    ovr_worker(&job);
    for (long t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    if (atomic_load(&job.failed)) {
        why = "training failed";
        goto fail;
    }
    /* The model keeps a copy of nothing it was trained on. */
    free(pool);
    free(prob.x);
    free(prob.y);
    return m;
fail:
    snprintf(err, errsz, "%s", why);
    free(pool);
    free(prob.x);
    free(prob.y);
    model_free(m);
    return NULL;
}

void model_free(struct intent_model *m)
{
    if (!m)
        return;
    free(m->w);
    free(m->cls);
    free(m->keys);
    free(m->vals);
    free(m);
}

size_t model_classes(const struct intent_model *m)
{
    return m ? (size_t)m->nclass : 0;
}

size_t model_vocabulary(const struct intent_model *m)
{
    return m ? m->nvocab : 0;
}

size_t model_bytes(const struct intent_model *m)
{
    if (!m)
        return 0;
    size_t weights = (size_t)(m->nfeat + 1) * (size_t)m->nclass * sizeof(double);
    return sizeof(*m) + weights + (size_t)m->nclass * sizeof(int) +
           (m->mask + 1) * (sizeof(*m->keys) + sizeof(*m->vals));
}

/* ---- prediction --------------------------------------------------------- */

int model_predict(const struct intent_model *m, struct model_features *f, const int **cls,
                  const double **prob)
{
    size_t need = f->nhash + f->npattern + 2;
    if (need > f->ncap) {
        void *p = realloc(f->nodes, need * 2 * sizeof(struct feature_node));
        if (!p)
            return -1;
        f->nodes = p;
        f->ncap = need * 2;
    }
    size_t k = (size_t)m->nclass;
    if (k > f->probcap) {
        double *p = realloc(f->prob, k * sizeof(*p));
        if (!p)
            return -1;
        f->prob = p;
        f->probcap = k;
    }
    struct feature_node *x = f->nodes;
    instance(m, f->hash, f->count, f->nhash, f->pattern, f->npattern, m->pattern_value, 1, false,
             x);
    double *dec = f->prob;
    for (size_t c = 0; c < k; c++)
        dec[c] = 0;
    for (; x->index != -1; x++) {
        const double *row = m->w + (size_t)(x->index - 1) * k;
        for (size_t c = 0; c < k; c++)
            dec[c] += row[c] * x->value;
    }
    /* One-vs-rest probabilities, normalised to sum 1 (as LIBLINEAR's
     * predict_probability). */
    double sum = 0;
    for (size_t c = 0; c < k; c++) {
        dec[c] = 1 / (1 + exp(-dec[c]));
        sum += dec[c];
    }
    for (size_t c = 0; c < k; c++)
        dec[c] /= sum;
    *cls = m->cls;
    *prob = dec;
    return (int)k;
}

static int class_index(const struct intent_model *m, int cls)
{
    for (int i = 0; i < m->nclass; i++)
        if (m->cls[i] == cls)
            return i;
    return -1;
}

double model_ngram_weight(const struct intent_model *m, const struct model_features *f,
                          uint64_t hash, int cls)
{
    int ci = class_index(m, cls);
    uint32_t idx = vocab_find(m, hash);
    if (ci < 0 || !idx)
        return 0;
    double norm = 0, count = 0;
    for (size_t i = 0; i < f->nhash; i++) {
        norm += f->count[i] * f->count[i];
        if (f->hash[i] == hash)
            count = f->count[i];
    }
    norm = norm > 0 ? sqrt(norm) : 1;
    return m->w[(size_t)(idx - 1) * (size_t)m->nclass + (size_t)ci] * count / norm;
}

double model_pattern_weight(const struct intent_model *m, uint32_t pattern, int cls)
{
    int ci = class_index(m, cls);
    if (ci < 0 || pattern >= m->npatterns)
        return 0;
    return m->w[(m->nvocab + pattern) * (size_t)m->nclass + (size_t)ci];
}

/* ---- saving and loading --------------------------------------------------- */

#define MODEL_MAGIC "mashang-intents-model 1\n"

struct model_header {
    uint64_t nvocab, npatterns, mask, nexamples;
    int64_t nclass, nfeat;
    double pattern_value;
};

int model_write(const struct intent_model *m, FILE *f)
{
    struct model_header h = { .nvocab = m->nvocab, .npatterns = m->npatterns,
                              .mask = m->mask, .nexamples = m->nexamples,
                              .nclass = m->nclass, .nfeat = m->nfeat,
                              .pattern_value = m->pattern_value };
    size_t nw = (size_t)(m->nfeat + 1) * (size_t)m->nclass, nslots = m->mask + 1;
    if (fwrite(MODEL_MAGIC, 1, sizeof(MODEL_MAGIC) - 1, f) != sizeof(MODEL_MAGIC) - 1 ||
        fwrite(&h, sizeof(h), 1, f) != 1 ||
        fwrite(m->cls, sizeof(*m->cls), (size_t)m->nclass, f) != (size_t)m->nclass ||
        fwrite(m->w, sizeof(*m->w), nw, f) != nw ||
        fwrite(m->keys, sizeof(*m->keys), nslots, f) != nslots ||
        fwrite(m->vals, sizeof(*m->vals), nslots, f) != nslots)
        return -1;
    return 0;
}

/* Reads what model_write() wrote; NULL on any inconsistency (a cache file
 * that does not check out is simply retrained). */
struct intent_model *model_read(FILE *f, size_t npatterns)
{
    char magic[sizeof(MODEL_MAGIC) - 1];
    struct model_header h;
    if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
        memcmp(magic, MODEL_MAGIC, sizeof(magic)) != 0 || fread(&h, sizeof(h), 1, f) != 1)
        return NULL;
    size_t nslots = (size_t)h.mask + 1;
    if (h.npatterns != npatterns || h.nclass < 2 || h.nclass > 100000 ||
        h.nfeat != (int64_t)(h.nvocab + h.npatterns) || h.nvocab > (1u << 26) ||
        (nslots & (nslots - 1)) != 0 || nslots < h.nvocab || nslots > (1u << 28))
        return NULL;
    struct intent_model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nvocab = h.nvocab;
    m->npatterns = h.npatterns;
    m->mask = h.mask;
    m->nexamples = h.nexamples;
    m->nclass = (int)h.nclass;
    m->nfeat = (int)h.nfeat;
    m->pattern_value = h.pattern_value;
    size_t nw = (size_t)(m->nfeat + 1) * (size_t)m->nclass;
    m->cls = malloc((size_t)m->nclass * sizeof(*m->cls));
    m->w = malloc(nw * sizeof(*m->w));
    m->keys = malloc(nslots * sizeof(*m->keys));
    m->vals = malloc(nslots * sizeof(*m->vals));
    bool ok = m->cls && m->w && m->keys && m->vals &&
              fread(m->cls, sizeof(*m->cls), (size_t)m->nclass, f) == (size_t)m->nclass &&
              fread(m->w, sizeof(*m->w), nw, f) == nw &&
              fread(m->keys, sizeof(*m->keys), nslots, f) == nslots &&
              fread(m->vals, sizeof(*m->vals), nslots, f) == nslots && fgetc(f) == EOF;
    for (size_t i = 0; ok && i < nslots; i++)
        ok = m->vals[i] <= m->nvocab;
    if (!ok) {
        model_free(m);
        return NULL;
    }
    return m;
}
