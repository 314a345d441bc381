#ifndef MASHANG_STORE_POOL_H
#define MASHANG_STORE_POOL_H
/* Inside the store layer: one worker's connections to Redis, one per
 * node, shared by its stores (one store per tenant, store.c).  A store is
 * a pool_user: it attaches to the connection of the node it wants and is
 * told when that connection is up and when it went away.  The pool owns
 * the connections: it opens one when the first user attaches, sends what
 * every connection needs first (AUTH, SELECT, the function library) and
 * closes it when the last user leaves. */
#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>

#include "store/cluster.h"

struct event_base;
struct store_pool;
struct pool_conn;

struct pool_user {
    struct pool_user *next;                 /* the pool's list of users */
    struct pool_conn *conn;                 /* attached to, or NULL */
    /* The attached connection is up (AUTH, SELECT and the library sent
     * before anything the user sends). */
    void (*up)(struct pool_user *u);
    /* The attached connection went away (u->conn is NULL already);
     * `failed`: it could not connect or was cut, rather than closed. */
    void (*down)(struct pool_user *u, bool failed);
};

/* The seeds and options of a redis:// or unix:// URL; NULL when it is bad. */
struct store_pool *pool_new(struct event_base *base, const char *url);
/* Closes every connection (its callbacks run with NULL replies, no user
 * is told).  Users must not attach afterwards. */
void pool_free(struct store_pool *p);

void pool_register(struct store_pool *p, struct pool_user *u);
void pool_unregister(struct store_pool *p, struct pool_user *u);

/* Attaches `u` (detached first if needed) to the connection of `node`,
 * opening it if none is; u->up runs once it is up, at once when it
 * already is. */
void pool_attach(struct store_pool *p, struct pool_user *u, const struct cluster_node *node);
void pool_detach(struct store_pool *p, struct pool_user *u);

/* The attached connection's context while it is up, else NULL. */
redisAsyncContext *pool_context(const struct pool_user *u);
/* The node of the attached connection (u attached). */
const struct cluster_node *pool_node(const struct pool_user *u);
/* The `i`-th node to try when the previous one failed: the seeds, then
 * the masters and replicas of the last slot map, in turn; false for a
 * unix socket or a single seed and no map (always the same node). */
bool pool_next_node(const struct store_pool *p, size_t i, struct cluster_node *out);
const struct cluster_node *pool_first_node(const struct store_pool *p);
bool pool_is_unix(const struct store_pool *p);
struct event_base *pool_base(const struct store_pool *p);
/* Remembers the nodes of a CLUSTER SLOTS answer for pool_next_node. */
void pool_remember_nodes(struct store_pool *p, const redisReply *slots);

/* The function library's name ("mashang_<hash>") and one function's
 * full name. */
const char *pool_library(const struct store_pool *p);
/* Sends the library again on u's connection (after "Function not found"). */
void pool_load_library(const struct pool_user *u);

#endif
