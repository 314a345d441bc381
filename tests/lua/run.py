#!/usr/bin/python3
"""The Redis scripts alone, against a scratch redis-server.

    /usr/bin/python3 tests/lua/run.py [-v] [PATTERN]      (make lua-test)

Loads the scripts exactly as the daemon does (the joined files of
$BUILD/gen/lua/, the bytes scripts/embed.sh puts into the binary), gives
the step script envelopes shaped like src/core/step.c's for each kind of
message — a resident opens a case, the deputy accepts, the resident asks
for the status, the deputy resolves, the resident rates, a timer tick —
and checks the keys each leaves, the outbox entries it queues (text,
channel, address) and its budget of Redis commands: the commands run
inside the script, counted exactly by INFO commandstats after CONFIG
RESETSTAT.  A budget is the count measured when it was set, so one
command more fails; lower it when a change saves one.

Python 3 standard library plus python3-redis only.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import redis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.path.join(REPO, os.environ.get("BUILD") or "build")
LUA_DIR = os.path.join(BUILD_DIR, "gen", "lua")
# The one function library the daemon loads (scripts/lua-join.sh).
LIBRARY = os.path.join(LUA_DIR, "mashang.lua")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

P = "{t}:"             # the key prefix ("{ns}:")
DIGEST = "0123456789abcdef"
CFG = P + "cfg:" + DIGEST
T0 = 1767225600        # 2026-01-01 00:00:00 UTC, seconds

RESIDENT = "13800138000"
DEPUTY_PHONE = "13900000001"

# Redis commands a script may run for each kind of message, at most.
# Opening, accepting, resolving and rating a case also keep the
# statistics' aggregates (lib/agg.lua): one HGET of the rebuild cursor a
# run, and four HINCRBY (two fields, day and month bucket) for each metric
# that moves: open +5 ("received"), accept +5 ("accepted"), resolve +5
# ("solved"), rate +9 ("closed" and the rating).  The month buckets let a
# year's report read 12 hashes, not 365; the two fields keep each hash to
# deputies plus categories rather than their product.
BUDGET = {
    # A concern naming a place also looks for an open case of the same
    # place it may join (65_common.lua): ZREVRANGE, ZADD and EXPIRE of the
    # place's candidates, plus an HMGET for each candidate compared.
    "open_first": 33,       # the first case of a namespace also moves seq:case past 1000 and marks the aggregates complete
    "open": 31,
    # joining a second case into a new common issue: the candidate's HMGET,
    # seq:common, the issue's hash and rank, the first case's mark and
    # history, its entry in commons:days (the report's key problems); no
    # deadline timers (the first case's stand for the issue)
    "open_join": 40,
    "accept": 24,
    "status": 14,
    "resolve": 26,
    "rate": 30,
    "tick_idle": 2,
    "tick_reminder": 15,
    "tick_compact": 8,      # a closed case's history folded into one string
    "gauges": 7,            # /metrics: the gauge hash, the deadline sets, the outbox sizes
    "gauges_rebuild": 17,   # the same, building the hash from two cases
    "wechat_welcome": 2,
    # 回头看, aspects and the digest (test_aspects_revisit_and_digest): none
    # of them on an ordinary message's path
    "rate_aspects": 43,     # "rate" plus the cfg read of a template the prefetch does not name, and each aspect's score counted (4 HINCRBY an aspect)
    "tick_revisit": 32,     # the question, with the same tick's compaction and five stale deadline timers; "revisit.asked" counted (HGET of the rebuild cursor, 4 HINCRBY)
    "revisit_answer": 50,   # the case reopened: state, queues, deadlines, three messages; its aggregates (solved, closed) moved back, "revisit.answered" and "revisit.relapsed" counted
    "tick_arm_digest": 4,   # once a local day per worker
    "tick_digest": 20,      # one station, one deputy on duty, one overdue case, two new ones (an HMGET each) and their common issue (ZREVRANGE, HGET)
}


# --------------------------------------------------------------------------
# facts read from the sources, so the test follows them

def templates():
    """The default reply texts of src/base/config.c (key -> text)."""
    with open(os.path.join(REPO, "src", "base", "config.c"), encoding="utf-8") as f:
        src = f.read()
    body = src[src.index("template_defaults[] = {"):]
    body = body[:body.index("\n};")]
    out = {}
    lit = r'"(?:[^"\\]|\\.)*"'
    for m in re.finditer(r'\{\s*"([^"]+)",\s*((?:%s\s*)+),' % lit, body):
        parts = re.findall(lit, m.group(2))
        out[m.group(1)] = "".join(json.loads(p) for p in parts)
    return out


def events():
    """The "event" names of src/core/schema.def."""
    with open(os.path.join(REPO, "src", "core", "schema.def"), encoding="utf-8") as f:
        return {w[1] for w in (line.split("#", 1)[0].split() for line in f) if w and w[0] == "event"}


TEMPLATES = templates()
EVENTS = events()


def render(key, **vars_):
    """What lib/render.lua makes of template `key` (for expectations)."""
    return re.sub(r"\{([\w.]+)\}", lambda m: str(vars_.get(m.group(1), "")), TEMPLATES.get(key, ""))


def tr_json(*names):
    """The "tr" member step.c sends: the names of the events the message
    may cause (where each leads is the schema's, joined into the script)."""
    for ev in names:
        assert ev in EVENTS, ev
    return list(names)


DEPUTY_TR = tr_json("accept", "progress", "resolve", "transfer", "escalate")

# The settings directory.c publishes in the field "opt", "name=value" lines.
OPT = {"prefix": "MS", "dedupe_s": 86400, "rating_s": 259200, "session_s": 600,
       "followup_s": 3600, "accept_s": 86400, "progress_s": 259200, "resolve_s": 1296000,
       "sender_per_minute": 10, "max_sessions": 10000,
       "common_prefix": "R", "common_window_s": 1209600, "common_min": "0.30"}
# A concern's signature as src/intents/similar.c writes it (sorted 6-hex
# grams): the streetlight concern's, and one sharing nothing with it.
SIG_LIGHT = "".join("%06x" % i for i in range(10, 30))
SIG_OTHER = "".join("%06x" % i for i in range(100, 120))


# --------------------------------------------------------------------------
# a scratch Redis

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def library_name(code):
    """The library's name, from its first line ("#!lua name=mashang_<hash>")."""
    m = re.match(r"#!lua name=(\w+)\n", code)
    if not m:
        raise RuntimeError("%s: no '#!lua name=' line" % LIBRARY)
    return m.group(1)


def load_library(r, code):
    """FUNCTION LOAD, as store/pool.c does on every connection (REPLACE: a
    test may load an edited build under the same name); its name."""
    r.execute_command("FUNCTION", "LOAD", "REPLACE", code)
    return library_name(code)


def fcall(r, fn, *args):
    """One call of a function with KEYS[1] = the prefix, as store.c makes it."""
    return r.execute_command("FCALL", fn, 1, P, *args)


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lua-test-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port, decode_responses=True)
        for _ in range(100):
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError("redis-server did not start")
        with open(LIBRARY, encoding="utf-8") as f:
            self.code = f.read()
        self.lib = load_library(self.r, self.code)

    def fn(self, script):
        """The name of script `script`'s function in the library."""
        return "%s_%s" % (self.lib, script)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


SERVER = None
# The call itself (FCALL; never a FUNCTION command: the library is loaded
# once, before any test) and the reset before it (Redis 7 names it
# "cmdstat_config|resetstat").  A budget counts the commands the function
# runs, as it did under EVALSHA.
UNCOUNTED = ("cmdstat_fcall", "cmdstat_config")
# LUA_TEST_MEASURE=1: print each message's commands instead of checking budgets.
MEASURE = bool(os.environ.get("LUA_TEST_MEASURE"))


def setUpModule():
    global SERVER
    SERVER = Redis()


def tearDownModule():
    SERVER.close()


# --------------------------------------------------------------------------

class ScriptTest(unittest.TestCase):
    # the resident's number (scripts/bench/redis_cost.py varies it)
    resident_addr = RESIDENT
    # the "lease" member step.c adds when the outbox has room (None: none)
    lease = None

    def setUp(self):
        self.r = SERVER.r
        self.r.flushall()
        self.publish()

    def publish(self):
        """The directory as src/core/directory.c writes it."""
        fields = {"t:" + k: v for k, v in TEMPLATES.items()}
        fields["c:infra.streetlight"] = "路灯"
        fields["c:other"] = "其他"
        fields["d:d1"] = json.dumps({"name": "张三", "channel": "sms", "addr": DEPUTY_PHONE,
                                     "station": "s1", "station_name": "幸福路联络站"})
        fields["s:s1"] = json.dumps({"name": "幸福路联络站", "liaison": ""})
        fields["committee"] = json.dumps({"name": "代表工委", "channel": "sms", "addr": "13900000009"})
        fields["opt"] = "".join("%s=%s\n" % kv for kv in OPT.items())
        self.r.hset(CFG, mapping=fields)

    # -- running a script and counting what it did --------------------------

    def run_script(self, name, args, budget=None):
        self.r.config_resetstat()
        out = fcall(self.r, SERVER.fn(name), *args)
        stats = self.r.info("commandstats")
        n = sum(v["calls"] for k, v in stats.items() if not k.startswith(UNCOUNTED))
        if budget and MEASURE:
            print("\n  %s: %d commands: %s" % (budget, n, " ".join(
                "%s=%d" % (k[8:], v["calls"]) for k, v in sorted(stats.items())
                if not k.startswith(UNCOUNTED))), file=sys.stderr)
        elif budget:
            self.assertLessEqual(n, BUDGET[budget], "%s: %d Redis commands, budget %d" %
                                 (budget, n, BUDGET[budget]))
            if n < BUDGET[budget]:
                print("\n  %s: %d commands, under its budget of %d: lower it" % (budget, n, BUDGET[budget]),
                      file=sys.stderr)
        self.commands = n
        return out

    def step(self, env, budget):
        base = {"cfg": DIGEST}
        if self.lease and "mode" not in env:
            base["lease"] = self.lease
        base.update(env)
        return self.run_script("step", [json.dumps(base)], budget)

    def outbox(self):
        """The queued messages, oldest first, and empties the queue."""
        ids = self.r.zrange(P + "outbox:ready", 0, -1)
        out = [self.r.hgetall(P + "out:" + i) for i in ids]
        self.r.delete(P + "outbox:ready")
        return [(o["channel"], o["to"], o["kind"], o["text"]) for o in out]

    def deliver(self, now, dlr=True, owner="host:1:0"):
        """Sends every due outbox message as the daemon does: claims them
        (outbox_claim.lua), marks each send started with its delivery-report
        token, records it sent (outbox_result.lua) and, with `dlr`, Kannel's
        report that it was delivered (dlr.lua).  Returns the ids sent."""
        now_ms = now * 1000
        got = self.run_script("outbox_claim", [now_ms, 30000, 100, owner, 1 if dlr else 0])
        ids = [got[i] for i in range(0, len(got), 6)]
        tokens = {i: "%032x" % (int(i) * 7919) for i in ids}

        def records(op):
            return "".join("%s\0%s\0%s\0%s\0" % (i, op, 0, tokens[i] if op == "sending" and dlr else "")
                           for i in ids)
        if ids:
            self.run_script("outbox_result", [owner, now_ms, records("sending")])
            self.run_script("outbox_result", [owner, now_ms, records("sent")])
        if dlr:
            for i in ids:
                self.run_script("dlr", [i, 1, now_ms, tokens[i]])
        return ids

    # -- the messages ------------------------------------------------------

    def resident(self, text, intent, now, budget, addr=None, **extra):
        addr = addr or self.resident_addr
        env = {"now": now * 1000, "role": "resident",
               "msg": {"channel": "sms", "addr": addr, "text": text, "masked": addr[:3] + "****" + addr[-4:],
                       "passive": False},
               "intent": intent, "tr": extra.pop("tr", [])}
        env.update(extra)
        return self.step(env, budget)

    def deputy(self, text, label, case, now, budget, **extra):
        env = {"now": now * 1000, "role": "deputy", "deputy": "d1", "case": case,
               "msg": {"channel": "sms", "addr": DEPUTY_PHONE, "text": text, "masked": "139****0001",
                       "passive": False},
               "intent": {"kind": "command", "name": label, "label": label, "slots": {},
                          "certain": True, "alts": []},
               "tr": DEPUTY_TR}
        env.update(extra)
        return self.step(env, budget)

    def open_case(self, now=T0, text="幸福路12号的路灯坏了三天了", budget="open_first", addr=None,
                  place="幸福路12号", sig=SIG_LIGHT, route_to="d1"):
        intent = {"kind": "concern", "name": "streetlight", "label": "infra.streetlight",
                  "slots": {"place": place}, "title": "路灯不亮", "confidence": 0.93,
                  "review": False, "certain": True}
        route = [{"rule": "area", "d": [route_to], "duty": [], "station": "s1"}]
        return self.resident(text, intent, now, budget, addr, route=route, sig=sig)

    def whole_life(self, now, addr=None, text="幸福路12号的路灯坏了三天了", budget=None):
        """One case from its opening to its rating, every message it causes
        sent and delivery-reported; returns (case id, the clock after)."""
        case = self.open_case(now, text, budget, addr)[1]
        self.deliver(now)
        now += 600
        self.deputy("接单 " + case, "cmd.accept", case, now, None)
        self.deliver(now)
        now += 3600
        self.deputy("办结 %s 已修好" % case, "cmd.resolve", case, now, None, body="已修好", question=False)
        self.deliver(now)
        now += 60
        rating = {"kind": "chat", "name": "rating", "label": "chat.rating", "slots": {"rating": "5"},
                  "certain": True}
        self.resident("5", rating, now, None, addr, rating=5, tr=tr_json("rate", "reopen"))
        self.deliver(now)
        return case, now

    def tick(self, now, budget=None):
        return self.step({"mode": "tick", "now": now * 1000, "tr": tr_json("rate", "escalate")}, budget)

    def gauges(self, now, budget):
        return json.loads(self.run_script("admin", ["gauges", now, OPT["accept_s"], OPT["resolve_s"]], budget))

    # -- the tests ---------------------------------------------------------

    def test_calls_share_no_state(self):
        """The library is loaded once and each message is one FCALL: a call
        keeps nothing of the calls before it (the outbox queue, the caches,
        the counts) and names the keys of its own prefix, whichever came
        before."""
        self.assertEqual(self.open_case()[:3], ["case_opened", "MS1001", 2])
        self.assertEqual(len(self.outbox()), 2)
        self.assertEqual(self.tick(T0 + 1), ["tick", "0", 0, ""])
        self.assertEqual(self.outbox(), [])
        # the same function under another namespace, then this one again
        other = "{u}:"
        self.r.copy(CFG, other + "cfg:" + DIGEST)
        env = {"cfg": DIGEST, "now": T0 * 1000, "role": "resident",
               "msg": {"channel": "sms", "addr": RESIDENT, "text": "别处的路灯坏了", "masked": "138****8000",
                       "passive": False},
               "intent": {"kind": "concern", "name": "streetlight", "label": "infra.streetlight",
                          "slots": {}, "title": "路灯不亮", "certain": True},
               "tr": [], "route": [{"rule": "area", "d": ["d1"], "duty": [], "station": "s1"}]}
        out = self.r.execute_command("FCALL", SERVER.fn("step"), 1, other, json.dumps(env))
        self.assertEqual(out[:3], ["case_opened", "MS1001", 2])
        self.assertEqual(self.r.zcard(other + "cases"), 1)
        self.assertEqual(self.r.zcard(other + "outbox:ready"), 2)
        self.assertEqual(self.open_case(now=T0 + 2, addr="13800138001", budget=None)[:3],
                         ["case_opened", "MS1002", 2])
        self.assertEqual((self.r.zcard(P + "cases"), self.r.zcard(other + "cases")), (2, 1))
        self.assertEqual(len(self.outbox()), 2)

    def test_case_life(self):
        r = self.r
        action, case, n, passive = self.open_case()
        self.assertEqual((action, case, n, passive), ("case_opened", "MS1001", 2, ""))
        c = r.hgetall(P + "case:MS1001")
        self.assertEqual((c["state"], c["deputy"], c["routed_by"], c["clock"]), ("assigned", "d1", "area", str(T0)))
        self.assertEqual(r.zscore(P + "dq:d1", "MS1001"), T0)
        self.assertEqual(r.zrange(P + "rcases:sms:" + RESIDENT, 0, -1), ["MS1001"])
        self.assertEqual(len(r.lrange(P + "hist:MS1001", 0, -1)), 2)
        self.assertEqual(r.zcard(P + "timers"), 3)     # accept, progress, resolve: their half-way
        self.assertEqual(r.hgetall(P + "gauge:cases"), {"assigned": "1"})
        self.assertEqual(r.zrange(P + "due:waiting", 0, -1, withscores=True), [("MS1001", T0)])
        vars_ = dict(case="MS1001", topic="路灯不亮", category="路灯", deputy="张三",
                     station="幸福路联络站", text="幸福路12号的路灯坏了三天了", resident="138****8000")
        self.assertEqual(self.outbox(), [
            ("sms", DEPUTY_PHONE, "notify", render("deputy_new", **vars_)),
            ("sms", RESIDENT, "reply", render("ack", **vars_)),
        ])

        # the deputy accepts
        t = T0 + 600
        action, case, n, _ = self.deputy("接单 MS1001", "cmd.accept", "MS1001", t, "accept")
        self.assertEqual((action, case, n), ("accepted", "MS1001", 2))
        c = r.hgetall(P + "case:MS1001")
        self.assertEqual((c["state"], c["accepted_at"]), ("accepted", str(t)))
        self.assertEqual(r.hgetall(P + "gauge:cases"), {"assigned": "0", "accepted": "1"})
        self.assertEqual(r.zcard(P + "due:waiting"), 0)
        self.assertEqual(r.zrange(P + "due:working", 0, -1, withscores=True), [("MS1001", T0)])
        vars_ = dict(case="MS1001", deputy="张三", text="", topic="路灯不亮")
        self.assertEqual(self.outbox(), [
            ("sms", RESIDENT, "push", render("accepted", **vars_)),
            ("sms", DEPUTY_PHONE, "reply", render("deputy_accepted", **vars_)),
        ])

        # the resident asks how it goes
        status = {"kind": "chat", "name": "status", "label": "chat.status", "slots": {}, "certain": True}
        action, case, n, _ = self.resident("查询", status, t + 60, "status")
        self.assertEqual((action, case, n), ("status", "MS1001", 1))
        item = render("status_item", case="MS1001", topic="路灯不亮", state=TEMPLATES["state.accepted"],
                      latest="张三")
        self.assertEqual(self.outbox(), [("sms", RESIDENT, "reply", render("status", items=item))])

        # the deputy resolves
        t += 3600
        action, case, n, _ = self.deputy("办结 MS1001 已修好", "cmd.resolve", "MS1001", t, "resolve",
                                         body="已修好", question=False)
        self.assertEqual((action, case, n), ("resolved", "MS1001", 2))
        self.assertEqual(r.hget(P + "case:MS1001", "state"), "resolved")
        self.assertEqual(r.hget(P + "res:sms:" + RESIDENT, "rating_case"), "MS1001")
        self.assertEqual(r.zscore(P + "timers", "rating|MS1001"), t + OPT["rating_s"])
        self.assertEqual(r.zcard(P + "due:working"), 0)
        self.assertEqual([o[:3] for o in self.outbox()],
                         [("sms", RESIDENT, "push"), ("sms", DEPUTY_PHONE, "reply")])

        # the resident rates
        rating = {"kind": "chat", "name": "rating", "label": "chat.rating", "slots": {"rating": "5"},
                  "certain": True}
        action, case, n, _ = self.resident("5", rating, t + 60, "rate", rating=5,
                                           tr=tr_json("rate", "reopen"))
        self.assertEqual((action, case, n), ("rated", "MS1001", 1))
        c = r.hgetall(P + "case:MS1001")
        self.assertEqual((c["state"], c["rating"]), ("closed", "5"))
        self.assertEqual(r.zcard(P + "rcases:sms:" + RESIDENT), 0)
        # the rating timer now waits for the end of the follow-up window
        self.assertEqual(r.zscore(P + "timers", "rating|MS1001"), t + 60 + OPT["followup_s"])
        self.assertEqual(self.outbox(), [("sms", RESIDENT, "reply", render("rated", case="MS1001", rating=5))])
        g = {k: v for k, v in r.hgetall(P + "gauge:cases").items() if v != "0"}
        self.assertEqual(g, {"closed": "1"})

    def per_case_keys(self):
        """Every key but the namespace's shared ones, type and TTL."""
        # cplace: a place's open cases, forgotten with timers.common_window_s
        shared = ("cases", "gauge:", "due:", "dq:", "cfg:", "seq:", "timers", "rcases:", "agg:",
                  "cplace:")
        return {k[len(P):]: (self.r.type(k), self.r.ttl(k)) for k in self.r.keys(P + "*")
                if not k[len(P):].startswith(shared)}

    def test_closed_case_compacted_and_still_readable(self):
        case, t = self.whole_life(T0)
        show = lambda: json.loads(self.run_script("admin", ["show", case]))
        before = show()
        self.assertEqual(len(before["history"]), 5)
        # past the rating's follow-up window, the tick compacts the case
        t += OPT["followup_s"]
        action, count, _, _ = self.tick(t, "tick_compact")
        self.assertEqual((action, count), ("tick", "1"))
        left = {k: v for k, v in self.per_case_keys().items() if v[1] < 0}
        self.assertEqual(left, {"case:" + case: ("hash", -1), "histz:" + case: ("string", -1),
                                "res:sms:" + RESIDENT: ("hash", -1)})
        after = show()
        self.assertEqual(after["history"], before["history"])
        self.assertEqual(after["case"].pop("compacted"), "1")
        self.assertEqual(after["case"], before["case"])
        # what the rest of the admin API reads of it
        export = json.loads(self.run_script("admin", ["resident_export", "sms", RESIDENT]))
        self.assertEqual(export["cases"][0]["history"], before["history"])
        self.run_script("admin", ["label", case, "other", t + 1])
        hist = show()["history"]
        self.assertEqual((len(hist), hist[-1]["event"]), (6, "category_corrected"))
        # erasure reaches the compacted history too
        self.run_script("admin", ["resident_erase", "sms", RESIDENT, t + 2])
        hist = show()["history"]
        self.assertEqual([e["text"] for e in hist if e["actor"] == "resident"], ["[已删除]", "[已删除]"])
        self.assertEqual(hist[-1]["event"], "erased")
        self.assertFalse(self.r.exists(P + "hist:" + case))
        # the case's remaining timers (deadlines it met) fire and leave
        # nothing (the resident's own hash went with the erasure)
        far = T0 + 60 * 86400
        self.tick(far)
        self.assertEqual(self.tick(far)[:2], ["tick", "0"])
        self.assertEqual(sorted(k for k, v in self.per_case_keys().items() if v[1] < 0),
                         ["case:" + case, "histz:" + case])

    def test_unrated_case_compacted_after_its_windows(self):
        self.open_case()
        self.deliver(T0)
        t = T0 + 600
        self.deputy("办结 MS1001 已修好", "cmd.resolve", "MS1001", t, None, body="已修好", question=False)
        self.deliver(t)
        t += OPT["rating_s"]
        self.tick(t)
        self.assertEqual(self.r.hget(P + "case:MS1001", "state"), "closed")
        self.assertTrue(self.r.exists(P + "hist:MS1001"))     # not at once: the follow-up window first
        self.deliver(t)
        self.tick(t + OPT["followup_s"])
        self.assertEqual(self.r.hget(P + "case:MS1001", "compacted"), "1")
        self.assertEqual(json.loads(self.run_script("admin", ["show", "MS1001"]))["history"][-1]["event"],
                         "closed_unrated")

    def test_settled_messages_leave_no_key(self):
        self.open_case()
        # no delivery report expected (no token): the hash goes once sent
        self.assertEqual(len(self.deliver(T0, dlr=False)), 2)
        self.assertEqual([k for k in self.per_case_keys() if k.startswith("out:")], [])
        # a report expected: kept for it, then shortly after a final one
        self.deputy("接单 MS1001", "cmd.accept", "MS1001", T0 + 60, None)
        now_ms = (T0 + 60) * 1000
        ids = [i for i in self.r.zrange(P + "outbox:ready", 0, -1)]
        self.run_script("outbox_claim", [now_ms, 30000, 10, "h", 1])
        marks = "".join("%s\0sending\0000\0tok%s\0" % (i, i) for i in ids)
        self.run_script("outbox_result", ["h", now_ms, marks])
        # a report faster than the gateway's answer: not final, the send not yet recorded
        self.assertEqual(self.run_script("dlr", [ids[0], 8, now_ms, "tok" + ids[0]]), "accepted")
        self.assertEqual(self.r.ttl(P + "out:" + ids[0]), -1)
        self.run_script("outbox_result", ["h", now_ms, "".join("%s\0sent\0000\0\0" % i for i in ids)])
        for i in ids:
            self.assertGreater(self.r.ttl(P + "out:" + i), 86400)
        self.assertEqual(self.run_script("dlr", [ids[0], 1, now_ms, "tok" + ids[0]]), "delivered")
        self.assertLessEqual(self.r.ttl(P + "out:" + ids[0]), 3600)
        self.assertGreater(self.r.ttl(P + "out:" + ids[1]), 3600)     # still waiting for its report
        # a dead letter stays, listed and retryable, until an administrator acts
        self.deputy("办结 MS1001 已修好", "cmd.resolve", "MS1001", T0 + 120, None, body="已修好", question=False)
        now_ms = (T0 + 120) * 1000
        got = self.run_script("outbox_claim", [now_ms, 30000, 10, "h", 1])
        dead = got[0]
        self.run_script("outbox_result", ["h", now_ms, "%s\0dead\0000\0HTTP 503\0" % dead])
        self.assertEqual(self.r.ttl(P + "out:" + dead), -1)
        listed = json.loads(self.run_script("admin", ["outbox_dead", 10]))
        self.assertEqual([m["id"] for m in listed["messages"]], [dead])
        self.assertEqual(json.loads(self.run_script("admin", ["outbox_retry", now_ms + 1, 10]))["moved"], 1)
        self.assertIn(dead, self.r.zrange(P + "outbox:ready", 0, -1))

    def test_replies_leased_by_the_step(self):
        # room for one: the first reply goes into the instance's lease and
        # comes back with the answer, the other waits in the queue
        self.lease = {"owner": "host:1", "expires": T0 * 1000 + 60000, "max": 1}
        out = self.open_case(budget=None)     # split: one ZADD for each set
        self.assertEqual(out[:3], ["case_opened", "MS1001", 2])
        self.assertEqual(out[4][:1] + out[4][2:], ["1", DEPUTY_PHONE, render(
            "deputy_new", case="MS1001", topic="路灯不亮", category="路灯", deputy="张三",
            station="幸福路联络站", text="幸福路12号的路灯坏了三天了", resident="138****8000"), "MS1001", "0"])
        self.assertEqual(out[4][1], "sms")
        self.assertEqual(self.r.zrange(P + "outbox:inflight", 0, -1, withscores=True), [("1", T0 * 1000 + 60000)])
        o = self.r.hgetall(P + "out:1")
        self.assertEqual((o["state"], o["owner"], o["attempts"]), ("claimed", "host:1", "0"))
        self.assertEqual([x[:3] for x in self.outbox()], [("sms", RESIDENT, "reply")])
        # its mark renews the lease; another instance's mark is stale
        mark = "1\x00sending\x00%d\x00dlr1\x00" % (T0 * 1000 + 90000)
        self.assertEqual(self.run_script("outbox_result", ["host:2", T0 * 1000, mark]), ["stale"])
        self.assertEqual(self.run_script("outbox_result", ["host:1", T0 * 1000, mark]), ["ok"])
        self.assertEqual(self.r.zscore(P + "outbox:inflight", "1"), T0 * 1000 + 90000)
        # the outcome is recorded as for a claimed message
        self.assertEqual(self.run_script("outbox_result", ["host:1", T0 * 1000, "1\x00sent\x000\x00ok\x00"]), ["sent:1"])
        self.assertEqual(self.r.zcard(P + "outbox:inflight"), 0)
        self.assertEqual(self.r.hmget(P + "out:1", "state", "dlr_token"), ["sent", "dlr1"])

    def test_a_step_lease_that_ran_out_is_claimed_again_once(self):
        self.lease = {"owner": "host:1", "expires": T0 * 1000 + 5000, "max": 4}
        self.open_case(budget=None)
        # the instance died: the claim after its short lease queues them again
        flat = self.run_script("outbox_claim", [T0 * 1000 + 6000, 30000, 16, "host:2", 1])
        self.assertEqual(flat[0::6], ["1", "2"])
        self.assertEqual(self.r.hget(P + "out:1", "reclaimed"), str(T0 * 1000 + 6000))
        # a late mark by the first instance finds it claimed again
        mark = "1\x00sending\x00%d\x00dlr1\x00" % (T0 * 1000 + 90000)
        self.assertEqual(self.run_script("outbox_result", ["host:1", T0 * 1000 + 6000, mark]), ["stale"])

    def test_tick_reminds_and_moves_on(self):
        self.open_case()
        self.outbox()
        # nothing due yet: one read of the timers
        action, count, n, _ = self.step({"mode": "tick", "now": (T0 + 60) * 1000,
                                         "tr": tr_json("rate", "escalate")}, "tick_idle")
        self.assertEqual((action, count, n), ("tick", "0", 0))
        # half the acceptance window
        t = T0 + OPT["accept_s"] // 2
        action, count, n, _ = self.step({"mode": "tick", "now": t * 1000,
                                         "tr": tr_json("rate", "escalate")}, "tick_reminder")
        self.assertEqual((action, count, n), ("tick", "1", 1))
        hours = OPT["accept_s"] // 2 // 3600
        self.assertEqual(self.outbox(), [("sms", DEPUTY_PHONE, "notify", render(
            "reminder", case="MS1001", topic="路灯不亮", category="路灯", action=TEMPLATES["action.accept"],
            state=TEMPLATES["state.assigned"], hours=hours))])
        # the next phase of that deadline is armed, the others wait
        self.assertEqual(self.r.zscore(P + "timers", "case|MS1001|accept|due|%d" % T0), T0 + OPT["accept_s"])
        self.assertEqual(self.r.zcard(P + "timers"), 3)
        hist = json.loads(self.r.lrange(P + "hist:MS1001", -1, -1)[0])
        self.assertEqual((hist["event"], hist["text"]), ("reminded", "accept half"))

    def test_gauges_and_overdue(self):
        self.open_case(T0)
        self.open_case(T0 + 10 * 86400, "幸福路14号的路灯也不亮", "open", place="幸福路14号")
        self.deputy("接单 MS1002", "cmd.accept", "MS1002", T0 + 10 * 86400 + 60, "accept")
        now = T0 + 10 * 86400 + 120
        # the first scrape of a namespace builds the gauge hash
        g = self.gauges(now, "gauges_rebuild")
        # MS1001 waits past its acceptance window; MS1002 is accepted in time
        self.assertEqual(g["states"], {"assigned": 1, "accepted": 1})
        self.assertEqual(g["overdue"], 1)
        # the same as admin.lua's list answer, which judges case by case
        f = {"now": now, "accept_s": OPT["accept_s"], "resolve_s": OPT["resolve_s"], "overdue": True}
        listed = json.loads(self.run_script("admin", ["list", json.dumps(f)]))
        self.assertEqual([c["id"] for c in listed["cases"]], ["MS1001"])
        # past the resolve window both are overdue
        g = self.gauges(T0 + 10 * 86400 + OPT["resolve_s"] + 1, "gauges")
        self.assertEqual(g["overdue"], 2)

    def test_gauges_rebuilt_once_after_upgrade(self):
        self.open_case(T0)
        self.open_case(T0 + 60, "幸福路14号的路灯也不亮", "open", place="幸福路14号")
        self.deputy("接单 MS1002", "cmd.accept", "MS1002", T0 + 120, "accept")
        # data of a version without the gauge hash and the deadline sets
        self.r.delete(P + "gauge:cases", P + "due:waiting", P + "due:working")
        now = T0 + 2 * 86400
        g = self.gauges(now, "gauges_rebuild")
        self.assertEqual((g["states"], g["overdue"]), ({"assigned": 1, "accepted": 1}, 1))
        self.assertTrue(self.r.hexists(P + "gauge:cases", "_built"))
        # built once: the next scrape reads the hash only
        g = self.gauges(now, "gauges")
        self.assertEqual((g["states"], g["overdue"]), ({"assigned": 1, "accepted": 1}, 1))

    def test_resident_erase_keeps_the_gauges(self):
        self.open_case(T0)
        self.gauges(T0, None)
        out = json.loads(self.run_script("admin", ["resident_erase", "sms", RESIDENT, T0 + 60]))
        self.assertEqual(out["closed"], 1)
        g = self.gauges(T0 + 86400 * 30, None)
        self.assertEqual((g["states"], g["overdue"]), ({"withdrawn": 1}, 0))

    def test_wechat_welcome_rendered_by_the_one_renderer(self):
        tpl = TEMPLATES["welcome_deputy"]
        args = ["event", "wechat:main:o1", "wechat:main:o1:1:scan", 60, "SCAN", "d1", T0, tpl,
                "deputy", "张三", "case", "", "station", "幸福路联络站"]
        status, text = self.run_script("wechat", args, "wechat_welcome")
        self.assertEqual((status, text), ("new", render("welcome_deputy", deputy="张三", station="幸福路联络站")))
        self.assertEqual(self.r.hget(P + "res:wechat:main:o1", "bound"), "d1")
        status, text = self.run_script("wechat", args)
        self.assertEqual(status, "duplicate")
        self.assertEqual(text, render("welcome_deputy", deputy="张三", station="幸福路联络站"))

    # -- 回头看, ratings by aspect and the duty digest (step/66_stations.lua,
    # step/68_revisit.lua), with the settings and directory fields they need

    def publish_station_practice(self):
        opt = dict(OPT, revisit_s=86400 * 30, aspects="态度,速度,结果")
        self.r.hset(CFG, mapping={
            "opt": "".join("%s=%s\n" % kv for kv in opt.items()),
            "s:s1": json.dumps({"name": "幸福路联络站", "liaison": "", "reception": [],
                                "duty": [["d1", 1 << 3, 0]]}),          # Wednesdays
            "stations": json.dumps(["s1"]),
            "default_station": "s1"})

    def test_aspects_revisit_and_digest(self):
        r = self.r
        self.publish_station_practice()
        case = self.open_case()[1]
        self.outbox()
        t = T0 + 600
        self.deputy("办结 %s 已修好" % case, "cmd.resolve", case, t, None, body="已修好", question=False)
        request = [o for o in self.outbox() if o[1] == RESIDENT][0][3]
        self.assertEqual(request, render("resolved_aspects", case=case, text="已修好",
                                         aspects="态度、速度、结果", example="545"))
        # "545" read as a status question with a case number: a rating all the same
        t += 60
        status = {"kind": "chat", "name": "status", "label": "chat.status", "slots": {"case": "545"},
                  "certain": True}
        action = self.resident("545", status, t, "rate_aspects", case="MS545", aspects=[5, 4, 5], rating=5)[0]
        self.assertEqual(action, "rated")
        c = r.hgetall(P + "case:" + case)
        self.assertEqual((c["state"], c["rating"], c["aspect:态度"], c["aspect:速度"], c["aspect:结果"]),
                         ("closed", "5", "5", "4", "5"))
        closed = t
        self.assertEqual(r.zscore(P + "timers", "revisit|" + case), closed + 86400 * 30)
        self.outbox()

        # 回头看: the question, then "2" reopens the case
        t = closed + 86400 * 30
        self.tick(t, "tick_revisit")
        self.assertEqual(self.outbox(), [("sms", RESIDENT, "push",
                                          render("revisit_ask", case=case, topic="路灯不亮", deputy="张三"))])
        self.assertEqual(r.hget(P + "res:sms:" + RESIDENT, "revisit_case"), case)
        t += 3600
        rating = {"kind": "chat", "name": "rating_rule", "label": "chat.rating", "slots": {"rating": "2"},
                  "certain": True}
        action = self.resident("2", rating, t, "revisit_answer", rating=2, revisit=2,
                               tr=tr_json("rate", "reopen"))[0]
        self.assertEqual(action, "revisit_reopened")
        c = r.hgetall(P + "case:" + case)
        self.assertEqual((c["state"], c["revisit"], c["revisits"], c["relapses"], c["clock"]),
                         ("assigned", "relapsed", "1", "1", str(t)))
        self.assertEqual(r.zscore(P + "dq:d1", case), t)
        vars_ = dict(case=case, topic="路灯不亮", deputy="张三", station="幸福路联络站", category="路灯", text="")
        self.assertEqual(sorted(self.outbox()), sorted([
            ("sms", RESIDENT, "reply", render("revisit_relapsed", **vars_)),
            ("sms", DEPUTY_PHONE, "notify", render("revisit_notice", **vars_)),
            ("sms", "13900000009", "notify", render("revisit_notice", **vars_)),
        ]))
        self.assertIsNone(r.hget(P + "res:sms:" + RESIDENT, "revisit_case"))
        # The aggregates count the aspects and the revisit (reopened: no
        # longer solved, closed, nor rated), and a rebuild agrees.
        total = self.agg_report()["total"]
        self.assertEqual({k: v for k, v in total.items() if k.startswith(("aspect.", "revisit."))},
                         {"aspect.态度.5": 1, "aspect.速度.4": 1, "aspect.结果.5": 1,
                          "revisit.asked": 1, "revisit.answered": 1, "revisit.relapsed": 1})
        self.agg_rebuild(batch=100)
        self.assertEqual(self.agg_report()["total"], total)

        # Two residents on a light elsewhere: a common issue of the station.
        self.open_case(t - 20, "光明街3号的路灯坏了", None, addr="13800000011", place="光明街3号")
        self.open_case(t - 10, "光明街3号路灯不亮", None, addr="13800000012", place="光明街3号")
        self.assertEqual(r.hget(P + "case:MS1003", "common"), "R1001")
        self.outbox()

        # The digest: armed once however often asked, sent once when due.
        day = {"day": "2026-02-04", "at": t + 60, "w": 3, "m": 4}
        for _ in range(2):
            self.step({"mode": "tick", "now": t * 1000, "tr": tr_json("rate", "escalate"), "digest": day},
                      "tick_arm_digest")
        self.assertEqual([m for m in r.zrange(P + "timers", 0, -1) if m.startswith("digest|")],
                         ["digest|2026-02-04|3|4"])
        self.tick(t + 60, "tick_digest")
        self.assertEqual(self.outbox(), [("sms", DEPUTY_PHONE, "notify", render(
            "digest", date="2月4日", station="幸福路联络站", new=2, new_items="：MS1002、MS1003",
            overdue=1, overdue_items="：" + case, common=1, common_items="：R1001（2人）"))])
        self.step({"mode": "tick", "now": (t + 61) * 1000, "tr": tr_json("rate", "escalate"), "digest": day},
                  None)
        self.tick(t + 62)
        self.assertEqual(self.outbox(), [])


    def test_reception_answers(self):
        """The next reception from a fixed day (step.c's "today"): today's
        while not ended, a day of the month, across a month and a year."""
        self.r.hset(CFG, mapping={"s:s1": json.dumps({
            "name": "幸福路联络站", "liaison": "", "duty": [], "reception": [
                {"w": 2, "m": 0, "from": "09:00", "to": "11:30", "place": "服务中心二楼"},
                {"w": -1, "m": 31, "from": "14:00", "to": "", "place": "幸福路88号"}]})})
        intent = {"kind": "chat", "name": "reception", "label": "chat.reception", "slots": {},
                  "certain": True}
        route = [{"rule": "area", "d": ["d1"], "duty": [], "station": "s1"}]
        cases = [((2026, 1, 27, 2, "10:00"), "1月27日", "周二", "09:00-11:30", "服务中心二楼"),
                 ((2026, 1, 27, 2, "11:30"), "1月31日", "周六", "14:00", "幸福路88号"),
                 ((2026, 2, 4, 3, "08:00"), "2月10日", "周二", "09:00-11:30", "服务中心二楼"),
                 ((2026, 12, 30, 3, "10:00"), "12月31日", "周四", "14:00", "幸福路88号"),
                 ((2026, 12, 31, 4, "15:00"), "1月5日", "周二", "09:00-11:30", "服务中心二楼")]
        for i, ((y, mo, d, w, hm), date, weekday, time_, place) in enumerate(cases):
            today = {"y": y, "mo": mo, "d": d, "w": w, "hm": hm}
            # a text of its own each time: the same text again soon is a duplicate
            action = self.resident("代表什么时候接待" + "？" * i, intent, T0 + i * 60, None, route=route,
                                   today=today, tr=[])[0]
            self.assertEqual(action, "reception")
            self.assertEqual(self.outbox(), [("sms", RESIDENT, "reply", render(
                "reception", station="幸福路联络站", date=date, weekday=weekday, time=time_, place=place))])
        # a station without receptions says so
        self.r.hset(CFG, "s:s1", json.dumps({"name": "幸福路联络站", "liaison": "", "duty": [],
                                             "reception": []}))
        self.resident("联络站在哪", intent, T0 + 600, None, route=route, today=today, tr=[])
        self.assertEqual(self.outbox(), [("sms", RESIDENT, "reply",
                                          render("reception_none", station="幸福路联络站"))])

    def test_no_revisit_for_an_erased_resident(self):
        self.publish_station_practice()
        case, t = self.whole_life(T0)
        self.outbox()
        self.r.delete(P + "res:sms:" + RESIDENT)       # as mashangctl residents erase does
        self.tick(t + 86400 * 30)
        self.assertEqual([o for o in self.outbox() if o[1] == RESIDENT], [])
        self.assertNotIn("revisit_asked", self.r.hgetall(P + "case:" + case))


    # -- the statistics' aggregates (lib/agg.lua): kept exact by the step
    # as cases move, read back by admin.lua's report, recounted by its
    # rebuild to the same numbers, also while cases move during the rebuild

    def agg_report(self, station=""):
        doc = json.loads(self.run_script("admin", ["report", "20260101", "20261231", station]))
        self.assertLessEqual(doc["buckets"], 12)
        return doc

    def agg_rebuild(self, batch=1, between=None):
        steps = 0
        while True:
            doc = json.loads(self.run_script("admin", ["agg_rebuild", T0 + 90 * 86400, batch]))
            steps += 1
            if doc["done"]:
                return doc, steps
            if between:
                between(steps)
                between = None

    def rate_case(self, addr, case, r, now, reopen):
        intent = {"kind": "chat", "name": "rating", "label": "chat.rating",
                  "slots": {"rating": str(r)}, "certain": True}
        self.resident(str(r), intent, now, None, addr, rating=r, case=case, tr=tr_json("rate", "reopen"))
        self.assertEqual(self.r.hget(P + "case:" + case, "state"), "assigned" if reopen else "closed")

    def test_counts_follow_the_cases_and_rebuild_agrees(self):
        self.r.hset(CFG, "d:d2", json.dumps({"name": "李四", "channel": "sms", "addr": "13900000002",
                                            "station": "s2", "station_name": "光明村联络站"}))
        a, b, c = "13800000001", "13800000002", "13800000003"
        day2 = T0 + 86400 + 3600
        ca = self.whole_life(T0, addr=a)[0]                     # 5, closed
        cb = self.open_case(T0 + 60, addr=b, budget=None)[1]    # rated 1, reopened, rated 4
        self.deputy("办结 %s 好了" % cb, "cmd.resolve", cb, T0 + 120, None, body="好了", question=False)
        self.rate_case(b, cb, 1, T0 + 180, True)
        self.deputy("办结 %s 真好了" % cb, "cmd.resolve", cb, T0 + 240, None, body="真好了", question=False)
        self.rate_case(b, cb, 4, T0 + 300, False)
        cc = self.open_case(day2, addr=c, budget=None)[1]       # transferred to d2, then relabelled
        self.step({"mode": "assign", "now": (day2 + 60) * 1000, "case": cc, "target": "d2",
                   "actor": "admin", "note": "", "tr": tr_json("transfer")}, None)
        self.run_script("admin", ["label", cc, "other", day2 + 120])
        doc = self.agg_report()
        t = doc["total"]
        done = {"received": 2, "solved": 2, "closed": 2, "accepted": 2, "rating.5": 1, "rating.4": 1}
        self.assertEqual(t, dict(done, received=3))
        self.assertEqual(doc["rows"]["deputy"], {"d1": done, "d2": {"received": 1}})
        self.assertEqual(doc["rows"]["station"], {"s1": done, "s2": {"received": 1}})
        self.assertEqual(doc["rows"]["category"], {"infra.streetlight": done, "other": {"received": 1}})
        s2 = self.agg_report("s2")
        self.assertEqual((s2["total"], s2["rows"]["category"]), ({"received": 1}, {"other": {"received": 1}}))
        # by day: the first two cases on 1 January (China time), the third on the 2nd
        one = json.loads(self.run_script("admin", ["report", "20260102", "20260102", ""]))
        self.assertEqual(one["total"], {"received": 1})
        self.assertEqual(json.loads(self.run_script("admin", ["report", "20251201", "20251231", ""]))["total"], {})
        # the rebuild recounts the same, twice over
        live = self.agg_report()
        done, steps = self.agg_rebuild()
        self.assertEqual(done["walked"], 3)
        self.assertGreaterEqual(steps, 3)
        self.assertEqual(self.agg_report(), live)
        self.assertEqual(self.agg_rebuild(batch=100)[0]["walked"], 3)
        self.assertEqual(self.agg_report(), live)
        # counts lost or garbled are repaired
        self.r.delete(P + "agg:m:202601")
        self.r.hset(P + "agg:d:20260105", "d|x|y|closed", 7)
        self.agg_rebuild(batch=2)
        self.assertEqual(self.agg_report(), live)
        self.assertFalse(self.r.exists(P + "agg:d:20260105"))
        # a case that moves while the rebuild runs, one already counted
        # and one not yet: counted exactly once, in its new state
        cd = self.open_case(day2 + 600, addr="13800000004", budget=None)[1]
        def move(_):
            self.deputy("接单 " + ca, "cmd.accept", ca, day2 + 700, None)   # closed: refused
            self.deputy("接单 " + cc, "cmd.accept", cc, day2 + 700, None, deputy="d2")
            self.deputy("接单 " + cd, "cmd.accept", cd, day2 + 700, None)
        self.agg_rebuild(batch=1, between=move)
        after = self.agg_report()
        self.assertEqual(after["total"], {"received": 4, "solved": 2, "closed": 2, "accepted": 4,
                                          "rating.5": 1, "rating.4": 1})
        self.agg_rebuild(batch=100)
        self.assertEqual(self.agg_report(), after)
        # /admin/stats takes its counts from the aggregates for whole China
        # days (open ends: the first and last case's), not for other windows
        # nor before the aggregates are known complete
        stats = lambda lo, hi: json.loads(self.run_script("admin", ["stats", lo, hi, "deputy"]))
        self.assertEqual(stats("", "")["counts"], after["rows"]["deputy"])
        day1 = 1767196800      # 2026-01-01 00:00 China time
        self.assertEqual(stats(day1, day1 + 86400 - 1)["counts"],
                         {"d1": {"received": 2, "solved": 2, "closed": 2, "accepted": 2,
                                 "rating.5": 1, "rating.4": 1}})
        self.assertNotIn("counts", stats(day1 + 1, ""))
        self.assertNotIn("counts", stats("", day1 + 86400))
        self.r.delete(P + "agg:built")
        self.assertNotIn("counts", stats("", ""))
        self.agg_rebuild(batch=100)
        self.assertEqual(stats("", "")["counts"], after["rows"]["deputy"])


    # -- common issues and 小组商 (65_common.lua, 80_deputies.lua) --------

    def test_common_issue(self):
        r = self.r
        a, b, c, d, e = ("1380000000%d" % i for i in range(1, 6))
        self.open_case(T0, addr=a)
        self.outbox()
        # a second resident, the same light in other words: a common issue
        action, case, n, _ = self.open_case(T0 + 60, "幸福路12号路灯不亮", "open_join", addr=b)
        self.assertEqual((action, case, n), ("case_opened", "MS1002", 2))
        self.assertEqual(r.hget(P + "case:MS1002", "common"), "R1001")
        self.assertEqual(r.hget(P + "case:MS1001", "common"), "R1001")
        self.assertEqual(r.hget(P + "case:MS1002", "routed_by"), "common")
        vars_ = dict(common="R1001", place="幸福路12号", topic="路灯不亮", count=2, case="MS1002",
                     text="幸福路12号路灯不亮", deputy="张三", category="路灯", station="幸福路联络站",
                     resident=b[:3] + "****" + b[-4:])
        self.assertEqual(self.outbox(), [
            ("sms", DEPUTY_PHONE, "notify", render("deputy_common", **vars_)),
            ("sms", b, "reply", render("ack_common", **vars_)),
        ])
        # its own reminders are the first case's: nothing armed for it
        self.assertEqual([t for t in r.zrange(P + "timers", 0, -1) if "MS1002" in t], [])
        self.open_case(T0 + 120, addr=c, budget=None)
        out = self.outbox()
        self.assertIn("已有3位居民反映", out[0][3])
        self.assertEqual(r.zscore(P + "commons", "R1001"), 3)
        # the year's key problems: common issues of at least KEY_MIN residents
        report = lambda key_min, station="": json.loads(self.run_script(
            "admin", ["report", "20260101", "20261231", station, key_min]))
        self.assertEqual(report(3)["commons"], [{
            "id": "R1001", "station": "s1", "category": "infra.streetlight", "title": "路灯不亮",
            "place": "幸福路12号", "count": 3, "solved": False}])
        self.assertEqual(report(3)["commons_total"], 1)
        self.assertNotIn("commons", report(4))
        self.assertNotIn("commons", report(3, "s2"))
        # another place, or other words at the same place: cases of their own
        self.open_case(T0 + 180, "光明街3号的路灯坏了", None, addr=d, place="光明街3号")
        self.open_case(T0 + 240, "幸福路12号井盖丢了", None, addr=e, sig=SIG_OTHER)
        self.assertEqual(r.hmget(P + "case:MS1004", "common")[0], None)
        self.assertEqual(r.hmget(P + "case:MS1005", "common")[0], None)
        self.assertEqual(r.hget(P + "common:R1001", "cases"), "MS1001 MS1002 MS1003")
        self.outbox()
        # split out by hand (the step's mode "common"), on its own deadlines
        action, rid, _, _ = self.step({"mode": "common", "op": "split", "case": "MS1003", "target": "",
                                       "actor": "admin", "now": (T0 + 250) * 1000,
                                       "tr": tr_json("transfer")}, None)
        self.assertEqual((action, rid), ("split", "R1001"))
        self.assertEqual(r.hget(P + "common:R1001", "cases"), "MS1001 MS1002")
        self.assertIsNone(r.hget(P + "case:MS1003", "common"))
        self.assertEqual(len([t for t in r.zrange(P + "timers", 0, -1) if "MS1003" in t]), 3)
        self.assertEqual(r.zscore(P + "commons", "R1001"), 2)
        # and joined again by its deputy, the R as the resident wrote it
        action, case, _, _ = self.deputy("合并 MS1003 R1001", "cmd.join", "MS1003", T0 + 260, None)
        self.assertEqual((action, case), ("joined", "MS1003"))
        self.assertEqual(r.hget(P + "common:R1001", "cases"), "MS1001 MS1002 MS1003")
        self.assertIn(("sms", DEPUTY_PHONE, "reply", render("deputy_joined", case="MS1003", common="R1001",
                                                            count=3)), self.outbox())
        # 待办 lists the issue once
        action, _, _, _ = self.deputy("待办", "cmd.list", None, T0 + 300, None)
        self.assertIn(render("deputy_common_item", common="R1001", topic="路灯不亮", count=3),
                      self.outbox()[0][3])
        # 办结 R1001: every resident told and asked to rate, the deputy answered once
        action, case, n, _ = self.deputy("办结 R1001 已修好", "cmd.resolve", "R1001", T0 + 3600, None,
                                         body="已修好", question=False)
        self.assertEqual((action, case, n), ("common_resolve", "R1001", 4))
        out = self.outbox()
        self.assertEqual(sorted(o[1] for o in out if o[2] == "push"), [a, b, c])
        for o in out:
            if o[2] == "push":
                self.assertIn("请回复1-5评价", o[3])
        self.assertEqual(out[-1], ("sms", DEPUTY_PHONE, "reply", render(
            "deputy_common_done", common="R1001", action=TEMPLATES["action.resolve"], count=3)))
        for addr, cid in ((a, "MS1001"), (b, "MS1002"), (c, "MS1003")):
            self.assertEqual(r.hget(P + "res:sms:" + addr, "rating_case"), cid)
            self.assertEqual(r.hget(P + "case:" + cid, "state"), "resolved")
        self.assertEqual(r.hget(P + "case:MS1004", "state"), "assigned")
        self.assertIsNone(r.zscore(P + "commons", "R1001"))
        # one case left is no common issue
        for cid, expected in (("MS1002", "split"), ("MS1001", "dissolved")):
            action, _, _, _ = self.deputy("拆分 " + cid, "cmd.split", cid, T0 + 4000, None)
            self.assertEqual(action, expected)
        self.assertFalse(r.exists(P + "common:R1001"))
        self.assertIsNone(r.hget(P + "case:MS1003", "common"))

    def test_common_issue_moves_and_progress(self):
        r = self.r
        a, b = "13800000001", "13800000002"
        d2_phone = "13900000002"
        r.hset(CFG, "d:d2", json.dumps({"name": "李四", "channel": "sms", "addr": d2_phone,
                                        "station": "s1", "station_name": "幸福路联络站"}))
        self.open_case(T0, addr=a)
        self.open_case(T0 + 60, "幸福路12号路灯不亮", None, addr=b)
        self.outbox()
        # 进展 R…: each resident, one answer
        action, _, _, _ = self.deputy("进展 R1001 已报修", "cmd.progress", "R1001", T0 + 100, None,
                                      body="已报修", question=False)
        self.assertEqual(action, "common_progress")
        out = self.outbox()
        self.assertEqual(sorted(o[1] for o in out if o[2] == "push"), [a, b])
        self.assertEqual([o[:3] for o in out if o[2] != "push"], [("sms", DEPUTY_PHONE, "reply")])
        # 转 R… naming nobody: asked whom to, nothing moved
        action, _, _, _ = self.deputy("转 R1001", "cmd.transfer", "R1001", T0 + 150, None)
        self.assertEqual(action, "unknown_deputy")
        self.assertEqual(self.outbox(), [("sms", DEPUTY_PHONE, "reply", render(
            "deputy_need_target", case="R1001", topic="路灯不亮"))])
        self.assertEqual(r.hget(P + "case:MS1001", "deputy"), "d1")
        # 转 R…: every case to the new deputy, who is told once
        action, _, _, _ = self.deputy("转 R1001 d2", "cmd.transfer", "R1001", T0 + 200, None,
                                      target="d2")
        self.assertEqual(action, "common_transfer")
        for cid in ("MS1001", "MS1002"):
            self.assertEqual(r.hget(P + "case:" + cid, "deputy"), "d2")
        self.assertEqual(r.hget(P + "common:R1001", "deputy"), "d2")
        out = self.outbox()
        self.assertEqual([o[3] for o in out if o[1] == d2_phone], [render(
            "deputy_common_in", common="R1001", **{"from": "张三"}, place="幸福路12号", topic="路灯不亮",
            count=2)])
        self.assertEqual(sorted(o[1] for o in out if o[2] == "push"), [a, b])
        # the old deputy can no longer act on it
        action, _, _, _ = self.deputy("办结 R1001", "cmd.resolve", "R1001", T0 + 300, None, body="")
        self.assertEqual(action, "foreign_case")

    def test_common_issue_erased_resident(self):
        r = self.r
        a, b = "13800000001", "13800000002"
        self.open_case(T0, addr=a)
        self.open_case(T0 + 60, "幸福路12号路灯不亮", None, addr=b)
        self.assertEqual(r.hget(P + "common:R1001", "text"), "幸福路12号的路灯坏了三天了")
        place = P + "cplace:s1|infra.streetlight|幸福路12号"
        self.assertEqual(sorted(m.split(":")[0] for m in r.zrange(place, 0, -1)), ["MS1001", "MS1002"])
        self.run_script("admin", ["resident_erase", "sms", a, T0 + 120])
        self.assertEqual(r.hget(P + "common:R1001", "text"), "[已删除]")
        # the erased resident's signature is gone, the other's stays
        self.assertEqual([m.split(":")[0] for m in r.zrange(place, 0, -1)], ["MS1002"])
        # no case hash keeps a signature (it would unpack the compact hash)
        self.assertEqual(r.object("encoding", P + "case:MS1002"), "listpack")

    def test_common_issue_needs_the_same_category_and_station_still(self):
        """A case relabelled or transferred since it was listed at its place
        is not joined by a later concern of the place's old category."""
        r = self.r
        self.open_case(T0, addr="13800000001")
        self.run_script("admin", ["label", "MS1001", "other", T0 + 30])
        self.open_case(T0 + 60, "幸福路12号路灯不亮", None, addr="13800000002")
        self.assertIsNone(r.hget(P + "case:MS1002", "common"))
        r.hset(CFG, "d:d2", json.dumps({"name": "李四", "channel": "sms", "addr": "13900000002",
                                        "station": "s2", "station_name": "光明村联络站"}))
        self.step({"mode": "assign", "now": (T0 + 90) * 1000, "case": "MS1002", "target": "d2",
                   "actor": "admin", "note": "", "tr": tr_json("transfer")}, None)
        self.open_case(T0 + 120, "幸福路12号的路灯又坏了", None, addr="13800000003")
        self.assertIsNone(r.hget(P + "case:MS1003", "common"))

    def test_group_deliberation(self):
        r = self.r
        d2_phone = "13900000002"
        r.hset(CFG, mapping={
            "d:d2": json.dumps({"name": "李四", "channel": "sms", "addr": d2_phone, "station": "s1",
                                "station_name": "幸福路联络站"}),
            "s:s1": json.dumps({"name": "幸福路联络站", "liaison": "d2", "group": ["d1", "d2"]})})
        self.open_case(T0)
        self.outbox()
        action, case, _, _ = self.deputy("小组商 MS1001 涉及供电所", "cmd.deliberate", "MS1001", T0 + 60,
                                         None, body="涉及供电所", question=False)
        self.assertEqual((action, case), ("deliberation", "MS1001"))
        out = self.outbox()
        self.assertEqual([o[:3] for o in out], [("sms", d2_phone, "notify"), ("sms", DEPUTY_PHONE, "reply")])
        self.assertIn("理由：涉及供电所", out[0][3])

        def d2(text, label, body):
            return self.deputy(text, label, "MS1001", T0 + 120, None, body=body, question=False,
                               deputy="d2", msg={"channel": "sms", "addr": d2_phone, "text": text,
                                                 "masked": "139****0002", "passive": False})
        action, _, _, _ = d2("意见 MS1001 先联系供电所", "cmd.opinion", "先联系供电所")
        self.assertEqual(action, "opinion")
        out = self.outbox()
        self.assertEqual(out[0], ("sms", DEPUTY_PHONE, "notify", render(
            "group_opinion", case="MS1001", deputy="李四", text="先联系供电所")))
        # only the liaison records the outcome
        action, _, _, _ = self.deputy("议定 MS1001 周五前修复", "cmd.decide", "MS1001", T0 + 180, None,
                                      body="周五前修复", question=False)
        self.assertEqual(action, "not_liaison")
        self.outbox()
        action, _, _, _ = d2("议定 MS1001 周五前修复", "cmd.decide", "周五前修复")
        self.assertEqual(action, "decided")
        out = self.outbox()
        self.assertIn(("sms", RESIDENT, "push", render("decided", case="MS1001", text="周五前修复")), out)
        self.assertEqual(r.hget(P + "case:MS1001", "state"), "in_progress")
        events = [json.loads(h)["event"] for h in r.lrange(P + "hist:MS1001", 0, -1)]
        self.assertEqual(events[-3:], ["deliberation", "opinion", "decided"])


class TemplateNames(unittest.TestCase):
    """Every template a script words a reply with is one config.c knows
    (its only list, checked by --check), and every state has its words."""

    def test_rendered_templates_exist(self):
        with open(LIBRARY, encoding="utf-8") as f:
            src = f.read()
        # literal names only: "'ask_' .. slot" and the like are built at run time
        names = set(re.findall(r"\b(?:render|word)\('([\w.]+)'\s*[,)]", src))
        self.assertGreater(len(names), 40)
        self.assertEqual(sorted(n for n in names if n not in TEMPLATES), [])

    def test_every_state_has_words(self):
        with open(os.path.join(REPO, "src", "core", "schema.def"), encoding="utf-8") as f:
            states = [w[1] for w in (line.split("#", 1)[0].split() for line in f) if w and w[0] == "state"]
        self.assertEqual([s for s in states if "state." + s not in TEMPLATES], [])


def main():
    if not os.path.isdir(LUA_DIR):
        sys.exit("lua-test: %s missing: run make first" % LUA_DIR)
    argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a.startswith("-")]
    pattern = [a for a in sys.argv[1:] if not a.startswith("-")]
    if pattern:
        argv += ["-k", pattern[0]]
    unittest.main(module=__name__, argv=argv, verbosity=2 if "-v" in argv else 1)


if __name__ == "__main__":
    main()
