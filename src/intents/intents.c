/* Intent sets and matching (contract §10, docs/intents.md).
 *
 * Ranking, deterministic for a given set and text:
 *   1. a deputy's command intents before anything else (residents never
 *      see commands at all);
 *   2. higher score: the intent's priority plus the weights of all its
 *      patterns that match (weights default to 0, so without them this is
 *      plain priority);
 *   3. longer match (the longest span any of its patterns matched);
 *   4. earlier intent in load order (file name order, then block order).
 * Slots are taken from the winner only: each of its patterns (including
 * `capture` lines, which never decide a match) is run again and named
 * groups fill slots not yet filled, in file order. */
#include "intents/intents_internal.h"
#include "intents/intents_model.h"
#include "intents/intents_prefilter.h"

#include "intents/normalize.h"
#include "base/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct candidate {
    size_t intent;
    int group;          /* 0 sorts first: a deputy's commands */
    int score;
    size_t start, end;
};

struct intent_matcher {
    struct normalizer *norm;     /* owned */
    pcre2_match_data *md;        /* owned; regrown only when a set needs more groups */
    uint32_t md_pairs;
    struct candidate *cands;     /* owned scratch, one per intent of the largest set seen */
    unsigned char *hit;          /* owned scratch, as many: intents the prefilter lets through */
    size_t candcap;
    const char *normalized;      /* owned by norm, valid until the next match */
    struct model_features feat;  /* owned scratch: the model's evidence */
};

static const char *const no_needs[] = { NULL };

/* ---- sets ------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

void intent_set_free(struct intent_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        intents_free_intent(&s->intents[i]);
    free(s->intents);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    for (size_t i = 0; i < s->nlabels; i++)
        free(s->labels[i]);
    free(s->labels);
    free(s->label_kind);
    model_free(s->model[ROLE_RESIDENT]);
    model_free(s->model[ROLE_DEPUTY]);
    intent_prefilter_free(s->prefilter);
    free(s);
}

size_t intent_set_size(const struct intent_set *s)
{
    return s ? s->n : 0;
}

int intents_list_dir(const char *dir, const char *suffix, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *dh = opendir(dir);
    if (!dh)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, suffix))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **a = realloc(names, cap * sizeof(*a));
            if (!a)
                goto oom;
            names = a;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto oom;
        n++;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    *out = names;
    *count = n;
    return 0;
oom:
    closedir(dh);
    intents_free_names(names, n);
    errno = ENOMEM;
    return -1;
}

void intents_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Numbers the set's labels and patterns, for the models' classes and
 * pattern features. */
static int index_set(struct intent_set *s)
{
    uint32_t pat = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct intent *it = &s->intents[i];
        it->pattern_base = pat;
        pat += (uint32_t)it->npatterns;
        size_t k = 0;
        while (k < s->nlabels && strcmp(s->labels[k], it->label) != 0)
            k++;
        if (k == s->nlabels) {
            char **a = realloc(s->labels, (s->nlabels + 1) * sizeof(*a));
            if (!a)
                return -1;
            s->labels = a;
            enum intent_kind *kinds = realloc(s->label_kind, (s->nlabels + 1) * sizeof(*kinds));
            if (!kinds)
                return -1;
            s->label_kind = kinds;
            kinds[s->nlabels] = it->kind;
            if (!(s->labels[s->nlabels] = strdup(it->label)))
                return -1;
            s->nlabels++;
        }
        it->label_no = k + 1;
    }
    s->npatterns = pat;
    return 0;
}

struct intent_set *intent_set_load(const char *dir, struct diag *d)
{
    return intent_set_load_cached(dir, NULL, d);
}

struct intent_set *intent_set_load_cached(const char *dir, const char *cache_dir, struct diag *d)
{
    char **names = NULL;
    size_t nnames = 0;
    if (intents_list_dir(dir, ".intents", &names, &nnames) < 0) {
        diag_add(d, "%s: cannot open intents directory: %s", dir, strerror(errno));
        return NULL;
    }
    /* Without a prefilter (out of memory) nothing is filtered. */
    struct intent_set *s = calloc(1, sizeof(*s));
    if (s)
        s->prefilter = intent_prefilter_new();
    int errors = 0;
    if (!s) {
        diag_add(d, "%s: out of memory", dir);
        errors++;
    } else if (nnames == 0) {
        diag_add(d, "%s: no .intents files", dir);
        errors++;
    } else if (!(s->files = calloc(nnames, sizeof(char *)))) {
        diag_add(d, "%s: out of memory", dir);
        errors++;
    }
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    /* Every file is parsed even after an error, so one run reports all. */
    for (size_t i = 0; s && s->files && i < nnames; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", dir, slash ? "" : "/", names[i]) < 0) {
            diag_add(d, "%s: out of memory", dir);
            errors++;
            break;
        }
        s->files[s->nfiles++] = path; /* owned by the set; diagnostics point into it */
        errors += intents_parse_file(s, path, path, d);
    }
    intents_free_names(names, nnames);
    if (!errors && index_set(s) < 0) {
        diag_add(d, "%s: out of memory", dir);
        errors++;
    }
    if (!errors)
        errors += intents_learn(s, dir, cache_dir, d);
    if (errors) {
        intent_set_free(s);
        return NULL;
    }
    return s;
}

/* ---- matchers --------------------------------------------------------- */

struct intent_matcher *intent_matcher_new(void)
{
    struct intent_matcher *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->norm = normalizer_new();
    m->md_pairs = 16;
    m->md = pcre2_match_data_create(m->md_pairs, NULL);
    if (!m->norm || !m->md) {
        intent_matcher_free(m);
        return NULL;
    }
    return m;
}

void intent_matcher_free(struct intent_matcher *m)
{
    if (!m)
        return;
    normalizer_free(m->norm);
    pcre2_match_data_free(m->md);
    model_features_free(&m->feat);
    free(m->cands);
    free(m->hit);
    free(m);
}

const char *intent_matcher_normalized(const struct intent_matcher *m)
{
    return m->normalized ? m->normalized : "";
}

/* Sizes the scratch for `s`; allocates only the first time a matcher
 * meets a bigger set, never per message. */
static int matcher_fit(struct intent_matcher *m, const struct intent_set *s)
{
    if (s->max_groups + 1 > m->md_pairs) {
        pcre2_match_data *md = pcre2_match_data_create(s->max_groups + 1, NULL);
        if (!md)
            return -1;
        pcre2_match_data_free(m->md);
        m->md = md;
        m->md_pairs = s->max_groups + 1;
    }
    if (s->n > m->candcap) {
        struct candidate *c = realloc(m->cands, s->n * sizeof(*c));
        if (!c)
            return -1;
        m->cands = c;
        unsigned char *h = realloc(m->hit, s->n);
        if (!h)
            return -1;
        m->hit = h;
        m->candcap = s->n;
    }
    return 0;
}

static bool cand_before(const struct candidate *a, const struct candidate *b)
{
    if (a->group != b->group)
        return a->group < b->group;
    if (a->score != b->score)
        return a->score > b->score;
    size_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb)
        return la > lb;
    return a->intent < b->intent;
}

static bool is_trim_byte(const char *p)
{
    unsigned char c = (unsigned char)*p;
    return c == ' ' || c == ',' || c == ':' || c == ';' || c == '-' || c == '.' || c == '>';
}

/* Multi-byte separators trimmed from slot edges: ，、：；。→ */
static size_t trim_seq(const char *p, size_t n)
{
    static const char *const seqs[] = { "\xEF\xBC\x8C", "\xE3\x80\x81", "\xEF\xBC\x9A",
                                        "\xEF\xBC\x9B", "\xE3\x80\x82", "\xE2\x86\x92" };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(*seqs); i++)
        if (n >= 3 && memcmp(p, seqs[i], 3) == 0)
            return 3;
    return 0;
}

static void set_slot(struct intent_result *r, const char *text, const char *name, const char *v, size_t n)
{
    for (size_t i = 0; i < r->nslots; i++)
        if (strcmp(r->slots[i].name, name) == 0)
            return; /* first pattern to fill a slot wins */
    for (;;) {
        size_t k;
        if (n > 0 && is_trim_byte(v)) {
            v++;
            n--;
        } else if ((k = trim_seq(v, n))) {
            v += k;
            n -= k;
        } else {
            break;
        }
    }
    for (;;) {
        if (n > 0 && is_trim_byte(v + n - 1))
            n--;
        else if (n >= 3 && trim_seq(v + n - 3, 3))
            n -= 3;
        else
            break;
    }
    if (n == 0 || r->nslots == INTENT_MAX_SLOTS)
        return;
    struct intent_slot *sl = &r->slots[r->nslots++];
    size_t cap = sizeof(sl->value) - 1;
    n = utf8_cut(v, n, cap); /* never half a character */
    memcpy(sl->value, v, n);
    sl->value[n] = '\0';
    sl->name = name;
    sl->start = (size_t)(v - text);
    sl->end = sl->start + n;
}

static void fill_slots(const struct intent *it, struct intent_matcher *m, const char *text,
                       size_t len, struct intent_result *r)
{
    for (size_t p = 0; p < it->npatterns; p++) {
        const struct intent_pattern *pat = &it->patterns[p];
        if (pat->nnames == 0)
            continue;
        int rc = pcre2_match(pat->code, (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK, m->md,
                             NULL);
        if (rc < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        for (size_t k = 0; k < pat->nnames; k++) {
            uint32_t g = pat->names[k].group;
            if (g >= (uint32_t)rc || ov[2 * g] == PCRE2_UNSET)
                continue;
            set_slot(r, text, pat->names[k].name, text + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        }
    }
}

static void result_none(struct intent_result *out)
{
    out->kind = INTENT_NONE;
    out->intent = NULL;
    out->label = INTENT_FALLBACK_LABEL;
    out->title = NULL;
    out->priority = 0;
    out->needs = no_needs;
    out->nslots = 0;
    out->ncandidates = 0;
    out->confidence = 0;
    out->by_rule = false;
    out->certain = false;
    out->review = false;
    out->nalts = 0;
}

/* Runs every intent allowed for `role` against the normalised text:
 * fills m->cands ranked (see the top of this file) and, when `feat` is
 * given, adds each matching pattern to it.  Returns the number matched. */
static size_t scan(const struct intent_set *s, struct intent_matcher *m, const char *norm,
                   size_t nlen, enum intent_role role, struct model_features *feat)
{
    /* One scan for the literals every intent needs; intents whose literals
     * are all absent cannot match and are not run. */
    intent_prefilter_scan(s->prefilter, norm, nlen, m->hit, s->n);
    size_t nc = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct intent *it = &s->intents[i];
        if (!m->hit[i] || !intent_label_for_role(it->label, role))
            continue;
        if (it->gate && pcre2_match(it->gate, (PCRE2_SPTR)norm, nlen, 0, PCRE2_NO_UTF_CHECK,
                                    m->md, NULL) < 0)
            continue;
        bool hit = false;
        struct candidate c = { .intent = i, .score = it->priority,
                               .group = (role == ROLE_DEPUTY && it->kind != INTENT_COMMAND) };
        for (size_t p = 0; p < it->npatterns; p++) {
            const struct intent_pattern *pat = &it->patterns[p];
            if (pat->capture_only)
                continue;
            int rc = pcre2_match(pat->code, (PCRE2_SPTR)norm, nlen, 0, PCRE2_NO_UTF_CHECK,
                                 m->md, NULL);
            if (rc < 0)
                continue;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
            c.score += pat->weight;
            if (!hit || ov[1] - ov[0] > c.end - c.start) {
                c.start = ov[0];
                c.end = ov[1];
            }
            hit = true;
            if (feat)
                model_features_add_pattern(feat, it->pattern_base + (uint32_t)p);
        }
        if (!hit)
            continue;
        /* Insertion keeps the array ranked; sets are small. */
        size_t at = nc;
        while (at > 0 && cand_before(&c, &m->cands[at - 1])) {
            m->cands[at] = m->cands[at - 1];
            at--;
        }
        m->cands[at] = c;
        nc++;
    }
    return nc;
}

static const char *normalize_for(struct intent_matcher *m, const struct intent_set *s,
                                 const char *text, size_t len, size_t *nlen)
{
    m->normalized = NULL;
    if (matcher_fit(m, s) < 0)
        return NULL;
    const char *norm = normalize_text(m->norm, text, len, nlen);
    m->normalized = norm;
    return norm;
}

int intents_evidence(const struct intent_set *s, struct intent_matcher *m, const char *text,
                     size_t len, enum intent_role role, struct model_features **out)
{
    size_t nlen;
    const char *norm = normalize_for(m, s, text, len, &nlen);
    if (!norm || model_features_text(&m->feat, norm, nlen, text, len) < 0)
        return -1;
    scan(s, m, norm, nlen, role, &m->feat);
    *out = &m->feat;
    return 0;
}

/* The intent that speaks for label number `label_no`: the best-ranked
 * matching one, else the first of the set with that label that is not a
 * rule (a rule that did not match has nothing to say). */
static size_t intent_for_label(const struct intent_set *s, const struct intent_matcher *m,
                               size_t nc, size_t label_no)
{
    for (size_t k = 0; k < nc; k++)
        if (s->intents[m->cands[k].intent].label_no == label_no)
            return m->cands[k].intent;
    size_t any = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        if (s->intents[i].label_no != label_no)
            continue;
        if (!s->intents[i].rule)
            return i;
        if (any == SIZE_MAX)
            any = i;
    }
    return any;
}

static bool is_concern(const struct intent_set *s, size_t label_no)
{
    return s->label_kind[label_no - 1] == INTENT_CONCERN;
}

/* What the model says of the evidence in the matcher: the most probable
 * label, and the most probable concern among the rest. */
struct verdict {
    size_t label_no;           /* 0 on out of memory */
    double p;
    size_t concern_no;         /* 0 if the model knows no concern */
    double concern_p;
};

/* Asks the model; fills the result's alternatives. */
static struct verdict model_decide(const struct intent_set *s, const struct intent_model *model,
                                   struct intent_matcher *m, struct intent_result *out)
{
    struct verdict v = { 0 };
    const int *cls;
    const double *prob;
    int k = model_predict(model, &m->feat, &cls, &prob);
    if (k <= 0)
        return v;
    /* Top INTENT_MAX_ALTS by probability; ties to the lower class number. */
    for (size_t a = 0; a < INTENT_MAX_ALTS && a < (size_t)k; a++) {
        int best = -1;
        for (int i = 0; i < k; i++) {
            bool taken = false;
            for (size_t t = 0; t < a; t++)
                taken = taken || out->alts[t].label == s->labels[cls[i] - 1];
            if (taken)
                continue;
            if (best < 0 || prob[i] > prob[best] || (prob[i] == prob[best] && cls[i] < cls[best]))
                best = i;
        }
        out->alts[a].label = s->labels[cls[best] - 1];
        out->alts[a].p = prob[best];
        out->nalts = a + 1;
        if (a == 0) {
            v.label_no = (size_t)cls[best];
            v.p = prob[best];
        }
    }
    for (int i = 0; i < k; i++)
        if (is_concern(s, (size_t)cls[i]) && (!v.concern_no || prob[i] > v.concern_p)) {
            v.concern_no = (size_t)cls[i];
            v.concern_p = prob[i];
        }
    return v;
}

/* A resident's message the model would take for conversation without
 * being sure is taken for a concern instead, under the most probable
 * category: a case that turns out to be chatter costs a review, a
 * concern answered with small talk is lost (nothing is dropped). */
static void concern_if_unsure(const struct intent_set *s, struct verdict *v)
{
    if (v->p < s->chat_below && v->concern_no && !is_concern(s, v->label_no)) {
        v->label_no = v->concern_no;
        v->p = v->concern_p;
    }
}

int intent_match(const struct intent_set *s, struct intent_matcher *m, const char *text,
                 size_t len, enum intent_role role, struct intent_result *out)
{
    result_none(out);
    size_t nlen;
    const char *norm = normalize_for(m, s, text, len, &nlen);
    if (!norm)
        return -1;
    const struct intent_model *model = s->model[role];
    if (model && model_features_text(&m->feat, norm, nlen, text, len) < 0)
        return -1;
    size_t nc = scan(s, m, norm, nlen, role, model ? &m->feat : NULL);

    for (size_t k = 0; k < nc && k < INTENT_MAX_CANDIDATES; k++) {
        const struct intent *it = &s->intents[m->cands[k].intent];
        struct intent_candidate *oc = &out->candidates[k];
        oc->intent = it->name;
        oc->label = it->label;
        oc->priority = m->cands[k].score;
        oc->start = m->cands[k].start;
        oc->end = m->cands[k].end;
        out->ncandidates++;
    }

    /* A rule that matched decides; else the model; else (no training data
     * for this role) the best-ranked pattern, as before the model. */
    size_t win = SIZE_MAX;
    int score = 0;
    for (size_t k = 0; k < nc && win == SIZE_MAX; k++)
        if (s->intents[m->cands[k].intent].rule) {
            win = m->cands[k].intent;
            score = m->cands[k].score;
            out->by_rule = true;
        }
    if (win == SIZE_MAX && model) {
        struct verdict v = model_decide(s, model, m, out);
        if (!v.label_no)
            return -1;
        if (role == ROLE_RESIDENT)
            concern_if_unsure(s, &v);
        out->confidence = v.p;
        win = intent_for_label(s, m, nc, v.label_no);
        score = s->intents[win].priority;
        for (size_t k = 0; k < nc; k++)
            if (m->cands[k].intent == win)
                score = m->cands[k].score;
    } else if (win == SIZE_MAX && nc > 0) {
        win = m->cands[0].intent;
        score = m->cands[0].score;
        out->confidence = 1.0;
    } else if (win != SIZE_MAX) {
        out->confidence = 1.0;
    }
    if (win == SIZE_MAX)
        return 0;

    const struct intent *w = &s->intents[win];
    out->kind = w->kind;
    out->intent = w->name;
    out->label = w->label;
    out->title = w->title;
    out->priority = score;
    out->needs = (const char *const *)w->needs;
    out->certain = out->by_rule || out->confidence >= s->confirm_below;
    out->review = w->kind == INTENT_CONCERN && !out->by_rule && out->confidence < s->review_below;
    /* Slots from the winner first, then the other intents of its label
     * (a rule and its learned sibling share what they capture). */
    fill_slots(w, m, norm, nlen, out);
    for (size_t i = 0; i < s->n; i++)
        if (i != win && s->intents[i].label_no == w->label_no)
            fill_slots(&s->intents[i], m, norm, nlen, out);
    return 0;
}

bool intent_label_for_role(const char *label, enum intent_role role)
{
    bool command = strncmp(label, "cmd.", 4) == 0;
    if (role == ROLE_RESIDENT)
        return !command;
    /* A deputy gives commands, and may greet or thank like anyone. */
    return command || strcmp(label, "chat.greeting") == 0 || strcmp(label, "chat.thanks") == 0;
}

bool intents_intent_matches(const struct intent *it, struct intent_matcher *m, const char *text)
{
    for (size_t p = 0; p < it->npatterns; p++)
        if (!it->patterns[p].capture_only &&
            pcre2_match(it->patterns[p].code, (PCRE2_SPTR)text, strlen(text), 0,
                        PCRE2_NO_UTF_CHECK, m->md, NULL) >= 0)
            return true;
    return false;
}

const char *intent_slot(const struct intent_result *r, const char *name)
{
    for (size_t i = 0; i < r->nslots; i++)
        if (strcmp(r->slots[i].name, name) == 0)
            return r->slots[i].value;
    return NULL;
}
