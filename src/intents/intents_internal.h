#ifndef MASHANG_INTENTS_INTERNAL_H
#define MASHANG_INTENTS_INTERNAL_H
/* Private layout of an intent set, shared by src/intents/intents*.c only.  The
 * public API is src/intents/intents.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "intents/intents.h"

struct intent_model;
struct intent_prefilter;

struct intent_group_name {
    uint32_t group;            /* capture group number */
    char *name;                /* owned */
};

struct intent_pattern {
    pcre2_code *code;          /* owned; JIT-compiled when JIT is available */
    int weight;                /* added to the intent's score when it matches */
    int line;
    bool capture_only;         /* `capture =`: fills slots of a winner, never matches */
    uint32_t ngroups;          /* capture groups, excluding group 0 */
    struct intent_group_name *names;   /* owned array of nnames */
    size_t nnames;
};

struct intent_text {           /* an `example` or `counter` line */
    char *text;                /* owned */
    int line;
};

struct intent {
    char *name, *label, *title;        /* owned; title may be NULL */
    enum intent_kind kind;
    int priority;
    char **needs;                      /* owned, NULL-terminated, never NULL */
    struct intent_pattern *patterns;   /* owned array */
    size_t npatterns, patcap;
    size_t nmatching;                  /* patterns that are not capture_only */
    pcre2_code *gate;                  /* owned, may be NULL: all matching patterns as one
                                        * alternation, so a miss costs one call */
    struct intent_text *examples, *counters;
    size_t nexamples, excap, ncounters, cocap;
    bool rule;                         /* `rule = yes`: a match decides, whatever the model says */
    size_t label_no;                   /* 1-based index of label in intent_set.labels */
    uint32_t pattern_base;             /* set-wide number of its first pattern */
    const char *file;                  /* points into intent_set.files */
    int line;                          /* line of the [name] header */
    size_t order;                      /* load order, the last tie-break */
};

struct intent_set {
    struct intent *intents;            /* owned array, load order */
    size_t n, cap;
    char **files;                      /* owned display names of loaded files */
    size_t nfiles, filecap;
    uint32_t max_groups;               /* largest ngroups of any pattern */
    char **labels;                     /* owned: distinct labels in load order */
    enum intent_kind *label_kind;      /* owned: the kind of each label's intents (the
                                        * parser makes every intent of a label agree) */
    size_t nlabels;
    uint32_t npatterns;                /* all patterns of all intents */
    /* Learned weights, one model per role (NULL: no training data for
     * that role, and the patterns decide as they did before). */
    struct intent_model *model[2];
    struct intent_prefilter *prefilter; /* owned, may be NULL (nothing filtered) */
    size_t ntrain[2];                  /* examples each model was trained on */
    double confirm_below;              /* below: ask a deputy before acting */
    double review_below;               /* below: flag a resident's case for review */
    double chat_below;                 /* below: a resident's "conversation" is a concern */
    double cost;                       /* LIBLINEAR's C */
    double pattern_value;              /* feature value of a matching pattern */
};

/* Defaults of intents/model.conf. */
#define INTENT_DEFAULT_CONFIRM_BELOW 0.6
#define INTENT_DEFAULT_REVIEW_BELOW 0.5
#define INTENT_DEFAULT_CHAT_BELOW 0.35
#define INTENT_DEFAULT_COST 4.0
#define INTENT_DEFAULT_PATTERN_VALUE 1.0

/* Parses one file and appends its intents to `s`.  `display` is the name
 * used in diagnostics.  Every problem goes to `d`; returns the number of
 * problems found in this file. */
int intents_parse_file(struct intent_set *s, const char *path, const char *display,
                       struct diag *d);

void intents_free_intent(struct intent *it);

/* The names of the files of `dir` ending in `suffix` (not starting with
 * a dot), sorted, into `*out` (free with intents_free_names).  -1 with
 * errno set when the directory cannot be read. */
int intents_list_dir(const char *dir, const char *suffix, char ***out, size_t *count);
void intents_free_names(char **names, size_t n);

/* Reads intents/model.conf and intents/train/NAME.tsv of `dir` and trains
 * the set's models, or takes them from `cache_dir` (may be NULL: no
 * cache) when nothing they depend on changed.  Every problem goes to `d`
 * as "file:line: message"; returns the number of problems (the set is
 * then not to be used). */
int intents_learn(struct intent_set *s, const char *dir, const char *cache_dir, struct diag *d);

struct model_features;
/* Normalises `text` and gathers the model's evidence for `role` (its
 * n-grams and the patterns that match) into matcher scratch, returned in
 * `*out`.  -1 if the text is not valid UTF-8 or memory ran out. */
int intents_evidence(const struct intent_set *s, struct intent_matcher *m, const char *text,
                     size_t len, enum intent_role role, struct model_features **out);

/* True if any pattern of `it` matches the already normalised `text`. */
bool intents_intent_matches(const struct intent *it, struct intent_matcher *m, const char *text);

#endif
