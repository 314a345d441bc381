#ifndef MASHANG_STORE_H
#define MASHANG_STORE_H
/* The daemon's Redis: hiredis async on the libevent loop, one connection
 * per node shared by the stores of a worker (one store per namespace),
 * reconnecting with backoff, with the embedded Lua scripts (src/store/lua/),
 * one Redis 7 function library, loaded on every connection (FUNCTION LOAD;
 * its name carries a hash of its code) and called by FCALL (loading it
 * again and retrying once when Redis answers "Function not found").  All
 * keys of a store live under "{ns}:" so that every key a script touches
 * shares one Redis Cluster hash slot. */
#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

struct event_base;
struct store;
struct store_pool;

enum store_script {
    SCRIPT_STEP = 0,       /* one inbound message: dedupe, case work, replies */
    SCRIPT_OUTBOX_CLAIM,   /* lease due outbound messages to this instance */
    SCRIPT_OUTBOX_RESULT,  /* record a send: sent, retry later, or dead */
    SCRIPT_DLR,            /* record a delivery report */
    SCRIPT_ADMIN,          /* administrators' reads and reassignment */
    SCRIPT_WECHAT,         /* WeChat events, token cache, window counters, held updates */
    SCRIPT_COUNT
};

/* `reply` is NULL when the command could not complete (connection lost);
 * an error reply arrives as REDIS_REPLY_ERROR.  The reply is freed by
 * the store after the callback returns. */
typedef void (*store_reply_fn)(redisReply *reply, void *arg);
typedef void (*store_event_fn)(void *arg);

/* A worker's connections to Redis, one per node, shared by its stores
 * (one store per tenant: the counties one Redis serves share one
 * connection).  Parses `url` (redis://[:password@]host:port[,host:port…][/db]
 * or unix:///path); NULL on a bad URL or OOM. */
struct store_pool *store_pool_new(struct event_base *base, const char *url);
/* Closes every connection: the callbacks of commands in flight run with
 * NULL.  Free the pool's stores first (store_free), the pool last. */
void store_pool_free(struct store_pool *p);

/* A store for the keys "{ns}:…", on `pool`'s connections; starts
 * connecting.  NULL on OOM. */
struct store *store_new(struct store_pool *pool, const char *ns);
/* Leaves the connection; its commands in flight are answered (or get
 * NULL when the pool is freed). */
void store_free(struct store *s);

/* Called after every successful (re)connect, once the library is loaded. */
void store_on_ready(struct store *s, store_event_fn fn, void *arg);

bool store_connected(const struct store *s);
/* From store_new until the first connection is ready, unless that first
 * attempt failed (then Redis is away, not merely starting up). */
bool store_starting(const struct store *s);
/* "{mashang}:" */
const char *store_prefix(const struct store *s);
/* Commands sent and not yet answered. */
size_t store_pending(const struct store *s);

/* Sends a command; argv entries are binary-safe with lengths (NULL
 * lengths: strlen).  Returns 0, or -1 when disconnected (then `fn` is
 * not called). */
int store_command(struct store *s, store_reply_fn fn, void *arg,
                  int argc, const char **argv, const size_t *argvlen);

/* Calls a script's function with KEYS[1] = the prefix and the given ARGV. */
int store_script(struct store *s, enum store_script which, store_reply_fn fn, void *arg,
                 int argc, const char **argv, const size_t *argvlen);

#endif
