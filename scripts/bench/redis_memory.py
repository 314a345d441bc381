#!/usr/bin/python3
"""Redis memory per case, over a case's whole life.

    /usr/bin/python3 scripts/bench/redis_memory.py [N]      (make bench-memory)

Starts a scratch redis-server and loads the joined scripts of
$BUILD/gen/lua/ with the helpers of tests/lua/run.py (the same server,
directory and envelopes the script tests use), then drives N cases, each
of its own resident, through their whole life: opened, accepted,
resolved, rated, and every timer they armed fired by ticks as the clock
passes all their windows.  Every outbound message they cause is claimed,
sent and (SMS) delivery-reported as the daemon does.  Prints INFO memory's
used_memory and the number of keys per case, split into the keys that
stay and the keys on an expiry (dedupe, loop guard, sent messages: they
go by themselves), and the figures a day later and once all of those
have gone.

Python 3 standard library plus python3-redis only.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "lua"))
import run as luatest   # noqa: E402  tests/lua/run.py

DAY = 86400


def tick_all(t, now):
    """Ticks until no timer is due at `now`."""
    while True:
        t.tick(now)
        t.deliver(now)
        if t.r.zcount(luatest.P + "timers", "-inf", now) == 0:
            return


def measure(r):
    used = r.info("memory")["used_memory"]
    keys = r.dbsize()
    expiring = sum(1 for k in r.scan_iter(count=1000) if r.ttl(k) >= 0)
    return used, keys, expiring


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if not os.path.isdir(luatest.LUA_DIR):
        sys.exit("bench-memory: %s missing: run make first" % luatest.LUA_DIR)
    luatest.setUpModule()
    try:
        t = luatest.ScriptTest()
        t.r = luatest.SERVER.r
        t.r.flushall()
        t.publish()
        # seq:case, gauges: not per case.  Its own place: an open case where
        # the lives below happen would make them one common issue.
        t.open_case(luatest.T0, "预热", None, "13700000000", place="预热路1号")
        t.deliver(luatest.T0)
        base_used, base_keys, _ = measure(t.r)
        now = luatest.T0 + 60
        for i in range(n):
            now = t.whole_life(now, "138%08d" % (10000000 + i), "幸福路%d号的路灯坏了三天了" % i)[1] + 60
        live = measure(t.r)
        # Past every window: rating, follow-up, deadlines, delivery reports.
        now += 60 * DAY
        tick_all(t, now)
        settled = measure(t.r)
        exp = {}
        for k in t.r.scan_iter(count=1000):
            ttl = t.r.ttl(k)
            if ttl >= 0:
                kind = k[len(luatest.P):].split(":")[0]
                exp[kind] = max(exp.get(kind, 0), ttl)
        # What stays a day later (Redis expires by its own clock, not the
        # scripts': the keys that would have expired are deleted), and
        # once every key on an expiry has gone.
        def expire(within):
            for k in list(t.r.scan_iter(count=1000)):
                ttl = t.r.ttl(k)
                if 0 <= ttl <= within:
                    t.r.delete(k)
            t.r.memory_purge()
            # serverCron shrinks the emptied key tables (10 times a second).
            time.sleep(1.5)
            return measure(t.r)
        day = expire(DAY)
        gone = expire(float("inf"))

        def row(name, m):
            used, keys, expiring = m
            print("%-34s %8.0f B/case  %6.2f keys/case  (%.2f on an expiry)" % (
                name, (used - base_used) / n, (keys - base_keys) / n, expiring / n))
        print("redis memory per case, %d cases (redis %s)" % (n, t.r.info("server")["redis_version"]))
        row("after the last message", live)
        row("past every window", settled)
        row("a day later", day)
        row("once expiring keys expired", gone)
        left = {}
        for k in t.r.scan_iter(count=1000):
            kind = k[len(luatest.P):].split(":")[0]
            left[kind] = left.get(kind, 0) + 1
        print("keys on an expiry, longest TTL left: " + " ".join("%s=%ds" % kv for kv in sorted(exp.items())))
        print("keys left by kind: " + " ".join("%s=%d" % kv for kv in sorted(left.items())))
    finally:
        luatest.tearDownModule()


if __name__ == "__main__":
    main()
