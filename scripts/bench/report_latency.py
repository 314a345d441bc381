#!/usr/bin/python3
"""How long the annual report and the aggregates' rebuild take Redis
(make bench-report; docs/performance.md, "Annual report").

    /usr/bin/python3 scripts/bench/report_latency.py [-n CASES] [-r REBUILD_CASES]

Starts a scratch redis-server with the function library of $BUILD/gen/lua/
(the helpers of tests/lua/run.py), then:

  report   writes the aggregates (src/store/lua/lib/agg.lua) of CASES
           synthetic cases opened over 2026 (default one million) in a big
           county: 40 stations of 8 deputies, 20 categories, every state
           and rating, as the step would have left them; then times
           admin.lua's "report" operation (the daemon's one Redis call for
           GET /admin/report) for a year, a year of one station, a range
           with partial months at both ends, and one day.
  rebuild  writes REBUILD_CASES case hashes (default 100 000) and times
           each step of admin.lua's "agg_rebuild" (200 cases a call, the
           daemon's default): the longest step is how long Redis is
           held at once.

Times are wall-clock around the FCALL, median of 20 calls; other
processes share the cores, so they move between runs.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "lua"))
import run as luatest  # noqa: E402  (tests/lua/run.py: scratch Redis, the scripts)

P = luatest.P
T0 = 1767196800          # 2026-01-01 00:00 China time
STATES = [("closed", 55), ("resolved", 10), ("in_progress", 10), ("accepted", 8),
          ("assigned", 12), ("withdrawn", 5)]
RATINGS = [(5, 60), (4, 25), (3, 8), (2, 4), (1, 3)]
BATCH = 200              # src/admin/admin_annual.c, REBUILD_BATCH_DEFAULT


def pick(weighted, rnd):
    x = rnd.uniform(0, sum(w for _, w in weighted))
    for v, w in weighted:
        x -= w
        if x <= 0:
            return v
    return weighted[-1][0]


def synthetic_case(rnd, i, deputies, categories):
    dep, st = deputies[rnd.randrange(len(deputies))]
    state = pick(STATES, rnd)
    created = T0 + rnd.randrange(365 * 86400)
    c = {"id": "M%d" % (1001 + i), "state": state, "deputy": dep, "station": st,
         "category": categories[rnd.randrange(len(categories))], "created": created}
    if state not in ("assigned", "withdrawn"):
        c["accepted_at"] = created + 3600
    if state == "closed" and rnd.random() < 0.7:
        c["rating"] = pick(RATINGS, rnd)
    return c


def facts(c):
    """lib/agg.lua's agg_facts."""
    f = ["received"] + {"resolved": ["solved"], "closed": ["solved", "closed"],
                        "withdrawn": ["withdrawn"]}.get(c["state"], [])
    if "accepted_at" in c:
        f.append("accepted")
    if "rating" in c:
        f.append("rating.%d" % c["rating"])
    return f


def fields(m, c):
    """lib/agg.lua's agg_fields."""
    return ("d|%s|%s|%s" % (c["deputy"], c["station"], m), "c|%s|%s|%s" % (c["station"], c["category"], m))


def buckets(ts):
    t = time.gmtime(ts + 8 * 3600)
    return "d:%04d%02d%02d" % (t.tm_year, t.tm_mon, t.tm_mday), "m:%04d%02d" % (t.tm_year, t.tm_mon)


def timed(r, fn, args, n=20):
    out, ms = None, []
    for _ in range(n):
        t = time.perf_counter()
        out = luatest.fcall(r, fn, *args)
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000000, help="cases whose aggregates are written")
    ap.add_argument("-r", type=int, default=100000, help="cases the rebuild walks")
    a = ap.parse_args()
    rnd = random.Random(14)
    stations = ["S%02d" % i for i in range(1, 41)]
    deputies = [("D%04d" % (i * 10 + j), s) for i, s in enumerate(stations) for j in range(8)]
    categories = ["cat%02d" % i for i in range(20)]
    srv = luatest.Redis()
    try:
        r = srv.r
        fn = srv.fn("admin")
        # -- report over the aggregates of n cases
        agg = {}
        for i in range(a.n):
            c = synthetic_case(rnd, i, deputies, categories)
            for b in buckets(c["created"]):
                h = agg.setdefault(b, {})
                for m in facts(c):
                    for f in fields(m, c):
                        h[f] = h.get(f, 0) + 1
        pipe = r.pipeline(transaction=False)
        for b, h in agg.items():
            pipe.hset(P + "agg:" + b, mapping=h)
        pipe.execute()
        days = [len(h) for b, h in agg.items() if b.startswith("d:")]
        months = [len(h) for b, h in agg.items() if b.startswith("m:")]
        mem = r.info("memory")["used_memory"]
        print("aggregates of %d cases: %d day hashes (median %d fields), %d month hashes "
              "(median %d fields), Redis used_memory %.1f MB" %
              (a.n, len(days), statistics.median(days), len(months), statistics.median(months),
               mem / 1e6))
        for what, args in (("year 2026", ["20260101", "20261231", ""]),
                           ("year 2026, one station", ["20260101", "20261231", "S07"]),
                           ("2026-01-15 .. 2026-12-14", ["20260115", "20261214", ""]),
                           ("one day", ["20260601", "20260601", ""])):
            ms, out = timed(r, fn, ["report"] + args)
            doc = json.loads(out)
            received = doc["total"].get("received", 0)
            print("  report %-26s %7.1f ms  (%d buckets, %d cases)" % (what, ms, doc["buckets"], received))
        r.flushall()
        # -- rebuild from r cases
        pipe = r.pipeline(transaction=False)
        for i in range(a.r):
            c = synthetic_case(rnd, i, deputies, categories)
            pipe.hset(P + "case:" + c["id"], mapping=c)
            pipe.zadd(P + "cases", {c["id"]: c["created"]})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        steps, t0 = [], time.perf_counter()
        while True:
            t = time.perf_counter()
            doc = json.loads(luatest.fcall(r, fn, "agg_rebuild", T0 + 400 * 86400, BATCH))
            steps.append((time.perf_counter() - t) * 1000)
            if doc["done"]:
                break
        total = time.perf_counter() - t0
        print("rebuild of %d cases: %d calls of %d, %.1f s in all; a call: median %.1f ms, "
              "longest %.1f ms (the last, swapping the buckets in: %.1f ms)" %
              (doc["walked"], len(steps), BATCH, total, statistics.median(steps), max(steps), steps[-1]))
    finally:
        srv.close()


if __name__ == "__main__":
    main()
