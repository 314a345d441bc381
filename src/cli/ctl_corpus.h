#ifndef MASHANG_CTL_CORPUS_H
#define MASHANG_CTL_CORPUS_H
/* A labelled corpus file in memory (ctl_corpus.c). */
#include <stddef.h>
#include <sys/types.h>

struct sample {
    char *label;     /* owned */
    char *text;      /* owned */
    int line;
};

struct corpus {
    struct sample *v;
    size_t n, cap;
};

/* Reads `label<TAB>text` lines; blank lines and '#' lines are skipped, a
 * line without a TAB is reported and skipped.  -1 (reported) on failure. */
int corpus_load(const char *path, struct corpus *c);
void corpus_free(struct corpus *c);

/* Drops a trailing newline (and CR) from a getline() line. */
void ctl_chomp(char *line, ssize_t *len);

#endif
