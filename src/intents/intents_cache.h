#ifndef MASHANG_INTENTS_CACHE_H
#define MASHANG_INTENTS_CACHE_H
/* Cache of trained models, private to src/intents/intents*.c (intents_cache.c). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

struct intent_model;

/* SHA-256 (hex) of everything training an intents directory reads. */
int intents_cache_key(const char *dir, char hex[65]);

/* The cached model of `role` ("resident", "deputy") for `key`, or NULL. */
struct intent_model *intents_cache_load(const char *cache_dir, const char *key,
                                        const char *role, size_t npatterns);
/* Stores a model; -1 if it could not (the cache is only an optimisation). */
int intents_cache_save(const char *cache_dir, const char *key, const char *role,
                       const struct intent_model *m);

#endif
