/* One namespace's Redis: finding the node that serves it, reconnecting
 * with backoff, and commands and function calls.
 *
 * A store rides the worker's shared connection to that node (pool.c): the
 * stores of every county one Redis serves share its one connection.
 *
 * Against a Redis Cluster (the server answers CLUSTER SLOTS) the store
 * talks to the master of the one slot its keys hash to ("{ns}:"): once
 * attached to a node it asks the slot map and, when that node is not the
 * master, moves to the master.  A -MOVED answer (the slot moved for good)
 * sends it to the new owner; the command is reported as not done (NULL),
 * as for a lost connection, so the caller spools or retries it.  -ASK and
 * -TRYAGAIN (the slot is being migrated) are not followed: the scripts
 * touch keys they cannot declare, and half of them may have moved, so
 * they come back as errors and the message waits in the spool until the
 * migration is over.  When the master dies, the store tries the other
 * nodes in turn until one names the promoted replica. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "base/log.h"
#include "store/cluster.h"
#include "store/pool.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STORE_MAX_HOPS 4        /* redirections in a row before backing off */
#define FUNCTION_NAME_MAX 96

static const char *const function_names[SCRIPT_COUNT] = {
    [SCRIPT_STEP] = "step",
    [SCRIPT_OUTBOX_CLAIM] = "outbox_claim",
    [SCRIPT_OUTBOX_RESULT] = "outbox_result",
    [SCRIPT_DLR] = "dlr",
    [SCRIPT_ADMIN] = "admin",
    [SCRIPT_WECHAT] = "wechat",
};

struct store {
    struct pool_user user;     /* first: pool callbacks get &s->user */
    struct store_pool *pool;
    struct event *reconnect_ev;
    int backoff_ms;
    int refs;              /* its owner's, and one per command in flight */
    bool connected;        /* attached to its slot's master, library there */
    bool ever_ready;       /* ready at least once since store_new */
    bool first_failed;     /* the first attempt failed: Redis is away */
    bool closing;
    size_t pending;
    struct cluster_node target;  /* the node wanted (or attached to) */
    size_t next;           /* pool_next_node's walk when the target failed */
    bool cluster;          /* the server said it is part of a cluster */
    unsigned slot;         /* of the prefix */
    int hops;              /* redirections since the last ready connection */
    char myid[CLUSTER_ID_LEN + 1];
    char *prefix;
    char functions[SCRIPT_COUNT][FUNCTION_NAME_MAX];
    store_event_fn on_ready;
    void *on_ready_arg;
};

/* One command in flight.  Function calls keep their arguments so that a
 * "Function not found" answer can be retried once, after loading the
 * library again. */
struct pending {
    struct store *s;
    store_reply_fn fn;
    void *arg;
    int script;            /* -1 for a plain command or a retried call */
    int argc;
    char **argv;
    size_t *argvlen;
};

static void attach_target(struct store *s);

static struct store *store_ref(struct store *s)
{
    s->refs++;
    return s;
}

static void store_unref(struct store *s)
{
    if (--s->refs > 0)
        return;
    free(s->prefix);
    free(s);
}

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->argvlen);
    if (p->s)
        store_unref(p->s);
    free(p);
}

static redisAsyncContext *context(const struct store *s)
{
    return pool_context(&s->user);
}

/* ---- finding the node --------------------------------------------------- */

/* The next node to try once the target failed: the seeds, then the nodes
 * of the last slot map, in turn.  A single server is always its own next. */
static void next_target(struct store *s)
{
    pool_next_node(s->pool, s->next++, &s->target);
}

static void schedule_reconnect(struct store *s)
{
    if (s->closing)
        return;
    s->first_failed = true;
    struct timeval tv = { s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000 };
    event_add(s->reconnect_ev, &tv);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    attach_target(arg);
}

/* Leaves the current node for `to` at once (no backoff), up to
 * STORE_MAX_HOPS times in a row; past that the map keeps changing under
 * us (a failover under way) and the usual backoff applies. */
static void go_to(struct store *s, const struct cluster_node *to)
{
    s->connected = false;
    s->target = *to;
    pool_detach(s->pool, &s->user);
    if (++s->hops > STORE_MAX_HOPS) {
        s->first_failed = true;
        schedule_reconnect(s);
        return;
    }
    attach_target(s);
}

/* Replies to the store's own set-up commands: stale when the store has
 * since left the connection they were sent on. */
static bool setup_current(struct store *s, const redisAsyncContext *ac)
{
    return !s->closing && context(s) == ac;
}

static void log_ready(const struct store *s)
{
    int nslen = (int)strlen(s->prefix) - 3;   /* "{ns}:" */
    if (s->cluster)
        log_info("redis_ready", "library=%s functions=%d cluster=yes ns=%.*s slot=%u node=%s:%d",
                 pool_library(s->pool), SCRIPT_COUNT, nslen, s->prefix + 1, s->slot,
                 LOG_STR(s->target.host), s->target.port);
    else
        log_info("redis_ready", "library=%s functions=%d ns=%.*s", pool_library(s->pool),
                 SCRIPT_COUNT, nslen, s->prefix + 1);
}

static void on_ready_marker(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = priv;
    if (r && setup_current(s, ac)) {
        s->connected = true;
        s->ever_ready = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        s->hops = 0;
        log_ready(s);
        if (s->on_ready)
            s->on_ready(s->on_ready_arg);
    }
    store_unref(s);
}

/* The node serves our keys; the pool sent the library before anything of
 * ours, so once PING answers, it is there. */
static void finish_setup(struct store *s)
{
    redisAsyncCommand(context(s), on_ready_marker, store_ref(s), "PING");
}

static void on_myid(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = priv;
    redisReply *reply = r;
    if (setup_current(s, ac)) {
        s->myid[0] = '\0';
        if (reply && reply->type == REDIS_REPLY_STRING && reply->len <= CLUSTER_ID_LEN) {
            memcpy(s->myid, reply->str, reply->len);
            s->myid[reply->len] = '\0';
        }
    }
    store_unref(s);
}

/* The answer to CLUSTER SLOTS: an error means a single server. */
static void on_slots(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = priv;
    redisReply *reply = r;
    if (!reply || !setup_current(s, ac)) {
        store_unref(s);   /* the connection went: down() reconnects */
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        s->cluster = false;
        finish_setup(s);
        store_unref(s);
        return;
    }
    s->cluster = true;
    pool_remember_nodes(s->pool, reply);
    struct cluster_node master;
    if (cluster_slot_master(reply, s->slot, &master) < 0) {
        /* No owner (CLUSTERDOWN, a cluster still being created): later. */
        log_warn("redis_cluster_unserved", "slot=%u", s->slot);
        s->connected = false;
        pool_detach(s->pool, &s->user);
        next_target(s);
        schedule_reconnect(s);
        store_unref(s);
        return;
    }
    if (master.host[0] == '\0')
        snprintf(master.host, sizeof(master.host), "%s", s->target.host);
    if (master.id[0] && strcmp(master.id, s->myid) == 0) {
        s->target.id[0] = '\0';
        finish_setup(s);
        store_unref(s);
        return;
    }
    log_info("redis_cluster_redirect", "slot=%u from=%s:%d to=%s:%d", s->slot, LOG_STR(s->target.host),
             s->target.port, LOG_STR(master.host), master.port);
    go_to(s, &master);
    store_unref(s);
}

/* pool: the node's connection is up.  Which node serves our slot?  A
 * single server answers CLUSTER SLOTS with an error. */
static void on_user_up(struct pool_user *u)
{
    struct store *s = (struct store *)u;
    redisAsyncContext *ac = context(s);
    if (pool_is_unix(s->pool)) {
        finish_setup(s);
        return;
    }
    redisAsyncCommand(ac, on_myid, store_ref(s), "CLUSTER MYID");
    redisAsyncCommand(ac, on_slots, store_ref(s), "CLUSTER SLOTS");
}

/* pool: the node's connection went away (it may come back at the next
 * attempt; a failed one sends us to the next node). */
static void on_user_down(struct pool_user *u, bool failed)
{
    struct store *s = (struct store *)u;
    s->connected = false;
    if (s->closing)
        return;
    if (failed)
        next_target(s);
    schedule_reconnect(s);
}

static void attach_target(struct store *s)
{
    if (!s->closing)
        pool_attach(s->pool, &s->user, &s->target);
}

/* ---- the store --------------------------------------------------------------- */

struct store_pool *store_pool_new(struct event_base *base, const char *url)
{
    return pool_new(base, url);
}

void store_pool_free(struct store_pool *p)
{
    pool_free(p);
}

struct store *store_new(struct store_pool *pool, const char *ns)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->pool = pool;
    s->refs = 1;
    s->backoff_ms = BACKOFF_MIN_MS;
    s->user.up = on_user_up;
    s->user.down = on_user_down;
    s->target = *pool_first_node(pool);
    if (asprintf(&s->prefix, "{%s}:", ns) < 0) {
        free(s);
        return NULL;
    }
    s->slot = cluster_key_slot(s->prefix, strlen(s->prefix));
    for (int i = 0; i < SCRIPT_COUNT; i++)
        snprintf(s->functions[i], sizeof(s->functions[i]), "%s_%s", pool_library(pool),
                 function_names[i]);
    s->reconnect_ev = evtimer_new(pool_base(pool), on_reconnect_timer, s);
    if (!s->reconnect_ev) {
        store_unref(s);
        return NULL;
    }
    pool_register(pool, &s->user);
    attach_target(s);
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    s->closing = true;
    s->connected = false;
    pool_unregister(s->pool, &s->user);
    if (s->reconnect_ev)
        event_free(s->reconnect_ev);
    s->reconnect_ev = NULL;
    store_unref(s);   /* commands in flight keep it until they are answered */
}

void store_on_ready(struct store *s, store_event_fn fn, void *arg)
{
    s->on_ready = fn;
    s->on_ready_arg = arg;
}

bool store_starting(const struct store *s)
{
    return !s->ever_ready && !s->first_failed;
}

bool store_connected(const struct store *s)
{
    return s->connected && context(s);
}

const char *store_prefix(const struct store *s)
{
    return s->prefix;
}

size_t store_pending(const struct store *s)
{
    return s->pending;
}

/* ---- commands ------------------------------------------------------------------ */

static int send_pending(struct store *s, struct pending *p);

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    redisReply *reply = r;
    struct store *s = p->s;

    if (reply && reply->type == REDIS_REPLY_ERROR && p->script >= 0 && !s->closing &&
        strstr(reply->str, "Function not found")) {
        /* Redis lost the library (restarted without its data, FUNCTION
         * FLUSH): load it again and send the call once more, in that order
         * on the same connection; a second miss is the caller's error. */
        log_warn("redis_function_missing", "function=%s", s->functions[p->script]);
        if (store_connected(s))
            pool_load_library(&s->user);
        p->script = -1;
        s->pending--;
        if (send_pending(s, p) == 0)
            return;
        p->fn(NULL, p->arg);
        pending_free(p);
        return;
    }
    unsigned slot;
    struct cluster_node to;
    if (reply && reply->type == REDIS_REPLY_ERROR &&
        cluster_parse_redirect(reply->str, &slot, &to) == CLUSTER_MOVED) {
        /* The slot has a new owner: the command was not run here.  Its
         * caller hears "not done" (spools or retries), and the store moves
         * to the owner once; later MOVED answers of the same connection
         * find it already leaving. */
        if (to.host[0] == '\0')
            snprintf(to.host, sizeof(to.host), "%s", s->target.host);
        if (s->connected && context(s) == ac && !s->closing) {
            log_warn("redis_moved", "slot=%u to=%s:%d", slot, LOG_STR(to.host), to.port);
            go_to(s, &to);
        }
        s->pending--;
        p->fn(NULL, p->arg);
        pending_free(p);
        return;
    }
    s->pending--;
    p->fn(reply, p->arg);
    pending_free(p);
}

static int send_pending(struct store *s, struct pending *p)
{
    if (!store_connected(s))
        return -1;
    if (redisAsyncCommandArgv(context(s), on_reply, p, p->argc, (const char **)p->argv, p->argvlen) !=
        REDIS_OK)
        return -1;
    s->pending++;
    return 0;
}

static struct pending *pending_new(struct store *s, store_reply_fn fn, void *arg, int script,
                                   int argc, const char **argv, const size_t *argvlen)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->s = store_ref(s);
    p->fn = fn;
    p->arg = arg;
    p->script = script;
    p->argv = calloc((size_t)argc, sizeof(*p->argv));
    p->argvlen = calloc((size_t)argc, sizeof(*p->argvlen));
    if (!p->argv || !p->argvlen) {
        pending_free(p);
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        p->argv[i] = malloc(len + 1);
        if (!p->argv[i]) {
            p->argc = i;
            pending_free(p);
            return NULL;
        }
        memcpy(p->argv[i], argv[i], len);
        p->argv[i][len] = '\0';
        p->argvlen[i] = len;
    }
    p->argc = argc;
    return p;
}

/* Queues one command (`script`: its enum store_script, -1 for none) and
 * sends it; -1 when it could not be sent (nothing stays queued). */
static int submit(struct store *s, store_reply_fn fn, void *arg, int script, int argc,
                  const char **argv, const size_t *argvlen)
{
    struct pending *p = pending_new(s, fn, arg, script, argc, argv, argvlen);
    if (!p)
        return -1;
    if (send_pending(s, p) < 0) {
        pending_free(p);
        return -1;
    }
    return 0;
}

int store_command(struct store *s, store_reply_fn fn, void *arg,
                  int argc, const char **argv, const size_t *argvlen)
{
    if (!store_connected(s))
        return -1;
    return submit(s, fn, arg, -1, argc, argv, argvlen);
}

int store_script(struct store *s, enum store_script which, store_reply_fn fn, void *arg,
                 int argc, const char **argv, const size_t *argvlen)
{
    enum { FIXED = 4, MAXARGS = 32 };
    const char *all[FIXED + MAXARGS];
    size_t lens[FIXED + MAXARGS];

    if (!store_connected(s) || argc > MAXARGS || (unsigned)which >= SCRIPT_COUNT)
        return -1;
    all[0] = "FCALL";
    all[1] = s->functions[which];
    all[2] = "1";
    all[3] = s->prefix;
    for (int i = 0; i < FIXED; i++)
        lens[i] = strlen(all[i]);
    for (int i = 0; i < argc; i++) {
        all[FIXED + i] = argv[i];
        lens[FIXED + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    return submit(s, fn, arg, (int)which, FIXED + argc, all, lens);
}
