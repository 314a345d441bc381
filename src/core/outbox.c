/* Leases, sends and records outbound messages; sends through the channel
 * table the daemon put in app->channels (core/channel_api.h). */
#include "core/outbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "core/channel_api.h"
#include "store/store.h"

#define OUTBOX_BATCH 16
#define OUTBOX_MAX_INFLIGHT 64
/* At most this many replies of one message leased by the step itself,
 * for this long: enough to mark them; the mark renews it to a full lease.
 * Short, so that replies of an instance that died right after its step
 * are claimed again soon, as queued ones would be at once. */
#define OUTBOX_STEP_LEASE 4
#define OUTBOX_STEP_LEASE_MS 5000

/* What one leased message needs recorded in Redis: the "sending" mark
 * before its request starts, or the outcome after it ended. */
struct record_op {
    struct send *s;
    bool mark;             /* else an outcome */
    const char *outcome;   /* static: "sent", "held", "retry", "dead", "awaiting", "uncertain" */
    long long due;
    char *detail;          /* owned; outcome: its detail; mark: the attempt's
                              delivery-report token or NULL */
    char *text;            /* mark: the text to send, owned; outcome: NULL */
};

/* The records of one event-loop turn, written by one script call. */
struct record_batch {
    struct outbox *ob;
    struct record_op *ops;
    size_t n, cap;
};

struct outbox {
    struct app *app;
    struct event *poll_ev;
    struct event *flush_ev;        /* zero-delay: writes `pending` */
    struct record_batch *pending;  /* owned; NULL when nothing waits */
    bool claiming;         /* a claim is waiting for Redis */
    bool again;            /* kicked while claiming: claim once more */
    size_t inflight;
    size_t reserved;       /* leases promised to steps still waiting for Redis */
};

/* One message being sent; owns its copies of the leased fields. */
struct send {
    struct outbox *ob;
    char *id;
    char *channel;
    char *to;
    char *caseid;
    int attempts;          /* before this one */
    bool renew;            /* leased by its step: the mark renews the lease */
};

long outbox_backoff_ms(int base_ms, int attempt)
{
    long d = base_ms > 0 ? base_ms : 1000;
    for (int i = 1; i < attempt && d < 3600L * 1000; i++)
        d *= 2;
    return d > 3600L * 1000 ? 3600L * 1000 : d;
}

static void send_free(struct send *s)
{
    free(s->id);
    free(s->channel);
    free(s->to);
    free(s->caseid);
    free(s);
}

static void claim(struct outbox *ob);
static void on_sent(enum send_result result, const char *detail, void *arg);

/* A send that ends here: nothing more will be recorded for it. */
static void send_done(struct send *s)
{
    s->ob->inflight--;
    send_free(s);
}

static void batch_free(struct record_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ops[i].detail);
        free(b->ops[i].text);
    }
    free(b->ops);
    free(b);
}

/* The batch's answer: marked messages go to their channel, recorded
 * ones are done.  Without an answer a marked message is not sent (its
 * lease runs out and it goes back to the queue untouched) and an outcome
 * is lost (the lease runs out and the message is sent again: better than
 * losing it). */
static void on_recorded(redisReply *r, void *arg)
{
    struct record_batch *b = arg;
    struct outbox *ob = b->ob;
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == b->n;
    const char *error = !r ? "redis unavailable"
                        : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    for (size_t i = 0; i < b->n; i++) {
        struct record_op *op = &b->ops[i];
        struct send *s = op->s;
        if (!op->mark) {
            if (!ok)
                log_error("outbox_record_failed", "id=%s error=%s", LOG_STR(s->id), LOG_STR(error));
            send_done(s);
            continue;
        }
        const redisReply *e = ok ? r->element[i] : NULL;
        if (!e || e->type != REDIS_REPLY_STRING || strcmp(e->str, "ok") != 0) {
            log_warn("outbox_deferred", "id=%s error=%s", LOG_STR(s->id), LOG_STR(ok ? "not marked" : error));
            send_done(s);
            continue;
        }
        struct outbound msg = {
            .id = s->id, .channel = s->channel, .to = s->to, .text = op->text,
            .case_id = s->caseid, .attempt = s->attempts + 1, .dlr_token = op->detail,
        };
        ob->app->channels->send(ob->app, &msg, on_sent, s);
    }
    batch_free(b);
    if (ob->again)
        claim(ob);
}

/* Writes the batch with one script call.  The records travel as one
 * argument, "id\0op\0due\0detail\0" each (details are C strings, so they
 * hold no NUL), whatever their number: scripts take few arguments. */
static void flush(struct outbox *ob)
{
    struct record_batch *b = ob->pending;
    ob->pending = NULL;
    if (!b)
        return;
    size_t size = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct record_op *op = &b->ops[i];
        size += strlen(op->s->id) + 1 + strlen(op->mark ? "sending" : op->outcome) + 1 + 24 + 1 +
                (op->detail ? strlen(op->detail) : 0) + 1;
    }
    char *packed = malloc(size + 1);
    int rc = -1;
    if (packed) {
        size_t len = 0;
        for (size_t i = 0; i < b->n; i++) {
            const struct record_op *op = &b->ops[i];
            int w = snprintf(packed + len, size + 1 - len, "%s%c%s%c%lld%c%s%c", op->s->id, 0,
                             op->mark ? "sending" : op->outcome, 0, op->due, 0,
                             op->detail ? op->detail : "", 0);
            len += (size_t)w;
        }
        char now[32];
        snprintf(now, sizeof(now), "%lld", wall_ms());
        const char *argv[] = { ob->app->instance, now, packed };
        const size_t lens[] = { strlen(ob->app->instance), strlen(now), len };
        rc = store_script(ob->app->store, SCRIPT_OUTBOX_RESULT, on_recorded, b, 3, argv, lens);
        free(packed);
    }
    if (rc < 0)
        on_recorded(NULL, b);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush(arg);
}

/* Queues a record for this loop turn's batch.  Takes ownership of
 * `detail` and `text`; on failure frees them and ends the send. */
static void enqueue(struct outbox *ob, struct record_op op)
{
    struct record_batch *b = ob->pending;
    if (!b && (b = calloc(1, sizeof(*b))) != NULL) {
        b->ob = ob;
        ob->pending = b;
        struct timeval zero = { 0, 0 };
        event_add(ob->flush_ev, &zero);
    }
    if (b && b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct record_op *ops = realloc(b->ops, cap * sizeof(*ops));
        if (ops) {
            b->ops = ops;
            b->cap = cap;
        }
    }
    if (!b || b->n == b->cap) {
        log_error("outbox_record_failed", "id=%s error=\"out of memory\"", op.s->id);
        free(op.detail);
        free(op.text);
        send_done(op.s);
        return;
    }
    b->ops[b->n++] = op;
}

static void record(struct send *s, const char *outcome, long long due, const char *detail)
{
    struct record_op op = { .s = s, .outcome = outcome, .due = due, .detail = strdup(detail ? detail : "") };
    if (!op.detail) {
        log_error("outbox_record_failed", "id=%s error=\"out of memory\"", s->id);
        send_done(s);
        return;
    }
    enqueue(s->ob, op);
}

static void on_sent(enum send_result result, const char *detail, void *arg)
{
    struct send *s = arg;
    const struct config *cfg = s->ob->app->cfg;
    char masked[64];
    address_mask(s->to, masked, sizeof(masked));
    int attempt = s->attempts + 1;

    if (result == SEND_OK || result == SEND_HELD) {
        log_info("outbox_sent", "id=%s channel=%s to=%s case=%s attempt=%d result=%s", LOG_STR(s->id),
                 LOG_STR(s->channel), LOG_STR(masked), LOG_STR(s->caseid[0] ? s->caseid : "-"), attempt,
                 result == SEND_OK ? "sent" : "held");
        metrics_outbox(s->ob->app->metrics, OUTBOX_SENT);
        record(s, result == SEND_OK ? "sent" : "held", 0, detail);
        return;
    }
    if (result == SEND_UNCERTAIN) {
        /* Like a request cut by a crash (outbox_claim.lua): the gateway may
         * have it.  Where delivery reports come, wait for one as long as
         * a lease before any resend; elsewhere an administrator decides. */
        bool dlr = s->ob->app->channels->dlr_settles(s->ob->app, s->channel);
        log_warn("outbox_uncertain", "id=%s channel=%s to=%s attempt=%d settle=%s error=%s",
                 LOG_STR(s->id), LOG_STR(s->channel), LOG_STR(masked), attempt,
                 dlr ? "delivery_report" : "admin", LOG_STR(detail));
        metrics_outbox(s->ob->app->metrics, OUTBOX_UNCERTAIN);
        record(s, dlr ? "awaiting" : "uncertain",
               dlr ? wall_ms() + (long long)cfg->outbox.lease_s * 1000 : 0, detail);
        return;
    }
    if (result == SEND_PERMANENT || attempt >= cfg->outbox.max_attempts) {
        log_error("outbox_dead", "id=%s channel=%s to=%s attempt=%d error=%s", LOG_STR(s->id),
                  LOG_STR(s->channel), LOG_STR(masked), attempt, LOG_STR(detail));
        metrics_outbox(s->ob->app->metrics, OUTBOX_DEAD);
        record(s, "dead", 0, detail);
        return;
    }
    metrics_outbox(s->ob->app->metrics, OUTBOX_RETRIED);
    long delay = outbox_backoff_ms(cfg->outbox.backoff_ms, attempt);
    log_warn("outbox_retry", "id=%s channel=%s to=%s attempt=%d delay_ms=%ld error=%s", LOG_STR(s->id),
             LOG_STR(s->channel), LOG_STR(masked), attempt, delay, LOG_STR(detail));
    record(s, "retry", wall_ms() + delay, detail);
}

/* Hands one leased message to its channel once Redis has recorded that
 * its request is starting: after a crash, that mark tells a message that
 * may have been sent from one that surely was not.  Takes `text`. */
static void start_send(struct outbox *ob, struct send *s, char *text)
{
    char *token = NULL;
    ob->inflight++;
    /* Each attempt's delivery report must name its token (dlr.lua). */
    char t[DLR_TOKEN_SIZE];
    int has = ob->app->channels->dlr_token(ob->app, s->channel, t);
    if (has != 0) {
        if (has < 0 || !(token = strdup(t))) {
            /* Not marked: its lease runs out and it is queued again. */
            log_error("outbox_deferred", "id=%s error=\"no delivery-report token\"", s->id);
            free(text);
            send_done(s);
            return;
        }
    }
    /* A step's short lease becomes a full one with the mark ("due"). */
    long long due = s->renew ? wall_ms() + (long long)ob->app->cfg->outbox.lease_s * 1000 : 0;
    enqueue(ob, (struct record_op){ .s = s, .mark = true, .due = due, .text = text, .detail = token });
}

static char *reply_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strndup(r->str, r->len) : strdup("");
}

/* Starts the leased messages of `r`: id, channel, to, text, case,
 * attempts for each (outbox_claim.lua's answer, or the part of the step
 * script's answer that its own replies leased). */
static void start_leased(struct outbox *ob, const redisReply *r, bool renew)
{
    for (size_t i = 0; i + 5 < r->elements; i += 6) {
        struct send *s = calloc(1, sizeof(*s));
        if (!s)
            break;
        s->ob = ob;
        s->renew = renew;
        s->id = reply_str(r->element[i]);
        s->channel = reply_str(r->element[i + 1]);
        s->to = reply_str(r->element[i + 2]);
        s->caseid = reply_str(r->element[i + 4]);
        s->attempts = atoi(r->element[i + 5]->type == REDIS_REPLY_STRING ? r->element[i + 5]->str : "0");
        if (!s->id || !s->channel || !s->to || !s->caseid) {
            send_free(s);
            continue;
        }
        char *text = reply_str(r->element[i + 3]);
        if (text)
            start_send(ob, s, text);
        else
            send_free(s);
    }
}

static void on_claimed(redisReply *r, void *arg)
{
    struct outbox *ob = arg;
    ob->claiming = false;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("outbox_claim_failed", "error=%s", LOG_STR(r->str));
        return;
    }
    start_leased(ob, r, false);
    /* A full batch suggests more are due. */
    if (r->elements / 6 == OUTBOX_BATCH || ob->again)
        claim(ob);
}

static void claim(struct outbox *ob)
{
    if (ob->claiming) {
        ob->again = true;
        return;
    }
    ob->again = false;
    if (ob->inflight >= OUTBOX_MAX_INFLIGHT) {
        ob->again = true;   /* resumed when a send completes */
        return;
    }
    char now[32], lease[32], max[16];
    snprintf(now, sizeof(now), "%lld", wall_ms());
    snprintf(lease, sizeof(lease), "%ld", (long)ob->app->cfg->outbox.lease_s * 1000);
    snprintf(max, sizeof(max), "%zu", (size_t)OUTBOX_BATCH);
    const char *dlr = ob->app->channels->dlr_settles(ob->app, NULL) ? "1" : "0";
    const char *argv[] = { now, lease, max, ob->app->instance, dlr };
    if (store_script(ob->app->store, SCRIPT_OUTBOX_CLAIM, on_claimed, ob, 5, argv, NULL) == 0)
        ob->claiming = true;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct outbox *ob = arg;
    if (!ob->app->stopping)
        claim(ob);
}

struct outbox *outbox_new(struct app *app)
{
    struct outbox *ob = calloc(1, sizeof(*ob));
    if (!ob)
        return NULL;
    ob->app = app;
    ob->poll_ev = event_new(app->base, -1, EV_PERSIST, on_poll, ob);
    ob->flush_ev = event_new(app->base, -1, 0, on_flush, ob);
    int ms = app->cfg->outbox.poll_ms > 0 ? app->cfg->outbox.poll_ms : 500;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (!ob->poll_ev || !ob->flush_ev || event_add(ob->poll_ev, &tv) < 0) {
        outbox_free(ob);
        return NULL;
    }
    return ob;
}

void outbox_free(struct outbox *ob)
{
    if (!ob)
        return;
    if (ob->poll_ev)
        event_free(ob->poll_ev);
    if (ob->flush_ev)
        event_free(ob->flush_ev);
    if (ob->pending) {
        /* Never written: their leases run out and they are sent again. */
        for (size_t i = 0; i < ob->pending->n; i++)
            send_free(ob->pending->ops[i].s);
        batch_free(ob->pending);
    }
    free(ob);
}

void outbox_kick(struct outbox *ob)
{
    if (!ob->app->stopping)
        claim(ob);
}

long long outbox_step_lease_expiry(void)
{
    return wall_ms() + OUTBOX_STEP_LEASE_MS;
}

size_t outbox_reserve(struct outbox *ob)
{
    size_t busy = ob->inflight + ob->reserved;
    if (ob->app->stopping || busy >= OUTBOX_MAX_INFLIGHT)
        return 0;
    size_t n = OUTBOX_MAX_INFLIGHT - busy;
    n = n < OUTBOX_STEP_LEASE ? n : OUTBOX_STEP_LEASE;
    ob->reserved += n;
    return n;
}

void outbox_take(struct outbox *ob, size_t reserved, const struct redisReply *leased, long long queued)
{
    ob->reserved -= reserved < ob->reserved ? reserved : ob->reserved;
    size_t n = 0;
    if (leased && leased->type == REDIS_REPLY_ARRAY) {
        n = leased->elements / 6;
        start_leased(ob, leased, true);
    }
    /* Replies beyond the lease wait in the queue. */
    if (queued > (long long)n)
        outbox_kick(ob);
}

size_t outbox_inflight(const struct outbox *ob)
{
    return ob->inflight + (ob->claiming ? 1 : 0);
}
