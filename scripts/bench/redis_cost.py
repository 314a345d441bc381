#!/usr/bin/python3
"""Redis CPU and commands per message, the scripts alone (make bench-redis).

    /usr/bin/python3 scripts/bench/redis_cost.py [-n LIVES]

Starts a scratch redis-server and loads the function library of
$BUILD/gen/lua/ with the helpers of tests/lua/run.py (the same
envelopes, the same published directory), then runs LIVES case lives:
a resident opens a case, the deputy accepts, the resident asks for the
status, the deputy resolves, the resident rates.  After each message
its replies go through the outbox as the daemon sends them under light
load: the step leases them itself (the "lease" member step.c adds while
the outbox has room; --no-lease: none, as when it is full), else one
claim (outbox_claim.lua); then one call marking them "sending" and one
recording "sent" (outbox_result.lua).  Each call is one FCALL.

Two passes over fresh data:
  accounting  CONFIG RESETSTAT before and INFO commandstats after each
              call: the commands each kind runs and the usec Redis
              reports for the FCALL (its inner commands included);
  cpu         no instrumentation: used_cpu_user + used_cpu_sys of INFO
              cpu over the whole pass, divided by the messages - what a
              message costs Redis including reading the call and writing
              the reply.
Other processes share the cores: the µs move by up to a factor of two
between runs (docs/performance.md, "Redis cost per message"); the command
counts are exact.
"""

import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "lua"))
import run as luatest  # noqa: E402  (tests/lua/run.py: scratch Redis, envelopes, directory)

KINDS = ("open", "accept", "status", "resolve", "rate")
CALLS = ("step", "claim", "mark", "result")


class Bench(luatest.ScriptTest):
    """The envelopes of tests/lua/run.py, driven as a workload."""

    lease = {"owner": "bench", "expires": (luatest.T0 + 10 ** 7) * 1000, "max": 4}   # step.c's, with room

    def __init__(self, srv, account, lease=True):
        super().__init__("test_case_life")
        self.srv = srv
        self.r = srv.r
        self.account = account
        self.stats = {}        # (kind, call) -> [calls, commands, usec]
        self.usec = {}         # kind -> [usec of the step and its outbox calls, per message]
        self.kind = None
        self.call = "step"
        self.answer = None
        if not lease:
            self.lease = None     # the outbox full: every reply waits for a claim

    def run_script(self, name, args, budget=None):
        if not self.account:
            return luatest.fcall(self.r, self.srv.fn(name), *args)
        self.r.config_resetstat()
        out = luatest.fcall(self.r, self.srv.fn(name), *args)
        st = self.r.info("commandstats")
        n = sum(v["calls"] for k, v in st.items() if not k.startswith(luatest.UNCOUNTED))
        usec = st.get("cmdstat_fcall", {}).get("usec", 0)
        s = self.stats.setdefault((self.kind, self.call), [0, 0, 0])
        s[0] += 1
        s[1] += n
        s[2] += usec
        u = self.usec.setdefault(self.kind, [])
        if self.call == "step":
            u.append(0)
        u[-1] += usec
        return out

    def step(self, env, budget):
        out = super().step(env, budget)
        self.answer = out
        return out

    def send_replies(self, now_ms):
        """The outbox sends what the message queued, as outbox.c does: the
        replies the step leased itself, else (or beyond them) one claim."""
        out = self.answer
        leased = out[4][0::6] if len(out) > 4 else []
        claimed = []
        if out[2] > len(leased):
            self.call = "claim"
            flat = self.run_script("outbox_claim", [now_ms, 60000, 16, "bench", 1])
            claimed = flat[0::6]
        ids = leased + claimed
        if ids:
            # a step's lease is renewed by the mark (next_due_ms), a claim's is not
            self.call = "mark"
            self.run_script("outbox_result", ["bench", now_ms, "".join(
                "%s\x00sending\x00%d\x00dlr%s\x00" % (i, now_ms + 60000 if i in leased else 0, i)
                for i in ids)])
            self.call = "result"
            self.run_script("outbox_result", ["bench", now_ms,
                                              "".join("%s\x00sent\x000\x00ok\x00" % i for i in ids)])
        self.call = "step"

    def life(self, i):
        """One case from opening to rating, resident number i."""
        self.resident_addr = "138%08d" % i
        t = luatest.T0 + i * 7200
        self.kind = "open"
        case = self.open_case(now=t, text="幸福路%d号的路灯坏了三天了" % i, budget=None)[1]
        self.send_replies(t * 1000)
        t += 600
        self.kind = "accept"
        self.deputy("接单 " + case, "cmd.accept", case, t, None)
        self.send_replies(t * 1000)
        self.kind = "status"
        status = {"kind": "chat", "name": "status", "label": "chat.status", "slots": {}, "certain": True}
        self.resident("查询", status, t + 60, None)
        self.send_replies((t + 60) * 1000)
        t += 3600
        self.kind = "resolve"
        self.deputy("办结 %s 已修好" % case, "cmd.resolve", case, t, None, body="已修好", question=False)
        self.send_replies(t * 1000)
        self.kind = "rate"
        rating = {"kind": "chat", "name": "rating", "label": "chat.rating", "slots": {"rating": "5"},
                  "certain": True}
        self.resident("5", rating, t + 60, None, rating=5, tr=luatest.tr_json("rate", "reopen"))
        self.send_replies((t + 60) * 1000)


def fixed_costs(srv):
    """What a call costs before any work: an empty function, and the step
    function answering a duplicate (its set-up, the envelope decoded, one
    GET), medians of 300 calls; and loading the library (FUNCTION LOAD
    REPLACE, once a connection), the median of 20."""
    r = srv.r

    def median(fn, *args):
        us = []
        for _ in range(300):
            r.config_resetstat()
            luatest.fcall(r, fn, *args)
            us.append(r.info("commandstats")["cmdstat_fcall"]["usec"])
        return statistics.median(us)

    def load():
        us = []
        for _ in range(20):
            r.config_resetstat()
            luatest.load_library(r, srv.code)
            us.append(r.info("commandstats")["cmdstat_function|load"]["usec"])
        return statistics.median(us)

    b = Bench(srv, False)
    b.r.flushall()
    b.publish()
    b.open_case(budget=None)
    env = {"cfg": luatest.DIGEST, "now": luatest.T0 * 1000, "role": "resident",
           "msg": {"channel": "sms", "addr": luatest.RESIDENT, "text": "幸福路12号的路灯坏了三天了",
                   "masked": "138****8000", "passive": False},
           "intent": {"kind": "concern", "name": "streetlight", "label": "infra.streetlight",
                      "slots": {"place": "幸福路12号"}, "title": "路灯不亮", "confidence": 0.93,
                      "review": False, "certain": True},
           "tr": [], "route": [{"rule": "area", "d": ["d1"], "duty": [], "station": "s1"}]}
    luatest.load_library(r, "#!lua name=bench_empty\n"
                            "redis.register_function('bench_empty', function() return 1 end)\n")
    return (median("bench_empty"), median(srv.fn("step"), json.dumps(env)),
            len(json.dumps(env).encode()), load())


# Where the step function's time goes: TIME read at these points of a copy
# of the library (the text before which a reading is taken); the first
# reading is the function's entry.  The libraries and the modules'
# definitions run at FUNCTION LOAD, not here.
STEP_ENTRY = "\nlocal function step(keys, args)\n"
SEGMENT_MARKS = (
    ("set-up: keys, state", "\n  env = cjson.decode(args[1])\n"),
    ("envelope decode", "\n  now = tonumber(env.now)\n"),
    ("state, dedupe, first cfg read", "\n  local action, case_id = dispatch()\n"),
    ("the message's work", "\n  local passive_text = ''\n"),
    ("dedupe mark, outbox writes", "\n  if #leased > 0 then return"),
)


def segments(srv, lives, lease):
    """Medians in µs of the step function's segments per kind, measured with
    redis.call('TIME') inserted at SEGMENT_MARKS (each reading adds ~1 µs)."""
    src = srv.code
    lib = luatest.library_name(src)
    # A library of its own, beside the real one: another name, the
    # readings in one table, emptied at each call's entry.
    src = src.replace(lib, lib + "seg")
    tick = "__T[#__T + 1] = __T.now()\n"
    head = src.index("\n") + 1
    src = (src[:head] + "local __T = { now = function() local t = redis.call('TIME') "
           "return t[1] * 1000000 + t[2] end }\n" + src[head:])
    for mark in [STEP_ENTRY] + [m for _, m in SEGMENT_MARKS]:
        if src.count(mark) != 1:
            sys.exit("bench-redis: the library no longer has %r once: update SEGMENT_MARKS" % mark)
    src = src.replace(STEP_ENTRY, STEP_ENTRY + "__T = { now = __T.now }\n" + tick)
    for name, mark in SEGMENT_MARKS:
        src = src.replace(mark, "\n" + tick + mark.lstrip("\n"))
    tail = src[src.index("  if #leased > 0 then return"):]
    tail = tail[:tail.index("\nend\n")]
    src = src.replace(tail, "  return { action, case_id or '', outn, passive_text, leased, __T }")
    luatest.load_library(srv.r, src)
    b = Bench(type("S", (), {"r": srv.r, "fn": lambda _, n: "%sseg_%s" % (lib, n)})(), False, lease)
    found = {}
    plain = b.run_script

    def run_script(name, args, budget=None):
        out = plain(name, args, budget)
        if name == "step" and len(out) > 5:
            t = [int(x) for x in out[5]]
            found.setdefault(b.kind, []).append([y - x for x, y in zip(t, t[1:])])
            out = out[:4] + ([out[4]] if out[4] else [])
        return out
    b.run_script = run_script
    b.r.flushall()
    b.publish()
    for i in range(lives):
        b.life(i)
    return {k: [statistics.median(x[j] for x in v) for j in range(len(SEGMENT_MARKS))]
            for k, v in found.items()}


def cpu(r):
    c = r.info("cpu")
    return float(c["used_cpu_user"]) + float(c["used_cpu_sys"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--lives", type=int, default=400, help="case lives per pass (5 messages each)")
    ap.add_argument("--no-lease", action="store_true",
                    help="steps lease none of their replies (the outbox at its limit): every reply is claimed")
    a = ap.parse_args()
    if not os.path.isdir(luatest.LUA_DIR):
        sys.exit("bench-redis: %s missing: run make first" % luatest.LUA_DIR)
    srv = luatest.Redis()
    try:
        acc = Bench(srv, True, not a.no_lease)
        acc.r.flushall()
        acc.publish()
        for i in range(a.lives):
            acc.life(i)

        b = Bench(srv, False, not a.no_lease)
        b.r.flushall()
        b.publish()
        load0 = os.getloadavg()[0]
        c0, w0 = cpu(b.r), time.time()
        for i in range(a.lives):
            b.life(i)
        c1, w1 = cpu(b.r), time.time()
        load1 = os.getloadavg()[0]
        empty, dup, envlen, load = fixed_costs(srv)
        seg = segments(srv, min(a.lives, 200), not a.no_lease)
    finally:
        srv.close()

    msgs = a.lives * len(KINDS)
    print("Redis cost per message: %d case lives, %d messages, scripts of %s" %
          (a.lives, msgs, os.path.relpath(luatest.LUA_DIR, REPO)))
    print()
    print("| message | step cmds | step µs | outbox calls | outbox cmds | outbox µs | total cmds | total µs | median µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot = [0, 0, 0]
    for k in KINDS:
        st = acc.stats.get((k, "step"), [1, 0, 0])
        n = st[0]
        oc = sum(acc.stats.get((k, c), [0, 0, 0])[0] for c in CALLS[1:]) / n
        ocmd = sum(acc.stats.get((k, c), [0, 0, 0])[1] for c in CALLS[1:]) / n
        ous = sum(acc.stats.get((k, c), [0, 0, 0])[2] for c in CALLS[1:]) / n
        scmd, sus = st[1] / n, st[2] / n
        tot[0] += scmd + ocmd
        tot[1] += sus + ous
        tot[2] += 1 + oc
        print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |" %
              (k, scmd, sus, oc, ocmd, ous, scmd + ocmd, sus + ous, statistics.median(acc.usec[k])))
    nk = len(KINDS)
    allus = [u for k in KINDS for u in acc.usec[k]]
    print("| **per message** | | | %.1f | | | %.1f | %.0f | %.0f |" %
          (tot[2] / nk - 1, tot[0] / nk, tot[1] / nk, statistics.median(allus)))
    print()
    print("µs: Redis's own timing of each FCALL (INFO commandstats), its inner commands included;")
    print("mean over the messages of a kind, and the median of a message with its outbox calls.")
    print("Fixed costs (medians): an empty FCALL %.0f µs; the step function answering a duplicate "
          "(set-up, %d-byte envelope decoded, one GET) %.0f µs; FUNCTION LOAD REPLACE of the library "
          "(once a connection) %.0f µs." % (empty, envlen, dup, load))
    print()
    print("Where the step function's time goes (medians, µs; TIME read inside the function):")
    print()
    print("| message | " + " | ".join(n for n, _ in SEGMENT_MARKS) + " |")
    print("|---|" + "---:|" * len(SEGMENT_MARKS))
    for k in KINDS:
        print("| %s | %s |" % (k, " | ".join("%.0f" % x for x in seg[k])))
    print()
    print("INFO cpu (user+sys) over the uninstrumented pass: %.1f µs per message with its replies "
          "(%d FCALL calls per message on average, %.1f s wall; load average %.1f -> %.1f on %d cores)" %
          ((c1 - c0) * 1e6 / msgs, round(tot[2] / nk), w1 - w0, load0, load1, os.cpu_count()))


if __name__ == "__main__":
    main()
