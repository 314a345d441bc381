#ifndef MASHANG_STEP_H
#define MASHANG_STEP_H
/* One inbound message, from any channel, to its one atomic Redis step:
 * identify the sender (resident or deputy), match intents, plan routing,
 * and run src/store/lua/step.lua, which dedupes, does the case work and queues
 * the replies in the outbox.  The channel answers its HTTP request only
 * when `done` reports the outcome. */
#include <stdbool.h>
#include <stddef.h>

#include "core/app.h"

struct inbound {
    const char *channel;   /* "sms", "wechat:main", "chat:relay" */
    const char *addr;      /* E.164 phone or platform user id */
    const char *to;        /* number/account it was sent to, or NULL */
    const char *text;      /* valid UTF-8 */
    size_t len;
    const char *msg_id;    /* platform message id, or NULL */
    /* Channels that answer in the HTTP response (WeChat's passive reply)
     * set this: the step then returns the reply to the sender here
     * (malloc'd, the caller frees it; NULL if none) instead of queueing
     * it, together with any updates held for this resident.  It must
     * stay valid until `done` is called, and is set before `done`. */
    char **passive;
    long long received_ms; /* when the platform handed it over; 0 = now */
    bool from_spool;       /* a replayed spool record (never spooled again) */
};

enum step_outcome {
    STEP_STORED = 0,       /* stored with its replies — or, while Redis is
                              unreachable, in the local spool (action
                              "spooled", no case yet, no passive reply) */
    STEP_DUPLICATE,        /* seen before: nothing new stored */
    STEP_UNAVAILABLE,      /* Redis could not be reached: not stored */
    STEP_REJECTED,         /* the input itself is unusable (e.g. invalid UTF-8) */
};

typedef void (*step_done_fn)(enum step_outcome outcome, const char *action,
                             const char *case_id, void *arg);

/* Starts the step; `in` may be freed on return.  `done` is called exactly
 * once, possibly before step_submit returns (when Redis is down). */
void step_submit(struct app *app, const struct inbound *in, step_done_fn done, void *arg);

/* Fires the timers that are due (sessions waiting for a missing slot,
 * and later deadlines) in one Redis step; each timer fires exactly once
 * however many instances tick.  Called periodically by the daemon. */
void step_tick(struct app *app);

/* Reassigns case `case_id` to deputy `deputy_id` on behalf of `actor`
 * ("admin" or a deputy id): the same atomic step as a deputy's transfer
 * (queues moved, history appended, both deputies and the resident told).
 * `done` gets STEP_STORED with action "transferred", or STEP_REJECTED
 * with action "unknown_case" / "unknown_deputy" / "bad_state". */
void step_assign(struct app *app, const char *case_id, const char *deputy_id, const char *actor,
                 const char *note, step_done_fn done, void *arg);

/* A common issue by hand (docs/admin.md): `op` "split" takes case
 * `case_id` out of its common issue; "join" puts it into `target`'s (a
 * common issue's number, or a case whose issue it joins or starts with
 * it), handing it to the deputy.  `done` gets STEP_STORED with
 * action "split", "dissolved" (one case was left) or "joined" and the
 * issue's number, else STEP_REJECTED with the reason ("unknown_case",
 * "unknown_target", "unknown_common", "not_common", "already_common",
 * "bad_state", a refused transfer's) or STEP_UNAVAILABLE. */
void step_common(struct app *app, const char *op, const char *case_id, const char *target,
                 const char *actor, step_done_fn done, void *arg);
/* Withdraws case `case_id` on behalf of `actor` (an administrator): the
 * case leaves the deputy's and the resident's open lists, `note` goes into
 * its history, the resident and the deputy are told.  `done` gets
 * STEP_STORED with action "withdrawn", or STEP_REJECTED with
 * "unknown_case" / "bad_state". */
void step_withdraw(struct app *app, const char *case_id, const char *actor, const char *note,
                   step_done_fn done, void *arg);

/* After a roster reload: moves the open cases of the deputies in
 * `removed` (ids no longer in the roster) to their station's liaison, else
 * the default liaison, and tells the committee.  Fire and forget; the
 * directory for the new roster must already be published. */
void step_reroute(struct app *app, const char *const *removed, size_t n);

/* Replays the local spool into Redis, in order, a window of records at a
 * time down the one connection (Redis runs them in the order sent);
 * called whenever Redis (re)connects and on every timer tick.  Only one
 * worker replays at a time. */
void step_replay(struct app *app);

/* Helpers exposed for tests. */
struct intent_result;
struct roster;
struct deputy;

/* Whether a deputy's (normalised) text asks the resident something:
 * ends in ?/吗/呢/么/嘛 or opens with 请问/是否/能否/有没有…  The one
 * rule that picks the question or the statement wording of a reply. */
bool step_is_question(const char *norm, size_t n);

/* A deputy's command text as they wrote it: the body slot's span of the
 * normalised text mapped back to `text`; without a body slot, `text`
 * without the case id and the command words and separators around it
 * ("跟群众说一下 M1001 明天有人去" -> "明天有人去").  `norm` is the
 * normalisation of `text`, `res` its match.  Returns a malloc'd string
 * (possibly empty) and whether it is a question; NULL if out of memory. */
char *step_command_body(const char *text, size_t len, const char *norm, size_t nlen,
                        const struct intent_result *res, bool *question);

/* Whom a transfer names: the deputy slot (an id "d0007" or a name), else
 * the first word next to the case id once transfer words are cut
 * ("M1001转李强", "转给张伟代表 M1002"); names are looked up exactly and
 * without a title (代表/老师/主任). */
#define STEP_TARGET_MAX 4
struct step_target {
    char name[64];         /* the target as written (normalised), "" if none */
    size_t nmatch;         /* deputies it names; may exceed STEP_TARGET_MAX */
    const struct deputy *match[STEP_TARGET_MAX];
};
void step_transfer_target(const struct roster *r, const char *norm, size_t nlen,
                          const struct intent_result *res, struct step_target *t);

/* 1-5 from a digit or a word (非常满意 5, 满意 5, 基本满意 3, 不满意 1 ...); 0 if none. */
int step_rating_value(const char *slot);

#endif
