/* One worker's connections to Redis, one per node, shared by its stores.
 *
 * A deployment with many counties has a store per county in every worker;
 * their namespaces hash to slots spread over a cluster's masters, so the
 * stores of the counties one master serves share its one connection.
 * Redis answers the commands of one connection in order, so a user's
 * commands stay in order too; what the pool sends first on a connection
 * (AUTH, SELECT, FUNCTION LOAD) is answered before anything of a user. */
#include "store/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "base/log.h"

/* The Redis 7 function library, embedded by scripts/embed.sh from
 * src/store/lua/ as joined by scripts/lua-join.sh (docs/lua.md).  Its
 * first line names it: "#!lua name=mashang_<hash of its code>". */
extern const char lua_mashang[];
extern const size_t lua_mashang_len;

#define POOL_MAX_SEEDS 16
#define POOL_MAX_NODES 64      /* nodes remembered from the last slot map */
#define LIBRARY_NAME_MAX 64

struct pool_conn {
    struct store_pool *pool;
    struct pool_conn *next;
    struct cluster_node node;
    redisAsyncContext *ac;     /* NULL once hiredis has let it go */
    bool up;
    int users;
};

struct store_pool {
    struct event_base *base;
    char *unix_path;
    char *password;
    int db;
    struct cluster_node seeds[POOL_MAX_SEEDS];
    size_t nseeds;
    struct cluster_node nodes[POOL_MAX_NODES];
    size_t nnodes;
    struct pool_conn *conns;
    struct pool_user *users;
    char library[LIBRARY_NAME_MAX + 1];
    bool closing;
};

/* ---- the URL ------------------------------------------------------------- */

static int parse_url(struct store_pool *p, const char *url)
{
    if (strncmp(url, "unix://", 7) == 0) {
        p->unix_path = strdup(url + 7);
        return p->unix_path && *p->unix_path ? 0 : -1;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *s = url + 8;
    const char *at = strchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        const char *pw = colon ? colon + 1 : s;
        p->password = strndup(pw, (size_t)(at - pw));
        s = at + 1;
    }
    const char *slash = strchr(s, '/');
    const char *end = slash ? slash : s + strlen(s);
    /* host[:port][,host[:port]]…: several seeds name nodes of one cluster. */
    char list[POOL_MAX_SEEDS * (CLUSTER_HOST_MAX + 8)];
    size_t n = 0;
    for (const char *q = s; q < end;) {
        const char *comma = memchr(q, ',', (size_t)(end - q));
        const char *stop = comma ? comma : end;
        const char *colon = memchr(q, ':', (size_t)(stop - q));
        int w = snprintf(list + n, sizeof(list) - n, "%s%.*s%s", n ? "," : "", (int)(stop - q), q,
                         colon ? "" : ":6379");
        if (w < 0 || (size_t)w >= sizeof(list) - n)
            return -1;
        n += (size_t)w;
        q = comma ? comma + 1 : end;
        if (comma && q == end)
            return -1;
    }
    int nseeds = cluster_parse_seeds(list, p->seeds, POOL_MAX_SEEDS);
    if (nseeds <= 0)
        return -1;
    p->nseeds = (size_t)nseeds;
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0)
            return -1;
        p->db = (int)db;
    }
    return 0;
}

/* The library's name from its first line; -1 when it has none. */
static int library_name(char *out, size_t size)
{
    static const char head[] = "#!lua name=";
    if (lua_mashang_len < sizeof(head) - 1 || strncmp(lua_mashang, head, sizeof(head) - 1) != 0)
        return -1;
    const char *name = lua_mashang + sizeof(head) - 1;
    size_t n = strcspn(name, " \n");
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, name, n);
    out[n] = '\0';
    return 0;
}

struct store_pool *pool_new(struct event_base *base, const char *url)
{
    struct store_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    if (parse_url(p, url) < 0 || library_name(p->library, sizeof(p->library)) < 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

/* ---- connections ---------------------------------------------------------- */

static bool same_node(const struct cluster_node *a, const struct cluster_node *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void conn_unlink(struct pool_conn *c)
{
    for (struct pool_conn **pp = &c->pool->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            return;
        }
}

/* Every user of `c` hears it is gone; `c` is freed (by pool_free when the
 * pool is closing). */
static void conn_gone(struct pool_conn *c, bool failed)
{
    struct store_pool *p = c->pool;
    c->ac = NULL;
    c->up = false;
    if (p->closing)
        return;
    conn_unlink(c);
    for (struct pool_user *u = p->users; u;) {
        struct pool_user *next = u->next;   /* down() may re-attach u */
        if (u->conn == c) {
            u->conn = NULL;
            u->down(u, failed);
        }
        u = next;
    }
    free(c);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    const char *what = priv;
    (void)ac;
    /* The library is named after its code: the same name is the same code. */
    if (reply && reply->type == REDIS_REPLY_ERROR && !strstr(reply->str, "already exists"))
        log_error("redis_setup_failed", "step=%s error=%s", what, LOG_STR(reply->str));
}

static void send_library(redisAsyncContext *ac)
{
    redisAsyncCommand(ac, on_setup_reply, "function_load", "FUNCTION LOAD %b", lua_mashang,
                      lua_mashang_len);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct pool_conn *c = cac->data;
    if (status != REDIS_OK) {
        log_warn("redis_connect_failed", "node=%s:%d error=%s", LOG_STR(c->node.host), c->node.port,
                 LOG_STR(cac->errstr));
        conn_gone(c, true);   /* hiredis frees the context after this callback */
        return;
    }
    redisAsyncContext *ac = c->ac;
    if (c->pool->password)
        redisAsyncCommand(ac, on_setup_reply, "auth", "AUTH %s", c->pool->password);
    if (c->pool->db)
        redisAsyncCommand(ac, on_setup_reply, "select", "SELECT %d", c->pool->db);
    /* CLIENT LIST shows the daemon's connections by name. */
    redisAsyncCommand(ac, on_setup_reply, "setname", "CLIENT SETNAME mashangd");
    send_library(ac);
    c->up = true;
    for (struct pool_user *u = c->pool->users; u; u = u->next)
        if (u->conn == c)
            u->up(u);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct pool_conn *c = ac->data;
    if (status != REDIS_OK && !c->pool->closing)
        log_warn("redis_disconnected", "node=%s:%d error=%s", LOG_STR(c->node.host), c->node.port,
                 LOG_STR(ac->errstr));
    conn_gone(c, status != REDIS_OK);
}

static struct pool_conn *conn_open(struct store_pool *p, const struct cluster_node *node)
{
    struct pool_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->pool = p;
    c->node = *node;
    c->ac = p->unix_path ? redisAsyncConnectUnix(p->unix_path) : redisAsyncConnect(node->host, node->port);
    if (!c->ac || c->ac->err) {
        log_warn("redis_connect_failed", "node=%s:%d error=%s", LOG_STR(node->host), node->port,
                 LOG_STR(c->ac ? c->ac->errstr : "out of memory"));
        if (c->ac)
            redisAsyncFree(c->ac);
        free(c);
        return NULL;
    }
    c->ac->data = c;
    redisLibeventAttach(c->ac, p->base);
    redisAsyncSetConnectCallback(c->ac, on_connect);
    redisAsyncSetDisconnectCallback(c->ac, on_disconnect);
    c->next = p->conns;
    p->conns = c;
    return c;
}

void pool_register(struct store_pool *p, struct pool_user *u)
{
    u->conn = NULL;
    u->next = p->users;
    p->users = u;
}

void pool_unregister(struct store_pool *p, struct pool_user *u)
{
    pool_detach(p, u);
    for (struct pool_user **pp = &p->users; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            return;
        }
}

void pool_detach(struct store_pool *p, struct pool_user *u)
{
    struct pool_conn *c = u->conn;
    if (!c)
        return;
    u->conn = NULL;
    if (--c->users > 0 || !c->ac || p->closing)
        return;
    /* The last user gone: close once what was sent is answered.  A
     * connection still being made has nothing in flight, and hiredis
     * would free it without a disconnect callback: let it go now. */
    if (c->up) {
        redisAsyncDisconnect(c->ac);
        return;
    }
    conn_unlink(c);
    redisAsyncFree(c->ac);
    free(c);
}

void pool_attach(struct store_pool *p, struct pool_user *u, const struct cluster_node *node)
{
    pool_detach(p, u);
    struct pool_conn *c = p->conns;
    while (c && !(c->ac && !(c->ac->c.flags & REDIS_DISCONNECTING) && (p->unix_path || same_node(&c->node, node))))
        c = c->next;
    if (!c && !(c = conn_open(p, node))) {
        u->down(u, true);
        return;
    }
    c->users++;
    u->conn = c;
    if (c->up)
        u->up(u);
}

redisAsyncContext *pool_context(const struct pool_user *u)
{
    return u->conn && u->conn->up ? u->conn->ac : NULL;
}

const struct cluster_node *pool_node(const struct pool_user *u)
{
    return &u->conn->node;
}

void pool_load_library(const struct pool_user *u)
{
    redisAsyncContext *ac = pool_context(u);
    if (ac)
        send_library(ac);
}

/* ---- nodes ------------------------------------------------------------------ */

struct event_base *pool_base(const struct store_pool *p)
{
    return p->base;
}

bool pool_is_unix(const struct store_pool *p)
{
    return p->unix_path != NULL;
}

const struct cluster_node *pool_first_node(const struct store_pool *p)
{
    return &p->seeds[0];
}

bool pool_next_node(const struct store_pool *p, size_t i, struct cluster_node *out)
{
    size_t n = p->nseeds + p->nnodes;
    if (p->unix_path || n <= 1)
        return false;
    i %= n;
    *out = i < p->nseeds ? p->seeds[i] : p->nodes[i - p->nseeds];
    return true;
}

void pool_remember_nodes(struct store_pool *p, const redisReply *slots)
{
    p->nnodes = cluster_slot_nodes(slots, p->nodes, POOL_MAX_NODES);
}

const char *pool_library(const struct store_pool *p)
{
    return p->library;
}

void pool_free(struct store_pool *p)
{
    if (!p)
        return;
    p->closing = true;
    /* redisAsyncFree runs the pending callbacks (NULL replies) and, for a
     * connection that was up, the disconnect callback (which leaves the
     * connection to us while closing). */
    for (struct pool_conn *c = p->conns, *next; c; c = next) {
        next = c->next;
        if (c->ac)
            redisAsyncFree(c->ac);
        free(c);
    }
    p->conns = NULL;
    free(p->unix_path);
    free(p->password);
    free(p);
}
