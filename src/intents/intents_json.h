#ifndef MASHANG_INTENTS_JSON_H
#define MASHANG_INTENTS_JSON_H
/* How a text was read, as JSON: the one document that both
 * `mashangctl intents test --json` and `POST /admin/intents/test` print
 * (contract §1: text, normalized, intent, kind, label, slots, candidates,
 * and the time taken in µs). */
#include <jansson.h>
#include <stddef.h>

#include "intents/intents.h"

const char *intent_kind_name(enum intent_kind k);

/* A new object; `r` and `normalized` NULL when the text was refused
 * (then it carries "error"). */
json_t *intent_result_json(const char *text, size_t len, const char *normalized,
                           const struct intent_result *r, double us);

#endif
