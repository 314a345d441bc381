#ifndef MASHANG_INTENTS_MODEL_H
#define MASHANG_INTENTS_MODEL_H
/* Learned weights of an intent set, private to src/intents/intents*.c.
 *
 * A model is L2-regularised logistic regression (LIBLINEAR, L2R_LR) over
 * two kinds of evidence about a normalised text:
 *   - its character 1-, 2- and 3-grams (case ids, deputy ids and digits
 *     folded to placeholders first, so "M1024" and "1038" look alike), as
 *     L2-normalised counts, indexed through the training vocabulary;
 *   - one feature per intent pattern that matches, so the administrators'
 *     patterns keep steering the result and a pattern added later counts.
 * Trained models are immutable and read by every worker at once; feature
 * buffers are per matcher. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct intent_model;

/* The evidence about one text, filled by model_features_text() and
 * model_features_add_pattern(); owned by a matcher, reused per message. */
struct model_features {
    uint64_t *hash;             /* n-gram hashes, later sorted and merged */
    double *count;
    size_t nhash, hcap;
    uint32_t *pattern;          /* matching patterns (set-wide numbers) */
    size_t npattern, pcap;
    uint32_t *cp;               /* scratch: code points of the folded text */
    size_t cpcap;
    void *nodes;                /* scratch: struct feature_node[] for LIBLINEAR */
    size_t ncap;
    double *prob;               /* scratch: one probability per class */
    size_t probcap;
    uint32_t *tab;              /* scratch: dedupe table of merge() */
    size_t tabcap;
};

void model_features_free(struct model_features *f);
/* Starts a new text: n-grams of `text` (normalised UTF-8) and the emoji
 * of `raw` (the text as sent, may be NULL), no patterns.  Returns -1 on
 * out of memory. */
int model_features_text(struct model_features *f, const char *text, size_t len,
                        const char *raw, size_t rawlen);
int model_features_add_pattern(struct model_features *f, uint32_t pattern);

/* Calls `fn` once per distinct n-gram of `text` with its display form
 * (placeholders shown as # for a case id, @ for a deputy id, 0 for a
 * digit, ^ and $ for the ends) and its hash.  For explanations only. */
void model_ngrams_each(const char *text, size_t len,
                       void (*fn)(const char *gram, uint64_t hash, void *arg), void *arg);

/* One training example: its class (1-based label number of the set) and
 * its evidence, copied out of a model_features. */
struct model_example {
    int cls;
    uint64_t *hash;             /* distinct, in order of first occurrence */
    double *count;
    size_t nhash;
    uint32_t *pattern;
    size_t npattern;
};

/* Copies the (merged) evidence in `f` into `ex`; -1 on out of memory. */
int model_example_set(struct model_example *ex, int cls, struct model_features *f);
void model_example_free(struct model_example *ex);

struct model_params {
    double cost;                /* LIBLINEAR's C */
    double pattern_value;       /* value of a matching pattern's feature */
};

/* Trains on the examples whose `use` flag is set (all when use is NULL).
 * `npatterns` is the set's pattern count (the pattern feature space).
 * Deterministic.  NULL with a message in `err` on failure. */
struct intent_model *model_train(const struct model_example *ex, size_t n, const bool *use,
                                 size_t npatterns, const struct model_params *params,
                                 char *err, size_t errsz);
void model_free(struct intent_model *m);

/* What decides the features and the training, as text (part of the cache
 * key: a build that computes features differently never reads another's
 * models). */
const char *model_recipe(void);
size_t model_examples(const struct intent_model *m);

/* Classes the model knows, and its size in bytes (weights + vocabulary). */
size_t model_classes(const struct intent_model *m);
size_t model_bytes(const struct intent_model *m);
size_t model_vocabulary(const struct intent_model *m);

/* Probabilities of every class for the evidence in `f` (merged first).
 * Returns the number of classes; cls[i] is the class of prob[i], both
 * pointing into model/feature scratch valid until the next call; -1 on
 * out of memory. */
int model_predict(const struct intent_model *m, struct model_features *f, const int **cls,
                  const double **prob);

/* Weight of n-gram `hash` for class `cls` times the value it would have
 * in `f` (0 if the model does not know it); for explanations. */
double model_ngram_weight(const struct intent_model *m, const struct model_features *f,
                          uint64_t hash, int cls);
double model_pattern_weight(const struct intent_model *m, uint32_t pattern, int cls);

/* A trained model as bytes (this machine's layout; a cache, not an
 * exchange format), and back.  model_read() checks every size against
 * `npatterns` and the file's own header and returns NULL on anything
 * amiss. */
int model_write(const struct intent_model *m, FILE *f);
struct intent_model *model_read(FILE *f, size_t npatterns);

#endif
