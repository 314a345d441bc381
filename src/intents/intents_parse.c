/* Parser and compiler for one intents file (contract §10, docs/intents.md).
 *
 * Line grammar:
 *   blank | comment | "[" name "]" | key [weight] "=" value
 * A comment starts at a '#' that begins the line (after indentation) or
 * follows a space or tab; a '#' glued to other text ("[#]", "a#b", "\#")
 * is literal, so patterns can still use it.  Problems are collected, not
 * fatal: the parser reports every one as "file:line: message" and keeps
 * going so an administrator sees them all at once. */
#include "intents/intents_internal.h"
#include "intents/intents_prefilter.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct intent_set *set;
    const char *file;         /* display name, owned by the set */
    struct diag *d;
    int errors;
    struct intent *cur;       /* block being filled, or NULL */
    bool seen_kind, seen_label, seen_priority, seen_title, seen_rule;
    bool skipping;            /* inside a block whose header was rejected */
    char *gate_src;           /* owned: "(?:p1)|(?:p2)..." of the current block */
    bool gate_lost;           /* a pattern is missing from gate_src (out of memory) */
};

#define PERR(p, line, ...)                                                    \
    do {                                                                      \
        char msg_[512];                                                       \
        snprintf(msg_, sizeof(msg_), __VA_ARGS__);                            \
        diag_add((p)->d, "%s:%d: %s", (p)->file, (line), msg_);               \
        (p)->errors++;                                                        \
    } while (0)

void intents_free_intent(struct intent *it)
{
    free(it->name);
    free(it->label);
    free(it->title);
    if (it->needs) {
        for (char **n = it->needs; *n; n++)
            free(*n);
        free(it->needs);
    }
    for (size_t i = 0; i < it->npatterns; i++) {
        struct intent_pattern *p = &it->patterns[i];
        pcre2_code_free(p->code);
        for (size_t k = 0; k < p->nnames; k++)
            free(p->names[k].name);
        free(p->names);
    }
    free(it->patterns);
    pcre2_code_free(it->gate);
    for (size_t i = 0; i < it->nexamples; i++)
        free(it->examples[i].text);
    free(it->examples);
    for (size_t i = 0; i < it->ncounters; i++)
        free(it->counters[i].text);
    free(it->counters);
    memset(it, 0, sizeof(*it));
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Cuts the comment off `line` in place (rule in the file comment). */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || is_blank(p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static bool parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < INT_MIN || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* Appends a matching pattern to the block's gate source. */
static void gate_append(struct parser *p, const char *re)
{
    char *g = NULL;
    if (asprintf(&g, "%s%s(?:%s)", p->gate_src ? p->gate_src : "", p->gate_src ? "|" : "",
                 re) < 0) {
        g = NULL;
        p->gate_lost = true;
    }
    free(p->gate_src);
    p->gate_src = g; /* NULL after OOM: the intent just gets no gate */
}

/* The gate is an optimisation only: if the alternation does not compile
 * (e.g. numbered back-references shifted by the wrapping), the intent's
 * patterns are simply all tried. */
static void build_gate(struct parser *p)
{
    struct intent *it = p->cur;
    /* The prefilter must see every matching pattern, or it would drop
     * matches of the missing ones. */
    if (p->gate_src && !p->gate_lost)
        intent_prefilter_add(p->set->prefilter, (size_t)(it - p->set->intents),
                             p->gate_src);
    if (p->gate_src && !p->gate_lost && it->nmatching > 1) {
        int err;
        PCRE2_SIZE off;
        it->gate = pcre2_compile((PCRE2_SPTR)p->gate_src, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_DUPNAMES, &err, &off, NULL);
        if (it->gate)
            pcre2_jit_compile(it->gate, PCRE2_JIT_COMPLETE);
    }
    free(p->gate_src);
    p->gate_src = NULL;
    p->gate_lost = false;
}

/* Checks the block just finished: the things a block cannot do without. */
static void finish_block(struct parser *p)
{
    struct intent *it = p->cur;
    if (!it)
        return;
    if (!p->seen_kind)
        PERR(p, it->line, "[%s]: missing kind", it->name);
    if (!p->seen_label)
        PERR(p, it->line, "[%s]: missing label", it->name);
    build_gate(p);
    if (it->nmatching == 0)
        PERR(p, it->line, "[%s]: no pattern", it->name);
    if (p->seen_kind && p->seen_label) {
        bool cmd = strncmp(it->label, "cmd.", 4) == 0;
        bool chat = strncmp(it->label, "chat.", 5) == 0;
        if (it->kind == INTENT_COMMAND && !cmd)
            PERR(p, it->line, "[%s]: a command's label must start with \"cmd.\"", it->name);
        else if (it->kind == INTENT_CHAT && !chat)
            PERR(p, it->line, "[%s]: a chat intent's label must start with \"chat.\"", it->name);
        else if (it->kind == INTENT_CONCERN && (cmd || chat))
            PERR(p, it->line, "[%s]: a concern's label is a category, not \"%s\"", it->name,
                 it->label);
    }
    p->cur = NULL;
}

static struct intent *find_intent(struct intent_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->intents[i].name, name) == 0)
            return &s->intents[i];
    return NULL;
}

static void start_block(struct parser *p, char *line, int lineno)
{
    finish_block(p);
    free(p->gate_src);
    p->gate_src = NULL;
    p->gate_lost = false;
    p->skipping = true;
    char *close = strchr(line, ']');
    if (!close) {
        PERR(p, lineno, "missing ']' in block header");
        return;
    }
    *close = '\0';
    if (*trim(close + 1)) {
        PERR(p, lineno, "text after ']' in block header");
        return;
    }
    char *name = trim(line + 1);
    if (!valid_name(name)) {
        PERR(p, lineno, "bad intent name \"%s\" (letters, digits, _ - . only)", name);
        return;
    }
    struct intent *dup = find_intent(p->set, name);
    if (dup) {
        PERR(p, lineno, "duplicate intent [%s] (first at %s:%d)", name, dup->file, dup->line);
        return;
    }
    struct intent_set *s = p->set;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct intent *a = realloc(s->intents, cap * sizeof(*a));
        if (!a) {
            PERR(p, lineno, "out of memory");
            return;
        }
        s->intents = a;
        s->cap = cap;
    }
    struct intent *it = &s->intents[s->n];
    memset(it, 0, sizeof(*it));
    it->name = strdup(name);
    it->needs = calloc(1, sizeof(char *));
    if (!it->name || !it->needs) {
        free(it->name);
        free(it->needs);
        PERR(p, lineno, "out of memory");
        return;
    }
    it->file = p->file;
    it->line = lineno;
    it->order = s->n;
    it->priority = 0;
    s->n++;
    p->cur = it;
    p->skipping = false;
    p->seen_kind = p->seen_label = p->seen_priority = p->seen_title = p->seen_rule = false;
}

static int add_text(struct intent_text **arr, size_t *n, size_t *cap, const char *text, int line)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        struct intent_text *a = realloc(*arr, c * sizeof(*a));
        if (!a)
            return -1;
        *arr = a;
        *cap = c;
    }
    char *t = strdup(text);
    if (!t)
        return -1;
    (*arr)[*n].text = t;
    (*arr)[*n].line = line;
    (*n)++;
    return 0;
}

/* Reads the named groups of a compiled pattern into slot descriptors. */
static int collect_names(struct intent_pattern *pat)
{
    uint32_t count = 0, entry = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(pat->code, PCRE2_INFO_CAPTURECOUNT, &pat->ngroups);
    pcre2_pattern_info(pat->code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0)
        return 0;
    pcre2_pattern_info(pat->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(pat->code, PCRE2_INFO_NAMETABLE, &table);
    pat->names = calloc(count, sizeof(*pat->names));
    if (!pat->names)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry;
        pat->names[i].group = ((uint32_t)e[0] << 8) | e[1];
        pat->names[i].name = strdup((const char *)e + 2);
        if (!pat->names[i].name)
            return -1;
        pat->nnames++;
    }
    return 0;
}

static void add_pattern(struct parser *p, const char *re, int weight, bool capture_only,
                        int lineno)
{
    struct intent *it = p->cur;
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        PERR(p, lineno, "bad pattern: %s at offset %zu", (const char *)msg, (size_t)off);
        return;
    }
    /* JIT is an optimisation: without it (e.g. an unsupported CPU)
     * pcre2_match() interprets the same code. */
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    if (it->npatterns == it->patcap) {
        size_t c = it->patcap ? it->patcap * 2 : 8;
        struct intent_pattern *a = realloc(it->patterns, c * sizeof(*a));
        if (!a) {
            pcre2_code_free(code);
            PERR(p, lineno, "out of memory");
            return;
        }
        it->patterns = a;
        it->patcap = c;
    }
    struct intent_pattern *pat = &it->patterns[it->npatterns++];
    memset(pat, 0, sizeof(*pat));
    pat->code = code;
    pat->weight = weight;
    pat->line = lineno;
    pat->capture_only = capture_only;
    if (!capture_only) {
        it->nmatching++;
        gate_append(p, re);
    }
    if (collect_names(pat) < 0) {
        PERR(p, lineno, "out of memory");
        return;
    }
    if (pat->ngroups > p->set->max_groups)
        p->set->max_groups = pat->ngroups;
}

static void set_needs(struct parser *p, char *value, int lineno)
{
    struct intent *it = p->cur;
    size_t n = 0;
    while (it->needs[n])
        n++;
    for (char *tok = strtok(value, " ,\t"); tok; tok = strtok(NULL, " ,\t")) {
        if (!valid_name(tok)) {
            PERR(p, lineno, "bad slot name \"%s\" in needs", tok);
            continue;
        }
        char **a = realloc(it->needs, (n + 2) * sizeof(*a));
        if (!a) {
            PERR(p, lineno, "out of memory");
            return;
        }
        it->needs = a;
        it->needs[n] = strdup(tok);
        if (!it->needs[n]) {
            PERR(p, lineno, "out of memory");
            return;
        }
        it->needs[++n] = NULL;
    }
}

static bool set_once(struct parser *p, bool *seen, const char *key, int lineno)
{
    if (*seen) {
        PERR(p, lineno, "duplicate %s in [%s]", key, p->cur->name);
        return false;
    }
    *seen = true;
    return true;
}

static void key_value(struct parser *p, char *line, int lineno)
{
    char *eq = strchr(line, '=');
    if (!eq) {
        PERR(p, lineno, "expected \"key = value\"");
        return;
    }
    *eq = '\0';
    char *key = trim(line);
    char *value = trim(eq + 1);
    if (!p->cur) {
        PERR(p, lineno, "\"%s\" outside an [intent] block", key);
        return;
    }
    /* "pattern +20 = ..." carries a weight; split it off the key. */
    int weight = 0;
    bool has_weight = false;
    char *sp = key;
    while (*sp && !is_blank(*sp))
        sp++;
    if (*sp) {
        *sp = '\0';
        char *w = trim(sp + 1);
        if (!parse_int(w, &weight)) {
            PERR(p, lineno, "bad weight \"%s\" (an integer, e.g. pattern +10 = ...)", w);
            return;
        }
        has_weight = true;
    }
    if (has_weight && strcmp(key, "pattern") != 0) {
        PERR(p, lineno, "only pattern takes a weight, not %s", key);
        return;
    }
    if (!*value) {
        PERR(p, lineno, "empty value for %s", key);
        return;
    }
    struct intent *it = p->cur;
    if (strcmp(key, "pattern") == 0) {
        add_pattern(p, value, weight, false, lineno);
    } else if (strcmp(key, "capture") == 0) {
        add_pattern(p, value, 0, true, lineno);
    } else if (strcmp(key, "kind") == 0) {
        if (!set_once(p, &p->seen_kind, key, lineno))
            return;
        if (strcmp(value, "concern") == 0)
            it->kind = INTENT_CONCERN;
        else if (strcmp(value, "chat") == 0)
            it->kind = INTENT_CHAT;
        else if (strcmp(value, "command") == 0)
            it->kind = INTENT_COMMAND;
        else {
            p->seen_kind = false;
            PERR(p, lineno, "bad kind \"%s\" (concern, chat or command)", value);
        }
    } else if (strcmp(key, "label") == 0) {
        if (!set_once(p, &p->seen_label, key, lineno))
            return;
        if (!valid_name(value)) {
            p->seen_label = false;
            PERR(p, lineno, "bad label \"%s\"", value);
            return;
        }
        if (!(it->label = strdup(value))) {
            p->seen_label = false;
            PERR(p, lineno, "out of memory");
        }
    } else if (strcmp(key, "title") == 0) {
        if (!set_once(p, &p->seen_title, key, lineno))
            return;
        if (!(it->title = strdup(value)))
            PERR(p, lineno, "out of memory");
    } else if (strcmp(key, "priority") == 0) {
        if (!set_once(p, &p->seen_priority, key, lineno))
            return;
        if (!parse_int(value, &it->priority))
            PERR(p, lineno, "bad priority \"%s\" (an integer)", value);
    } else if (strcmp(key, "rule") == 0) {
        if (!set_once(p, &p->seen_rule, key, lineno))
            return;
        if (strcmp(value, "yes") == 0)
            it->rule = true;
        else if (strcmp(value, "no") == 0)
            it->rule = false;
        else
            PERR(p, lineno, "bad rule \"%s\" (yes or no)", value);
    } else if (strcmp(key, "needs") == 0) {
        set_needs(p, value, lineno);
    } else if (strcmp(key, "example") == 0) {
        if (add_text(&it->examples, &it->nexamples, &it->excap, value, lineno) < 0)
            PERR(p, lineno, "out of memory");
    } else if (strcmp(key, "counter") == 0) {
        if (add_text(&it->counters, &it->ncounters, &it->cocap, value, lineno) < 0)
            PERR(p, lineno, "out of memory");
    } else {
        PERR(p, lineno, "unknown key \"%s\"", key);
    }
}

int intents_parse_file(struct intent_set *s, const char *path, const char *display,
                       struct diag *d)
{
    struct parser p = { .set = s, .file = display, .d = d };
    FILE *f = fopen(path, "r");
    if (!f) {
        diag_add(d, "%s: cannot open: %s", display, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            PERR(&p, lineno, "NUL byte in line");
            continue;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        /* A UTF-8 byte-order mark some editors add is not part of line 1. */
        char *l = line;
        if (lineno == 1 && strncmp(l, "\xEF\xBB\xBF", 3) == 0)
            l += 3;
        strip_comment(l);
        l = trim(l);
        if (!*l)
            continue;
        if (*l == '[')
            start_block(&p, l, lineno);
        else if (!p.skipping) /* a rejected block's keys would only repeat its error */
            key_value(&p, l, lineno);
    }
    finish_block(&p);
    free(p.gate_src);
    free(line);
    if (ferror(f)) {
        diag_add(d, "%s: read error", display);
        p.errors++;
    }
    fclose(f);
    return p.errors;
}
