/* Leases, sends and records outbound messages. */
#include "mashang/outbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "mashang/channel.h"
#include "mashang/config.h"
#include "mashang/log.h"
#include "mashang/metrics.h"
#include "mashang/store.h"
#include "mashang/util.h"

#define OUTBOX_BATCH 16
#define OUTBOX_MAX_INFLIGHT 64

struct outbox {
    struct app *app;
    struct event *poll_ev;
    bool claiming;         /* a claim is waiting for Redis */
    bool again;            /* kicked while claiming: claim once more */
    size_t inflight;
};

/* One message being sent; owns its copies of the leased fields. */
struct send {
    struct outbox *ob;
    char *id;
    char *channel;
    char *to;
    char *caseid;
    int attempts;          /* before this one */
};

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

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

static void on_result_recorded(redisReply *r, void *arg)
{
    struct send *s = arg;
    struct outbox *ob = s->ob;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_error("outbox_record_failed", "id=%s error=\"%s\"", s->id,
                  r ? r->str : "redis unavailable");
    ob->inflight--;
    send_free(s);
    if (ob->again)
        claim(ob);
}

static void record(struct send *s, const char *outcome, long long due, const char *detail)
{
    struct outbox *ob = s->ob;
    char now[32], next[32];
    snprintf(now, sizeof(now), "%lld", now_ms());
    snprintf(next, sizeof(next), "%lld", due);
    const char *argv[] = { s->id, outcome, now, next, detail, ob->app->instance };
    if (store_script(ob->app->store, SCRIPT_OUTBOX_RESULT, on_result_recorded, s, 6, argv, NULL) < 0) {
        /* The lease will run out and the message be sent again: better
         * than losing it. */
        log_error("outbox_record_failed", "id=%s error=\"redis unavailable\"", s->id);
        ob->inflight--;
        send_free(s);
    }
}

static void on_sent(enum send_result result, const char *detail, void *arg)
{
    struct send *s = arg;
    const struct config *cfg = s->ob->app->cfg;
    char masked[64];
    address_mask(s->to, masked, sizeof(masked));
    int attempt = s->attempts + 1;

    if (result == SEND_OK || result == SEND_HELD) {
        log_info("outbox_sent", "id=%s channel=%s to=%s case=%s attempt=%d result=%s", s->id,
                 s->channel, masked, s->caseid[0] ? s->caseid : "-", attempt,
                 result == SEND_OK ? "sent" : "held");
        metrics_outbox(s->ob->app->metrics, OUTBOX_SENT);
        record(s, result == SEND_OK ? "sent" : "held", 0, detail);
        return;
    }
    if (result == SEND_PERMANENT || attempt >= cfg->outbox.max_attempts) {
        log_error("outbox_dead", "id=%s channel=%s to=%s attempt=%d error=\"%s\"", s->id,
                  s->channel, masked, attempt, detail);
        metrics_outbox(s->ob->app->metrics, OUTBOX_DEAD);
        record(s, "dead", 0, detail);
        return;
    }
    metrics_outbox(s->ob->app->metrics, OUTBOX_RETRIED);
    long delay = outbox_backoff_ms(cfg->outbox.backoff_ms, attempt);
    log_warn("outbox_retry", "id=%s channel=%s to=%s attempt=%d delay_ms=%ld error=\"%s\"", s->id,
             s->channel, masked, attempt, delay, detail);
    record(s, "retry", now_ms() + delay, detail);
}

/* A leased message waiting for its "sending" mark to be stored. */
struct pending_send {
    struct send *s;
    char *text;
};

static void on_marked(redisReply *r, void *arg)
{
    struct pending_send *ps = arg;
    struct send *s = ps->s;
    struct outbox *ob = s->ob;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        /* Not marked, not sent: the lease runs out and the message goes
         * back to the queue untouched. */
        log_warn("outbox_deferred", "id=%s error=\"%s\"", s->id, r ? r->str : "redis unavailable");
        ob->inflight--;
        send_free(s);
    } else {
        struct outbound msg = {
            .id = s->id, .channel = s->channel, .to = s->to, .text = ps->text,
            .case_id = s->caseid, .attempt = s->attempts + 1,
        };
        channel_send(ob->app, &msg, on_sent, s);
    }
    free(ps->text);
    free(ps);
}

/* Hands one leased message to its channel, once Redis has recorded that
 * its request is starting: after a crash, that mark tells a message that
 * may have been sent from one that surely was not. */
static void start_send(struct outbox *ob, struct send *s, const char *text)
{
    struct pending_send *ps = calloc(1, sizeof(*ps));
    char key[96], now[32];
    ob->inflight++;
    if (!ps || !(ps->text = strdup(text))) {
        free(ps);
        ob->inflight--;
        send_free(s);
        return;
    }
    ps->s = s;
    snprintf(key, sizeof(key), "%sout:%s", store_prefix(ob->app->store), s->id);
    snprintf(now, sizeof(now), "%lld", now_ms());
    const char *argv[] = { "HSET", key, "state", "sending", "started", now };
    if (store_command(ob->app->store, on_marked, ps, 6, argv, NULL) < 0)
        on_marked(NULL, ps);
}

static char *reply_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strndup(r->str, r->len) : strdup("");
}

static void on_claimed(redisReply *r, void *arg)
{
    struct outbox *ob = arg;
    ob->claiming = false;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("outbox_claim_failed", "error=\"%s\"", r->str);
        return;
    }
    for (size_t i = 0; i + 5 < r->elements; i += 6) {
        struct send *s = calloc(1, sizeof(*s));
        if (!s)
            break;
        s->ob = ob;
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
        free(text);
    }
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
    snprintf(now, sizeof(now), "%lld", now_ms());
    snprintf(lease, sizeof(lease), "%ld", (long)ob->app->cfg->outbox.lease_s * 1000);
    snprintf(max, sizeof(max), "%zu", (size_t)OUTBOX_BATCH);
    const struct sms_channel *sms = &ob->app->cfg->sms;
    const char *dlr = sms->enabled && sms->dlr_url && *sms->dlr_url ? "1" : "0";
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
    int ms = app->cfg->outbox.poll_ms > 0 ? app->cfg->outbox.poll_ms : 500;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (!ob->poll_ev || event_add(ob->poll_ev, &tv) < 0) {
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
    free(ob);
}

void outbox_kick(struct outbox *ob)
{
    if (!ob->app->stopping)
        claim(ob);
}

size_t outbox_inflight(const struct outbox *ob)
{
    return ob->inflight + (ob->claiming ? 1 : 0);
}
