/* Explanations of a decision (`mashangctl intents test --explain`): which
 * patterns matched and how much each, and the strongest n-grams, counted
 * toward the label the set chose. */
#include "intents/intents_internal.h"
#include "intents/intents_model.h"

#include <stdio.h>
#include <string.h>

struct gram_walk {
    const struct intent_model *model;
    const struct model_features *feat;
    int cls;
    struct intent_explanation *out;
};

/* Keeps the INTENT_MAX_REASONS heaviest n-grams, each once. */
static void on_gram(const char *gram, uint64_t hash, void *arg)
{
    struct gram_walk *w = arg;
    struct intent_explanation *e = w->out;
    double wt = model_ngram_weight(w->model, w->feat, hash, w->cls);
    if (wt <= 0)
        return;
    for (size_t i = 0; i < e->ngrams; i++)
        if (strcmp(e->grams[i].what, gram) == 0)
            return;
    size_t at;
    if (e->ngrams < INTENT_MAX_REASONS)
        at = e->ngrams++;
    else if (e->grams[INTENT_MAX_REASONS - 1].weight < wt)
        at = INTENT_MAX_REASONS - 1;
    else
        return;
    while (at > 0 && e->grams[at - 1].weight < wt) {
        e->grams[at] = e->grams[at - 1];
        at--;
    }
    snprintf(e->grams[at].what, sizeof(e->grams[at].what), "%s", gram);
    e->grams[at].weight = wt;
}

static const struct intent *owner(const struct intent_set *s, uint32_t pattern, size_t *index)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct intent *it = &s->intents[i];
        if (pattern >= it->pattern_base && pattern < it->pattern_base + it->npatterns) {
            *index = pattern - it->pattern_base;
            return it;
        }
    }
    return NULL;
}

int intent_explain(const struct intent_set *s, struct intent_matcher *m, const char *text,
                   size_t len, enum intent_role role, const struct intent_result *r,
                   struct intent_explanation *out)
{
    memset(out, 0, sizeof(*out));
    struct model_features *feat;
    if (intents_evidence(s, m, text, len, role, &feat) < 0)
        return -1;
    const struct intent_model *model = s->model[role];
    int cls = 0;
    for (size_t i = 0; r->label && i < s->nlabels; i++)
        if (strcmp(s->labels[i], r->label) == 0)
            cls = (int)i + 1;
    for (size_t k = 0; k < feat->npattern && out->npatterns < INTENT_MAX_REASONS; k++) {
        size_t pi;
        const struct intent *it = owner(s, feat->pattern[k], &pi);
        if (!it)
            continue;
        struct intent_reason *rs = &out->patterns[out->npatterns++];
        snprintf(rs->what, sizeof(rs->what), "%s:%d [%s]%s", it->file, it->patterns[pi].line,
                 it->name, it->rule ? " rule" : "");
        rs->weight = model && !r->by_rule ? model_pattern_weight(model, feat->pattern[k], cls) : 0;
    }
    if (model && !r->by_rule && cls) {
        struct gram_walk w = { .model = model, .feat = feat, .cls = cls, .out = out };
        const char *norm = intent_matcher_normalized(m);
        model_ngrams_each(norm, strlen(norm), on_gram, &w);
    }
    return 0;
}
