/* Labelled corpora for the intents tools: `label<TAB>text` lines, as
 * `mashangctl intents eval` and `bench` read them. */
#include "cli/ctl_corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_chomp(char *line, ssize_t *len)
{
    while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r'))
        line[--*len] = '\0';
}


void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].label);
        free(c->v[i].text);
    }
    free(c->v);
}

/* Reads `label<TAB>text` lines; blank lines and '#' lines are skipped. */
int corpus_load(const char *path, struct corpus *c)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        ctl_chomp(line, &len);
        if (len == 0 || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            fprintf(stderr, "%s:%d: no TAB between label and text, skipped\n", path, lineno);
            continue;
        }
        *tab = '\0';
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 256;
            struct sample *a = realloc(c->v, nc * sizeof(*a));
            if (!a) {
                rc = -1;
                break;
            }
            c->v = a;
            c->cap = nc;
        }
        struct sample *sm = &c->v[c->n];
        sm->label = strdup(line);
        sm->text = strdup(tab + 1);
        sm->line = lineno;
        if (!sm->label || !sm->text) {
            free(sm->label);
            free(sm->text);
            rc = -1;
            break;
        }
        c->n++;
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        fprintf(stderr, "%s: out of memory\n", path);
        corpus_free(c);
    }
    return rc;
}

