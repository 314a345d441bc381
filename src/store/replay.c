/* Replay windows for signed requests; see replay.h. */
#include "store/replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store.h"

/* The one definition of the key: {ns}:replay:<scope>:<id>. */
static char *replay_key(struct store *s, const char *scope, const char *id)
{
    char *key = NULL;
    if (asprintf(&key, "%sreplay:%s:%s", store_prefix(s), scope, id) < 0)
        return NULL;
    return key;
}

/* One claim in flight.  Owns `key` and `digest`; freed by the last callback. */
struct claim {
    struct store *store;
    char *key;
    char *digest;
    replay_fn fn;
    void *arg;
};

static void claim_done(struct claim *c, enum replay_verdict v)
{
    c->fn(v, c->arg);
    free(c->key);
    free(c->digest);
    free(c);
}

static void on_get(redisReply *r, void *arg)
{
    struct claim *c = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        claim_done(c, REPLAY_UNCHECKED);
        return;
    }
    /* The claim expired between SET and GET: the window is over, and the
     * caller's own timestamp check refuses what is that old. */
    bool same = r->type == REDIS_REPLY_STRING && strcmp(r->str, c->digest) == 0;
    claim_done(c, same || r->type == REDIS_REPLY_NIL ? REPLAY_SAME : REPLAY_OTHER);
}

static void on_set(redisReply *r, void *arg)
{
    struct claim *c = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            log_error("replay_check_failed", "error=%s", LOG_STR(r->str));
        claim_done(c, REPLAY_UNCHECKED);
        return;
    }
    if (r->type != REDIS_REPLY_NIL) {
        claim_done(c, REPLAY_FIRST);
        return;
    }
    /* Seen before: which request holds it tells a sender's retry of the
     * same request from another body under a leaked query string. */
    const char *argv[] = { "GET", c->key };
    if (store_command(c->store, on_get, c, 2, argv, NULL) < 0)
        claim_done(c, REPLAY_UNCHECKED);
}

void replay_claim(struct store *s, const char *scope, const char *id, const char *digest,
                  long ttl_s, replay_fn fn, void *arg)
{
    struct claim *c = calloc(1, sizeof(*c));
    char ttl[24];
    if (!c || !(c->key = replay_key(s, scope, id)) || !(c->digest = strdup(digest ? digest : ""))) {
        if (c)
            free(c->key);
        free(c);
        fn(REPLAY_UNCHECKED, arg);
        return;
    }
    c->store = s;
    c->fn = fn;
    c->arg = arg;
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s > 0 ? ttl_s : 1);
    const char *argv[] = { "SET", c->key, c->digest, "NX", "EX", ttl };
    if (store_command(s, on_set, c, 6, argv, NULL) < 0)
        claim_done(c, REPLAY_UNCHECKED);
}

static void on_released(redisReply *r, void *arg)
{
    (void)arg;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("replay_release_failed", "error=%s", LOG_STR(r->str));
}

void replay_release(struct store *s, const char *scope, const char *id)
{
    char *key = replay_key(s, scope, id);
    if (!key)
        return;
    const char *argv[] = { "DEL", key };
    store_command(s, on_released, NULL, 2, argv, NULL);
    free(key);
}
