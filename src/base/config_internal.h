#ifndef MASHANG_CONFIG_INTERNAL_H
#define MASHANG_CONFIG_INTERNAL_H
/* Shared by config.c and config_tenants.c only. */
#include <jansson.h>
#include <stdbool.h>

#include "base/config.h"
#include "base/jsonv.h"

/* `rel` against `dir` (absolute paths as they are); malloc'd, NULL on OOM. */
char *config_path_join(const char *dir, const char *rel);
/* A case or common-issue number prefix: 1-3 ASCII letters. */
bool config_prefix_ok(const char *s);
/* "tenants", after every top-level field is loaded: fills c->tenants
 * (one "default" tenant from the top-level fields when absent). */
void config_load_tenants(struct jv *v, json_t *root, struct config *c);
void config_free_tenants(struct config *c);

#endif
