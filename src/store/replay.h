#ifndef MASHANG_REPLAY_H
#define MASHANG_REPLAY_H
/* Replay windows for signed requests.  A signature (or WeChat's
 * timestamp and nonce) stays valid for its whole timestamp window, far
 * longer than the 10 s dedupe of messages without an id, so whoever
 * captures one signed request could send it again.  Each signed request
 * claims {ns}:replay:<scope>:<id> with SET NX EX for its window, holding
 * a digest of what the signature vouches for; a second claim within the
 * window is a replay. */
#include <stddef.h>

struct store;

enum replay_verdict {
    REPLAY_FIRST = 0,    /* first time in the window: go on */
    REPLAY_SAME,         /* claimed before by a request with the same digest */
    REPLAY_OTHER,        /* claimed before by a request with another digest */
    REPLAY_UNCHECKED     /* Redis not reachable: nothing remembered */
};

/* Called exactly once per claim, possibly before replay_claim returns. */
typedef void (*replay_fn)(enum replay_verdict verdict, void *arg);

/* Claims (`scope`, `id`) for `ttl_s` seconds with `digest` as its value.
 * `scope` names the door ("chat:relay", "wechat:oa"), `id` the
 * signature or "<timestamp>:<nonce>"; neither may hold more than
 * ID_MAX_LEN bytes of outside text (callers check).  All strings are
 * copied before return. */
void replay_claim(struct store *s, const char *scope, const char *id, const char *digest,
                  long ttl_s, replay_fn fn, void *arg);

/* Forgets a claim whose request was not taken (answered 503, nothing
 * stored), so the sender's retry of the very same signed request is
 * accepted.  Fire and forget. */
void replay_release(struct store *s, const char *scope, const char *id);

#endif
