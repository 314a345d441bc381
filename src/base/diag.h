#ifndef MASHANG_DIAG_H
#define MASHANG_DIAG_H
/* A list of human-readable problems ("file:line: message" or
 * "file: $.json.path: message") collected while loading files, so that
 * --check and reload can report every problem at once. */
#include <stddef.h>
#include <stdio.h>

struct diag {
    char **items;
    size_t n, cap;
};

void diag_init(struct diag *d);
/* printf-style; never fails visibly (an allocation failure drops the item). */
void diag_add(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_print(const struct diag *d, FILE *out);
void diag_free(struct diag *d);

#endif
