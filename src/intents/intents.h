#ifndef MASHANG_INTENTS_H
#define MASHANG_INTENTS_H
/* The intents engine: intents/NAME.intents files (contract §10) compiled with
 * PCRE2 (UTF, UCP, JIT) into an immutable set.  A set is shared read-only
 * by every worker; each worker owns an intent_matcher (PCRE2 match data,
 * normaliser and scratch), so matching allocates nothing per message. */
#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

enum intent_kind { INTENT_NONE = 0, INTENT_CONCERN, INTENT_CHAT, INTENT_COMMAND };

/* Who sent the text: residents are matched against concern and chat
 * intents, deputies against command intents first. */
enum intent_role { ROLE_RESIDENT = 0, ROLE_DEPUTY };

/* Category used when a resident's text matches no intent at all: no
 * concern is ever dropped for want of a pattern. */
#define INTENT_FALLBACK_LABEL "suggestion"

#define INTENT_MAX_SLOTS 8
#define INTENT_MAX_CANDIDATES 16

struct intent_slot {
    const char *name;      /* owned by the set */
    char value[256];       /* UTF-8, cut on a character boundary */
    size_t start, end;     /* byte span of the value in the normalised text */
};

/* One label as the learned model ranks it. */
struct intent_alt {
    const char *label;     /* owned by the set */
    double p;              /* probability, 0..1 */
};
#define INTENT_MAX_ALTS 3

struct intent_candidate {
    const char *intent;    /* owned by the set */
    const char *label;
    int priority;
    size_t start, end;     /* byte span in the normalised text */
};

struct intent_result {
    enum intent_kind kind; /* INTENT_NONE: nothing matched */
    const char *intent;    /* block name, e.g. "streetlight"; NULL if none */
    const char *label;     /* "facilities", "chat.status", "cmd.accept"; fallback label if none */
    const char *title;     /* optional display name of the intent ("路灯"), or NULL */
    int priority;
    const char *const *needs;   /* NULL-terminated slot names the intent asks for */
    size_t nslots;
    struct intent_slot slots[INTENT_MAX_SLOTS];
    /* How sure the decision is.  A rule block that matched decides with
     * confidence 1; otherwise the learned model's probability of `label`.
     * `certain`: safe to act on without asking (a rule, or confidence at
     * or above the set's confirm threshold).  `review`: a resident's
     * concern the model was unsure of (below the review threshold); the
     * case is still opened, and flagged for an administrator. */
    double confidence;
    bool by_rule;
    bool certain;
    bool review;
    size_t nalts;          /* the model's top labels, best first */
    struct intent_alt alts[INTENT_MAX_ALTS];
    size_t ncandidates;    /* every intent that matched, winner first */
    struct intent_candidate candidates[INTENT_MAX_CANDIDATES];
};

struct intent_set;
struct intent_matcher;

/* Loads every NAME.intents file of `dir` in name order and trains the
 * models of dir/train (docs/intents.md).  Returns NULL with every problem
 * as "file:line: message" in `d`. */
struct intent_set *intent_set_load(const char *dir, struct diag *d);
/* The same, keeping trained models in `cache_dir` (created 0700 if
 * missing; NULL: no cache): a load whose intents, settings and training
 * files are unchanged reads the models instead of training them. */
struct intent_set *intent_set_load_cached(const char *dir, const char *cache_dir,
                                          struct diag *d);
void intent_set_free(struct intent_set *s);
size_t intent_set_size(const struct intent_set *s);

struct intent_matcher *intent_matcher_new(void);
void intent_matcher_free(struct intent_matcher *m);

/* Normalises and matches `text`.  Returns 0 and fills `out`, or -1 if the
 * text is not valid UTF-8.  The normalised text stays readable through
 * intent_matcher_normalized() until the next call. */
int intent_match(const struct intent_set *s, struct intent_matcher *m,
                 const char *text, size_t len, enum intent_role role,
                 struct intent_result *out);
const char *intent_matcher_normalized(const struct intent_matcher *m);

/* Whether `label` is one a sender of `role` can be understood as: a
 * resident never gives commands; a deputy gives commands, greets or
 * thanks.  The models are trained and the patterns run accordingly. */
bool intent_label_for_role(const char *label, enum intent_role role);

/* Slot value by name, or NULL. */
const char *intent_slot(const struct intent_result *r, const char *name);

/* Runs every example/counter of the set; each failure is reported in `d`
 * as "file:line: message".  Returns the number of failures. */
int intent_set_check(const struct intent_set *s, struct intent_matcher *m, struct diag *d);

/* Cross-validation of the model of `role` on the training files of `dir`
 * (the set's own directory): the examples are split into `folds` parts by
 * a fixed shuffle; for each part a model trained on the others decides
 * (rules included, exactly as in service) and `fn` gets the gold label and
 * the result.  The set's own model is restored.  -1 with `d` on error. */
typedef void (*intent_cv_fn)(const char *gold, const char *predicted,
                             const struct intent_result *r, const char *text, void *arg);
int intent_set_cross_validate(struct intent_set *s, const char *dir, enum intent_role role,
                              int folds, intent_cv_fn fn, void *arg, struct diag *d);

/* Why a result came out as it did, for `mashangctl intents test --explain`:
 * the patterns that matched (with the weight the model gives each toward
 * the chosen label) and the n-grams that weighed most toward it. */
struct intent_reason {
    char what[160];        /* "file:line [intent]" or the n-gram */
    double weight;         /* toward the result's label; 0 when a rule decided */
};
#define INTENT_MAX_REASONS 8
struct intent_explanation {
    size_t npatterns, ngrams;
    struct intent_reason patterns[INTENT_MAX_REASONS];
    struct intent_reason grams[INTENT_MAX_REASONS];
};
int intent_explain(const struct intent_set *s, struct intent_matcher *m, const char *text,
                   size_t len, enum intent_role role, const struct intent_result *r,
                   struct intent_explanation *out);

/* Calls `fn` with the label and text of every example of dir/train, in
 * file-name order (for tools; the set itself reads them at load).  -1 if
 * the folder exists but cannot be read. */
typedef void (*intent_example_fn)(const char *label, const char *text, void *arg);
int intent_training_each(const char *dir, intent_example_fn fn, void *arg);

/* What a set learned: examples, labels and bytes of each role's model
 * (zeros when that role has no training data), and the thresholds. */
struct intent_model_info {
    size_t examples, classes, ngrams, bytes;
};
void intent_set_model_info(const struct intent_set *s, enum intent_role role,
                           struct intent_model_info *out);
double intent_set_confirm_below(const struct intent_set *s);

/* Number of example and counter lines in the set (for summaries). */
void intent_set_counts(const struct intent_set *s, size_t *nexamples, size_t *ncounters);

#endif
