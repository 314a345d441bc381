#ifndef MASHANG_FUZZ_COMMON_H
#define MASHANG_FUZZ_COMMON_H
/* Helpers shared by the libFuzzer targets in this directory.  Header-only
 * (every function static) so each target stays one translation unit.
 *
 * libFuzzer calls LLVMFuzzerTestOneInput once per input in one process:
 * anything expensive (OpenCC, compiled intents, a temp directory) is made
 * once and kept in a function-local static.  That is the only mutable
 * state here, and it belongs to the harness, never to the code under test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"

/* Aborts with a message: libFuzzer records the input as a crash. */
#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* A malloc'd NUL-terminated copy of data[0..size) (the input may hold NULs:
 * C-string APIs then see a prefix, which is what a real caller would pass). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits data at the first NUL: the part before it becomes a malloc'd
 * string in *head, the rest is returned in *rest and *restlen.  Lets one input
 * carry a small parameter (a header, a prefix) plus a body. */
static inline char *fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *restlen)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    *rest = nul ? nul + 1 : data + size;
    *restlen = nul ? size - hlen - 1 : 0;
    return fuzz_cstr(data, hlen);
}

/* Text for targets that want valid UTF-8: the input itself when it is
 * valid, else the input read as UTF-16BE (so random bytes become CJK text
 * the intents can match instead of bouncing off the UTF-8 check).  Returns
 * a malloc'd NUL-terminated string and its length, or NULL if neither
 * reading works. */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t *len)
{
    if (utf8_valid((const char *)data, size)) {
        *len = size;
        return fuzz_cstr(data, size);
    }
    return utf16be_to_utf8(data, size & ~(size_t)1, len);
}

/* A private directory under $TMPDIR made once per process and removed at
 * exit (files left in it are removed by fuzz_write_file's caller list). */
static inline const char *fuzz_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/mashang-fuzz-XXXXXX", base && *base ? base : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    return dir;
}

/* Overwrites dir/name with data[0..size); returns the path (static buffer,
 * valid until the next call). */
static inline const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    return path;
}

/* Removes the files a target wrote and its directory; registered with
 * atexit so repeated runs do not litter /tmp. */
static const char *const *fuzz_cleanup_names;
static inline void fuzz_cleanup(void)
{
    char path[512];
    for (const char *const *n = fuzz_cleanup_names; n && *n; n++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), *n);
        unlink(path);
    }
    rmdir(fuzz_tmpdir());
}
static inline void fuzz_cleanup_at_exit(const char *const *names)
{
    fuzz_cleanup_names = names;
    atexit(fuzz_cleanup);
}

#endif
