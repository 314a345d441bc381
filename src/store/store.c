/* Redis connection, reconnect with backoff, and script calls.
 *
 * Against a Redis Cluster (the server answers CLUSTER SLOTS) the store
 * talks to the master of the one slot its keys hash to ("{ns}:"): each
 * connection first asks the slot map and, when it reached another node,
 * reconnects to that master.  A -MOVED answer (the slot moved for good)
 * sends it to the new owner; the command is reported as not done (NULL),
 * as for a lost connection, so the caller spools or retries it.  -ASK and
 * -TRYAGAIN (the slot is being migrated) are not followed: the scripts
 * touch keys they cannot declare, and half of them may have moved, so
 * they come back as errors and the message waits in the spool until the
 * migration is over.  When the master dies, the next connection goes to
 * the other nodes in turn until one names the promoted replica. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "base/log.h"
#include "store/cluster.h"

/* The Redis 7 function library, embedded by scripts/embed.sh from
 * src/store/lua/ as joined by scripts/lua-join.sh (docs/lua.md).  Its
 * first line names it: "#!lua name=mashang_<hash of its code>". */
extern const char lua_mashang[];
extern const size_t lua_mashang_len;
#define LIBRARY_NAME_MAX 64

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STORE_MAX_SEEDS 16
#define STORE_MAX_NODES 64      /* nodes remembered from the last slot map */
#define STORE_MAX_HOPS 4        /* redirections in a row before backing off */

/* A script is one function of the library: "<library>_<name>". */
struct script {
    const char *name;
    char fn[LIBRARY_NAME_MAX + 32];
};

struct store {
    struct event_base *base;
    redisAsyncContext *ac;
    struct event *reconnect_ev;
    int backoff_ms;
    bool connected;
    bool ever_ready;       /* scripts loaded at least once since store_new */
    bool first_failed;     /* the first connection attempt failed: Redis is away */
    bool closing;
    size_t pending;
    char *unix_path;
    /* TCP: the node connected (or being connected) to, the seeds of the
     * URL, and the nodes of the last slot map; `next` walks seeds + nodes
     * when the target cannot be reached. */
    struct cluster_node target;
    struct cluster_node seeds[STORE_MAX_SEEDS];
    size_t nseeds;
    struct cluster_node nodes[STORE_MAX_NODES];
    size_t nnodes;
    size_t next;
    bool cluster;          /* the server said it is part of a cluster */
    unsigned slot;         /* of the prefix */
    int hops;              /* redirections since the last ready connection */
    char myid[CLUSTER_ID_LEN + 1];
    char *password;
    int db;
    char *prefix;
    char library[LIBRARY_NAME_MAX + 1];
    struct script scripts[SCRIPT_COUNT];
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

static void connect_now(struct store *s);
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv);

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->argvlen);
    free(p);
}

static int parse_url(struct store *s, const char *url)
{
    if (strncmp(url, "unix://", 7) == 0) {
        s->unix_path = strdup(url + 7);
        return s->unix_path && *s->unix_path ? 0 : -1;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *p = url + 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        s->password = strndup(pw, (size_t)(at - pw));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    /* host[:port][,host[:port]]…: several seeds name nodes of one cluster. */
    char list[STORE_MAX_SEEDS * (CLUSTER_HOST_MAX + 8)];
    size_t n = 0;
    for (const char *q = p; q < end;) {
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
    int nseeds = cluster_parse_seeds(list, s->seeds, STORE_MAX_SEEDS);
    if (nseeds <= 0)
        return -1;
    s->nseeds = (size_t)nseeds;
    s->target = s->seeds[0];
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0)
            return -1;
        s->db = (int)db;
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

static void script_init(struct script *sc, const char *library, const char *name)
{
    sc->name = name;
    snprintf(sc->fn, sizeof(sc->fn), "%s_%s", library, name);
}

static void load_library(redisAsyncContext *c)
{
    redisAsyncCommand(c, on_setup_reply, "function_load", "FUNCTION LOAD REPLACE %b", lua_mashang,
                      lua_mashang_len);
}

/* The next node to try once the target failed: the seeds, then the nodes
 * of the last slot map, in turn.  A single server is always its own next. */
static void next_target(struct store *s)
{
    size_t n = s->nseeds + s->nnodes;
    if (s->unix_path || n <= 1)
        return;
    size_t i = s->next++ % n;
    s->target = i < s->nseeds ? s->seeds[i] : s->nodes[i - s->nseeds];
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
    connect_now(arg);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    const char *what = priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_error("redis_setup_failed", "step=%s error=%s", what, LOG_STR(reply->str));
    (void)s;
}

static void on_ready_marker(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    (void)priv;
    if (!r || !s)
        return;
    s->connected = true;
    s->ever_ready = true;
    s->backoff_ms = BACKOFF_MIN_MS;
    s->hops = 0;
    if (s->cluster)
        log_info("redis_ready", "library=%s functions=%d cluster=yes slot=%u node=%s:%d", s->library,
                 SCRIPT_COUNT, s->slot, LOG_STR(s->target.host), s->target.port);
    else
        log_info("redis_ready", "library=%s functions=%d", s->library, SCRIPT_COUNT);
    if (s->on_ready)
        s->on_ready(s->on_ready_arg);
}

/* The connection is to the node that serves our keys: load the library. */
static void finish_setup(struct store *s, redisAsyncContext *c)
{
    if (s->db && !s->cluster)
        redisAsyncCommand(c, on_setup_reply, "select", "SELECT %d", s->db);
    load_library(c);
    /* Replies come in order: once PING answers, everything before it has. */
    redisAsyncCommand(c, on_ready_marker, NULL, "PING");
}

/* Leaves the current connection for `to` at once (no backoff), up to
 * STORE_MAX_HOPS times in a row; past that the map keeps changing under
 * us (a failover under way) and the usual backoff applies. */
static void go_to(struct store *s, redisAsyncContext *c, const struct cluster_node *to)
{
    s->target = *to;
    if (++s->hops > STORE_MAX_HOPS)
        s->first_failed = true;
    else
        s->backoff_ms = 0;
    redisAsyncDisconnect(c);
}

static void on_myid(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    (void)priv;
    s->myid[0] = '\0';
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len <= CLUSTER_ID_LEN) {
        memcpy(s->myid, reply->str, reply->len);
        s->myid[reply->len] = '\0';
    }
}

/* The answer to CLUSTER SLOTS: an error means a single server. */
static void on_slots(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    (void)priv;
    if (!reply || s->closing)
        return;   /* the connection went: on_disconnect reconnects */
    if (reply->type == REDIS_REPLY_ERROR) {
        s->cluster = false;
        finish_setup(s, ac);
        return;
    }
    s->cluster = true;
    s->nnodes = cluster_slot_nodes(reply, s->nodes, STORE_MAX_NODES);
    struct cluster_node master;
    if (cluster_slot_master(reply, s->slot, &master) < 0) {
        /* No owner (CLUSTERDOWN, a cluster still being created): later. */
        log_warn("redis_cluster_unserved", "slot=%u", s->slot);
        next_target(s);
        s->first_failed = true;
        redisAsyncDisconnect(ac);
        return;
    }
    if (master.host[0] == '\0')
        snprintf(master.host, sizeof(master.host), "%s", s->target.host);
    if (master.id[0] && strcmp(master.id, s->myid) == 0) {
        s->target.id[0] = '\0';
        finish_setup(s, ac);
        return;
    }
    log_info("redis_cluster_redirect", "slot=%u from=%s:%d to=%s:%d", s->slot, LOG_STR(s->target.host),
             s->target.port, LOG_STR(master.host), master.port);
    go_to(s, ac, &master);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct store *s = ac->data;
    if (status != REDIS_OK) {
        log_warn("redis_connect_failed", "error=%s retry_ms=%d", LOG_STR(ac->errstr), s->backoff_ms);
        s->ac = NULL;   /* hiredis frees the context after this callback */
        next_target(s);
        schedule_reconnect(s);
        return;
    }
    redisAsyncContext *c = s->ac;
    if (s->password)
        redisAsyncCommand(c, on_setup_reply, "auth", "AUTH %s", s->password);
    if (s->unix_path) {
        finish_setup(s, c);
        return;
    }
    /* Which node serves our slot?  A single server answers with an error. */
    redisAsyncCommand(c, on_myid, NULL, "CLUSTER MYID");
    redisAsyncCommand(c, on_slots, NULL, "CLUSTER SLOTS");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store *s = ac->data;
    s->ac = NULL;
    s->connected = false;
    if (s->closing)
        return;
    if (s->backoff_ms == 0) {   /* go_to: straight to the node named */
        s->backoff_ms = BACKOFF_MIN_MS;
        connect_now(s);
        return;
    }
    log_warn("redis_disconnected", "error=%s", LOG_STR(status == REDIS_OK ? "closed" : ac->errstr));
    if (status != REDIS_OK)
        next_target(s);
    schedule_reconnect(s);
}

static void connect_now(struct store *s)
{
    redisAsyncContext *ac = s->unix_path ? redisAsyncConnectUnix(s->unix_path)
                                         : redisAsyncConnect(s->target.host, s->target.port);
    if (!ac) {
        schedule_reconnect(s);
        return;
    }
    if (ac->err) {
        log_warn("redis_connect_failed", "error=%s retry_ms=%d", LOG_STR(ac->errstr), s->backoff_ms);
        redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    s->ac = ac;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

struct store *store_new(struct event_base *base, const char *url, const char *ns)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = base;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (parse_url(s, url) < 0 || asprintf(&s->prefix, "{%s}:", ns) < 0) {
        s->prefix = NULL;
        store_free(s);
        return NULL;
    }
    s->slot = cluster_key_slot(s->prefix, strlen(s->prefix));
    if (library_name(s->library, sizeof(s->library)) < 0) {
        log_error("redis_library_unnamed", "first_line_missing=yes");
        store_free(s);
        return NULL;
    }
    script_init(&s->scripts[SCRIPT_STEP], s->library, "step");
    script_init(&s->scripts[SCRIPT_OUTBOX_CLAIM], s->library, "outbox_claim");
    script_init(&s->scripts[SCRIPT_OUTBOX_RESULT], s->library, "outbox_result");
    script_init(&s->scripts[SCRIPT_DLR], s->library, "dlr");
    script_init(&s->scripts[SCRIPT_ADMIN], s->library, "admin");
    script_init(&s->scripts[SCRIPT_WECHAT], s->library, "wechat");
    s->reconnect_ev = evtimer_new(base, on_reconnect_timer, s);
    if (!s->reconnect_ev) {
        store_free(s);
        return NULL;
    }
    connect_now(s);
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    s->closing = true;
    if (s->ac)
        redisAsyncFree(s->ac);   /* pending callbacks run with NULL */
    if (s->reconnect_ev)
        event_free(s->reconnect_ev);
    free(s->unix_path);
    free(s->password);
    free(s->prefix);
    free(s);
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
    return s->connected && s->ac;
}

const char *store_prefix(const struct store *s)
{
    return s->prefix;
}

size_t store_pending(const struct store *s)
{
    return s->pending;
}

static int send_pending(struct store *s, struct pending *p);

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    redisReply *reply = r;
    struct store *s = p->s;

    if (reply && reply->type == REDIS_REPLY_ERROR && p->script >= 0 &&
        strstr(reply->str, "Function not found")) {
        /* Redis lost the library (restarted without its data, FUNCTION
         * FLUSH): load it again and send the call once more, in that order
         * on the same connection; a second miss is the caller's error. */
        log_warn("redis_function_missing", "function=%s", s->scripts[p->script].fn);
        if (store_connected(s))
            load_library(s->ac);
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
        if (s->connected && s->ac == ac) {
            log_warn("redis_moved", "slot=%u to=%s:%d", slot, LOG_STR(to.host), to.port);
            s->connected = false;
            go_to(s, ac, &to);
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
    if (redisAsyncCommandArgv(s->ac, on_reply, p, p->argc, (const char **)p->argv, p->argvlen) != REDIS_OK)
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
    p->s = s;
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
    all[1] = s->scripts[which].fn;
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
