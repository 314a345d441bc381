/* form_parse: Kannel's GET query / POST body, straight from the network.
 * Checks beyond "no crash": every decoded value is NUL-terminated at its
 * length, and url_encode() output always parses back to the same bytes. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct form f;

    if (form_parse((const char *)data, size, &f) == 0) {
        for (size_t i = 0; i < f.n; i++) {
            FUZZ_CHECK(f.fields[i].name != NULL && f.fields[i].value != NULL);
            FUZZ_CHECK(f.fields[i].value[f.fields[i].len] == '\0');
            FUZZ_CHECK(f.fields[i].len <= size);
            FUZZ_CHECK(form_get(&f, f.fields[i].name) != NULL);
        }
        form_get(&f, "text");
        form_free(&f);
    } else {
        FUZZ_CHECK(f.n == 0 && f.fields == NULL);
    }

    /* Round trip: encode the raw bytes as one value and decode them. */
    char *enc = url_encode((const char *)data, size);
    FUZZ_CHECK(enc != NULL);
    size_t elen = strlen(enc);
    char *query = malloc(elen + 3);
    FUZZ_CHECK(query != NULL);
    memcpy(query, "v=", 2);
    memcpy(query + 2, enc, elen + 1);
    FUZZ_CHECK(form_parse(query, elen + 2, &f) == 0);
    FUZZ_CHECK(f.n == 1);
    FUZZ_CHECK(f.fields[0].len == size);
    FUZZ_CHECK(size == 0 || memcmp(f.fields[0].value, data, size) == 0);
    form_free(&f);
    free(query);
    free(enc);
    return 0;
}
