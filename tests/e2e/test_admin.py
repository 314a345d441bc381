"""The administrators' surface (spec §1, §3, §11) against the real mashangd
with real Redis and Kannel: bearer auth, case list/detail/assign, deputies'
queues, statistics (JSON and CSV) checked against figures the test computes
from what it did, /metrics gauges, the outbox dead-letter list, reload,
intent testing, and mashangctl's admin commands.

Roster facts (config/deputies.json): 王丽 D0412 +8613900000001 at S01 (幸福路);
S02 (光明村) has D0007 and D0008; the test reads which deputy a case went to
from the API rather than guessing the duty roster."""

import csv
import io
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import MASHANGCTL, REPO, StackCase, wait_until

NS = "{mashang}:"
MT_TIMEOUT = 15
R1, R2, R3, R4 = ("+8613800138001", "+8613800138002", "+8613800138003", "+8613800138004")
LAMP = "幸福路12号的路灯坏了三天了"
LAMP2 = "幸福路8号的路灯不亮了"
WATER = "光明村的自来水停了两天了"
WATER2 = "光明街的自来水管漏水了"
CTL = MASHANGCTL

with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
    ROSTER = json.load(f)
PHONE = {d["id"]: d["phone"] for d in ROSTER["deputies"]}
STATION = {d["id"]: d["station"] for d in ROSTER["deputies"]}


def median(v):
    v = sorted(v)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class AdminCase(StackCase):

    def setUp(self):
        super().setUp()
        self.d = self.stack.daemon
        self.r = self.stack.redis.client

    # -- helpers ----------------------------------------------------------
    def raw(self, path, method="GET", token="default", headers=None, body=None):
        """(status, headers, body text) without the harness's JSON parsing."""
        h = dict(headers or {})
        if token == "default":
            token = self.d.admin_token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.d.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers, resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8")

    def get(self, path):
        status, doc = self.d.admin(path)
        self.assertEqual(status, 200, "%s -> %s %r" % (path, status, doc))
        return doc

    def case(self, cid):
        return self.get("/admin/cases/" + cid)

    def wait_state(self, cid, state, timeout=MT_TIMEOUT):
        try:
            wait_until(lambda: self.d.admin("/admin/cases/" + cid)[1].get("state") == state
                       if self.d.admin("/admin/cases/" + cid)[0] == 200 else False,
                       timeout, "%s state %s" % (cid, state))
        except TimeoutError:
            self.fail("%s never reached %s: %r" % (cid, state, self.d.admin("/admin/cases/" + cid)))

    def open_case(self, phone, text):
        """Sends a concern and returns the new case id (from the ack SMS)."""
        before = self.stack.mt_count(phone)
        self.stack.send_mo(phone, text)
        ack = self.stack.kannel.wait_mt(phone, "编号", timeout=MT_TIMEOUT, after=before)
        cid = ack.split("编号", 1)[1][:5]
        self.assertRegex(cid, r"^M\d{4}$", ack)
        return cid

    def deputy_does(self, cid, command, state):
        dep = self.case(cid)["deputy"]
        self.stack.send_mo(PHONE[dep], command % cid)
        self.wait_state(cid, state)

    def rate(self, phone, cid, value, state):
        self.stack.kannel.wait_mt(phone, cid, timeout=MT_TIMEOUT)
        self.stack.send_mo(phone, str(value))
        self.wait_state(cid, state)

    def ctl(self, *args):
        env = dict(os.environ, MASHANG_URL=self.d.url, MASHANG_ADMIN_TOKEN=self.d.admin_token)
        return subprocess.run([CTL] + list(args), capture_output=True, text=True, env=env, timeout=30)


class TestAdminAuth(AdminCase):

    def test_token_required_everywhere(self):
        for method, path in (("GET", "/admin/cases"), ("GET", "/admin/stats"),
                             ("GET", "/admin/deputies"), ("POST", "/admin/reload"),
                             ("GET", "/admin/cases/M1001"), ("POST", "/admin/outbox/retry")):
            for token in (None, "wrong-token", self.d.admin_token + "x", ""):
                status, headers, body = self.raw(path, method, token=token, body="{}" if method == "POST" else None)
                self.assertEqual(status, 401, "%s %s token=%r" % (method, path, token))
                self.assertEqual(json.loads(body)["error"], "unauthorized")
        # the token never reaches the log
        self.assertNotIn(self.d.admin_token, self.d.log)
        self.assertEqual(self.raw("/admin/cases")[0], 200)

    def test_bad_input_and_methods(self):
        self.assertEqual(self.raw("/admin/nothing")[0], 404)
        self.assertEqual(self.raw("/admin/cases", "POST", body="{}")[0], 405)
        self.assertEqual(self.raw("/admin/stats", "POST", body="{}")[0], 405)
        self.assertEqual(self.raw("/admin/reload")[0], 405)
        for q in ("state=bogus", "limit=0", "limit=1001", "limit=x", "from=abc", "from=10&to=5",
                  "overdue=maybe", "colour=red"):
            status, _, body = self.raw("/admin/cases?" + q)
            self.assertEqual(status, 400, q)
            self.assertIn("error", json.loads(body))
        for q in ("by=weather", "from=-1", "to=soon"):
            self.assertEqual(self.raw("/admin/stats?" + q)[0], 400, q)
        self.assertEqual(self.raw("/admin/cases/M9999")[0], 404)
        self.assertEqual(self.raw("/admin/cases/not-an-id")[0], 404)
        for body in ("not json", "[]", "{}", '{"deputy": 7}'):
            self.assertEqual(self.raw("/admin/cases/M1001/assign", "POST", body=body)[0], 400, body)
        self.assertEqual(self.raw("/admin/intents/test", "POST", body='{"as":"deputy"}')[0], 400)
        self.assertEqual(self.raw("/admin/intents/test", "POST", body='{"text":"x","as":"mayor"}')[0], 400)


class TestAdminScenario(AdminCase):

    def test_stats_match_what_happened(self):
        # Four residents, two stations; record what we do to each case.
        c1 = self.open_case(R1, LAMP)
        c2 = self.open_case(R2, LAMP2)
        c3 = self.open_case(R3, WATER)
        c4 = self.open_case(R4, WATER2)
        self.assertEqual(self.case(c1)["deputy"], "D0412")
        # c1: accepted, progress, resolved, rated 5 -> closed
        self.deputy_does(c1, "接单 %s", "accepted")
        self.deputy_does(c1, "进展 %s 已联系路灯所", "in_progress")
        self.deputy_does(c1, "办结 %s 已更换灯泡", "resolved")
        self.rate(R1, c1, 5, "closed")
        # c2: accepted only
        self.deputy_does(c2, "接单 %s", "accepted")
        # c3: accepted, resolved, rated 2 -> reopened (assigned again)
        self.deputy_does(c3, "接单 %s", "accepted")
        self.deputy_does(c3, "办结 %s 已修复水管", "resolved")
        self.rate(R3, c3, 2, "assigned")
        # c4: untouched
        actions = {c1: dict(accepted=True, resolved=True, rating=5),
                   c2: dict(accepted=True, resolved=False, rating=None),
                   c3: dict(accepted=True, resolved=False, rating=2),
                   c4: dict(accepted=False, resolved=False, rating=None)}

        # Expected figures per deputy / station / category, from the above
        # plus the times Redis recorded (for the medians).
        info = {}
        for cid in actions:
            h = self.r.hgetall(NS + "case:" + cid)
            info[cid] = dict(actions[cid], deputy=h["deputy"], station=h["station"],
                             category=h["category"], created=int(h["created"]),
                             accepted_at=int(h.get("accepted_at") or 0),
                             resolved_at=int(h.get("resolved_at") or 0))

        def expected(field):
            rows = {}
            for cid, c in info.items():
                rows.setdefault(c[field], []).append(c)
            out = {}
            for key, cs in rows.items():
                rated = [c["rating"] for c in cs if c["rating"]]
                acc = [(c["accepted_at"] - c["created"]) / 3600 for c in cs if c["accepted_at"]]
                res = [(c["resolved_at"] - c["created"]) / 3600 for c in cs if c["resolved"]]
                out[key] = dict(received=len(cs), accepted=sum(c["accepted"] for c in cs),
                                resolved=sum(c["resolved"] for c in cs),
                                resolution_rate=sum(c["resolved"] for c in cs) / len(cs),
                                overdue=0,
                                rating_mean=sum(rated) / len(rated) if rated else None,
                                median_hours_to_accept=median(acc),
                                median_hours_to_resolve=median(res),
                                ratings={str(i): rated.count(i) for i in range(1, 6)})
            return out

        for by in ("deputy", "station", "category"):
            doc = self.get("/admin/stats?by=" + by)
            self.assertEqual(doc["by"], by)
            got = {row["key"]: row for row in doc["rows"]}
            want = expected(by)
            self.assertEqual(set(got), set(want), by)
            for key, w in want.items():
                g = got[key]
                for field in ("received", "accepted", "resolved", "overdue", "ratings"):
                    self.assertEqual(g[field], w[field], "%s %s %s" % (by, key, field))
                for field in ("resolution_rate", "rating_mean", "median_hours_to_accept",
                              "median_hours_to_resolve"):
                    if w[field] is None:
                        self.assertIsNone(g[field], "%s %s %s" % (by, key, field))
                    else:
                        self.assertAlmostEqual(g[field], w[field], places=3,
                                               msg="%s %s %s" % (by, key, field))
            # the same rows as CSV
            status, headers, body = self.raw("/admin/stats?by=" + by, headers={"Accept": "text/csv"})
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/csv"))
            rows = list(csv.DictReader(io.StringIO(body)))
            self.assertEqual({r["key"] for r in rows}, set(want))
            for r in rows:
                w = want[r["key"]]
                self.assertEqual(int(r["received"]), w["received"])
                self.assertEqual(int(r["accepted"]), w["accepted"])
                self.assertEqual(int(r["resolved"]), w["resolved"])
                self.assertEqual(int(r["overdue"]), 0)
                for i in range(1, 6):
                    self.assertEqual(int(r["rating_%d" % i]), w["ratings"][str(i)])
                if w["rating_mean"] is None:
                    self.assertEqual(r["rating_mean"], "")
                else:
                    self.assertAlmostEqual(float(r["rating_mean"]), w["rating_mean"], places=3)
                self.assertAlmostEqual(float(r["resolution_rate"]), w["resolution_rate"], places=3)

        # a window before everything happened is empty; one around it is all
        t0 = min(c["created"] for c in info.values())
        self.assertEqual(self.get("/admin/stats?to=%d" % (t0 - 1))["rows"], [])
        total = sum(r["received"] for r in self.get("/admin/stats?from=%d&to=%d" % (t0, t0 + 3600))["rows"])
        self.assertEqual(total, 4)

        # case list: newest first, filters
        ids = [c["id"] for c in self.get("/admin/cases")["cases"]]
        self.assertEqual(ids, sorted(actions, key=lambda c: int(c[1:]), reverse=True))
        self.assertEqual([c["id"] for c in self.get("/admin/cases?state=closed")["cases"]], [c1])
        self.assertEqual({c["id"] for c in self.get("/admin/cases?deputy=D0412")["cases"]},
                         {c for c, i in info.items() if i["deputy"] == "D0412"})
        self.assertEqual({c["id"] for c in self.get("/admin/cases?deputy=d0412")["cases"]},
                         {c for c, i in info.items() if i["deputy"] == "D0412"})
        self.assertEqual({c["id"] for c in self.get("/admin/cases?station=S01")["cases"]},
                         {c for c, i in info.items() if i["station"] == "S01"})
        self.assertEqual({c["id"] for c in self.get("/admin/cases?category=water")["cases"]}, {c3, c4})
        self.assertEqual(len(self.get("/admin/cases?limit=2")["cases"]), 2)
        self.assertEqual(self.get("/admin/cases?overdue=1")["cases"], [])
        listed = self.get("/admin/cases?state=accepted")["cases"]
        self.assertEqual([c["id"] for c in listed], [c2])
        for field in ("id", "state", "category", "deputy", "station", "routed_by", "created", "updated"):
            self.assertIn(field, listed[0])
        self.assertNotIn("addr", listed[0])

        # case detail: history in order, resident masked
        d1 = self.case(c1.lower())
        self.assertEqual(d1["id"], c1)
        self.assertEqual(d1["state"], "closed")
        self.assertEqual(d1["text"], LAMP)
        self.assertEqual(d1["rating"], 5)
        self.assertEqual(d1["masked"], "138****8001")
        self.assertNotIn(R1, json.dumps(d1, ensure_ascii=False))
        self.assertNotIn(R1[3:], json.dumps(d1, ensure_ascii=False))
        events = [h["event"] for h in d1["history"]]
        for ev in ("opened", "accepted", "progress", "resolved", "rated"):
            self.assertIn(ev, events)
        self.assertLess(events.index("opened"), events.index("accepted"))
        self.assertLess(events.index("accepted"), events.index("resolved"))
        for h in d1["history"]:
            self.assertEqual(set(h), {"ts", "actor", "event", "text"})

        # deputies: queue lengths and oldest open case, from Redis' own view
        deps = {d["id"]: d for d in self.get("/admin/deputies")["deputies"]}
        self.assertEqual({d["id"] for d in ROSTER["deputies"]}, set(deps))
        for dep, row in deps.items():
            q = self.r.zrange(NS + "dq:" + dep, 0, -1, withscores=True)
            self.assertEqual(row["open"], len(q), dep)
            self.assertEqual(row["oldest_open_case"], q[0][0] if q else None, dep)
            if q:
                self.assertEqual(row["oldest_open_since"], int(q[0][1]))
        self.assertEqual(deps["D0412"]["open"], 1)  # c2; c1 is closed
        self.assertEqual(deps["D0412"]["oldest_open_case"], c2)
        self.assertEqual(deps["D0412"]["name"], "王丽")

        # /metrics: gauges from Redis next to the counters
        status, _, text = self.raw("/metrics", token=None)
        self.assertEqual(status, 200)
        self.assertIn('mashang_cases{state="closed"} 1', text)
        self.assertIn('mashang_cases{state="accepted"} 1', text)
        self.assertIn('mashang_cases{state="assigned"} 2', text)
        self.assertIn("mashang_cases_overdue 0", text)
        self.assertIn("mashang_outbox_dead 0", text)
        self.assertRegex(text, r"mashang_outbox_ready \d+")
        self.assertRegex(text, r'mashang_messages_total\{channel="sms",outcome="stored"\} \d+')

        # the same through mashangctl
        self.check_ctl(c1, c2)

    def check_ctl(self, c1, c2):
        probe = self.ctl("deputies")
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertIn("王丽", probe.stdout)
        out = self.ctl("deputies", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("D0412", [d["id"] for d in json.loads(out.stdout)["deputies"]])
        out = self.ctl("cases", "list", "--state", "closed")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(c1, out.stdout)
        self.assertNotIn(c2, out.stdout)
        out = self.ctl("cases", "show", c1)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("history", out.stdout)
        self.assertIn("resolved", out.stdout)
        out = self.ctl("stats", "--by", "station", "--csv")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("key,name,received"))
        out = self.ctl("cases", "show", "M9999")
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown_case", out.stderr)
        out = self.ctl("stats", "--token", "wrong")
        self.assertEqual(out.returncode, 1)
        self.assertIn("401", out.stderr)


class TestAnnualReport(AdminCase):
    """The statistics' aggregates (docs/admin.md "Aggregates") over two days,
    two stations and three deputies: the report's figures are exactly what
    the scenario did, whether the step kept them as cases moved or the
    rebuild recounted them from the cases."""

    def test_report_matches_the_scenario_and_rebuild(self):
        # Two cases opened "yesterday": opened now, moved back a day in
        # Redis, and the aggregates rebuilt from the cases (as after an
        # upgrade); from then on the step keeps them as the cases move.
        c1 = self.open_case(R1, LAMP)
        c2 = self.open_case(R2, WATER)
        yesterday = int(time.time()) - 86400
        for cid in (c1, c2):
            self.r.hset(NS + "case:" + cid, "created", yesterday)
            self.r.zadd(NS + "cases", {cid: yesterday})
        out = self.ctl("stats", "rebuild", "--batch", "1")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("rebuilt from 2 case(s)", out.stdout)
        self.deputy_does(c1, "接单 %s", "accepted")
        self.deputy_does(c1, "办结 %s 已更换灯泡", "resolved")
        self.rate(R1, c1, 5, "closed")
        self.deputy_does(c2, "接单 %s", "accepted")
        # Two cases today: c3 resolved without 接单 and rated 2 (reopened),
        # c4 untouched.
        c3 = self.open_case(R3, LAMP2)
        c4 = self.open_case(R4, WATER2)
        self.deputy_does(c3, "办结 %s 已修好", "resolved")
        self.rate(R3, c3, 2, "assigned")
        # c4 handed by an administrator to the other deputy of its station:
        # the counts follow it
        other = "D0007" if self.case(c4)["deputy"] == "D0008" else "D0008"
        status, doc = self.d.admin("/admin/cases/%s/assign" % c4, "POST", {"deputy": other})
        self.assertEqual(status, 200, doc)
        did = {c1: dict(day=0, state="closed", accepted=1, rating=5),
               c2: dict(day=0, state="accepted", accepted=1, rating=None),
               c3: dict(day=1, state="assigned", accepted=1, rating=2),
               c4: dict(day=1, state="assigned", accepted=0, rating=None)}
        for cid, d in did.items():
            h = self.case(cid)
            self.assertEqual(h["state"], d["state"], cid)
            d.update(deputy=h["deputy"], station=h["station"], category=h["category"])
        self.assertEqual(len({d["deputy"] for d in did.values()}), 3, did)

        def china_day(ts):
            return time.strftime("%Y-%m-%d", time.gmtime(ts + 8 * 3600))
        days = [china_day(yesterday), china_day(yesterday + 86400)]

        def want(cases):
            rated = [d["rating"] for d in cases if d["rating"]]
            solved = sum(d["state"] in ("resolved", "closed") for d in cases)
            return dict(received=len(cases), accepted=sum(d["accepted"] for d in cases),
                        solved=solved, closed=sum(d["state"] == "closed" for d in cases),
                        withdrawn=0, open=len(cases) - solved, rated=len(rated),
                        ratings={str(i): rated.count(i) for i in range(1, 6)},
                        rating_mean=sum(rated) / len(rated) if rated else None)

        def check(row, cases, what):
            for field, value in want(cases).items():
                self.assertEqual(row[field], value, "%s %s" % (what, field))

        def report(query):
            return self.get("/admin/report?" + query)

        def check_all(doc, cases):
            check(doc["total"], cases, "total")
            for dim, lst in (("deputy", "deputies"), ("station", "stations"), ("category", "categories")):
                keys = {d[dim] for d in cases}
                self.assertEqual({r["key"] for r in doc[lst]}, keys, lst)
                for r in doc[lst]:
                    check(r, [d for d in cases if d[dim] == r["key"]], "%s %s" % (dim, r["key"]))

        for i, day in enumerate(days):
            check_all(report("from=%s&to=%s" % (day, day)), [d for d in did.values() if d["day"] == i])
        both = report("from=%s&to=%s" % tuple(days))
        check_all(both, list(did.values()))
        self.assertFalse(both["rebuilding"])
        self.assertEqual(both["key_problems"]["source"], "categories")
        wang = [r for r in both["deputies"] if r["key"] == "D0412"][0]
        self.assertEqual(wang["name"], "王丽")
        s01 = report("from=%s&to=%s&station=S01" % tuple(days))
        check_all(s01, [d for d in did.values() if d["station"] == "S01"])
        self.assertEqual(s01["station_name"], [s["name"] for s in ROSTER["stations"] if s["id"] == "S01"][0])
        year = days[1][:4]
        if days[0][:4] == year:
            check_all(report("year=" + year), list(did.values()))

        # CSV and HTML, also through mashangctl
        status, headers, body = self.raw("/admin/report?format=csv&from=%s&to=%s" % tuple(days))
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(body)))
        total = [r for r in rows if r["section"] == "total"][0]
        w = want(list(did.values()))
        for field in ("received", "accepted", "solved", "rated"):
            self.assertEqual(int(total[field]), w[field], field)
        self.assertEqual({r["key"] for r in rows if r["section"] == "deputy"},
                         {d["deputy"] for d in did.values()})
        status, headers, body = self.raw("/admin/report?format=html&from=%s&to=%s" % tuple(days))
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("<dt>收集意见</dt><dd>4 件", body)
        self.assertIn("@media print", body)
        self.assertIn("王丽", body)
        out = self.ctl("report", "--from", days[0], "--to", days[1], "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout), both)
        out = self.ctl("report", "--from", days[0], "--to", days[1], "--html")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("<!DOCTYPE html>"))
        out = self.ctl("report", "--from", days[0], "--to", days[1])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("received 4", out.stdout)

        # /admin/stats takes its counts from the aggregates too (whole days),
        # with the same figures
        st = self.get("/admin/stats?by=station")
        self.assertEqual(st["counts"], "aggregates")
        self.assertEqual({r["key"] for r in st["rows"]}, {d["station"] for d in did.values()})
        for r in st["rows"]:
            w = want([d for d in did.values() if d["station"] == r["key"]])
            self.assertEqual((r["received"], r["accepted"], r["resolved"], r["ratings"]),
                             (w["received"], w["accepted"], w["solved"], w["ratings"]), r["key"])
        self.assertEqual(self.get("/admin/stats?from=%d" % (yesterday - 5))["counts"], "cases")

        # the rebuild recounts the same numbers the step kept
        out = self.ctl("stats", "rebuild")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("rebuilt from 4 case(s)", out.stdout)
        self.assertEqual(report("from=%s&to=%s" % tuple(days)), both)

        # bad queries
        for q in ("", "year=26", "year=2026&from=2026-01-01&to=2026-01-02", "from=2026-02-30&to=2026-03-01",
                  "year=2026&format=pdf", "year=2026&station=S%2001", "year=2026&by=deputy",
                  "year=2026&key_min=1", "year=2026&key_min=x"):
            self.assertEqual(self.raw("/admin/report?" + q)[0], 400, q)
        self.assertEqual(self.raw("/admin/report?year=2026", "POST", body="{}")[0], 405)
        self.assertEqual(self.raw("/admin/stats/rebuild?batch=0", "POST")[0], 400)
        self.assertEqual(self.raw("/admin/stats/rebuild")[0], 405)


class TestAdminOperations(AdminCase):

    def test_overdue_filter_and_gauge(self):
        c1 = self.open_case(R1, LAMP)
        c2 = self.open_case(R2, LAMP2)
        # c1 was created two days ago (past the 24 h accept deadline)
        old = int(time.time()) - 2 * 86400
        self.r.hset(NS + "case:" + c1, "created", old)
        self.r.zadd(NS + "cases", {c1: old})
        self.assertEqual([c["id"] for c in self.get("/admin/cases?overdue=1")["cases"]], [c1])
        self.assertEqual([c["id"] for c in self.get("/admin/cases")["cases"]], [c2, c1])
        rows = {r["key"]: r for r in self.get("/admin/stats?by=deputy")["rows"]}
        self.assertEqual(sum(r["overdue"] for r in rows.values()), 1)
        _, _, text = self.raw("/metrics", token=None)
        self.assertIn("mashang_cases_overdue 1", text)

    def test_assign_moves_the_case(self):
        cid = self.open_case(R1, LAMP)
        self.assertEqual(self.case(cid)["deputy"], "D0412")
        self.assertEqual(self.d.admin("/admin/cases/%s/assign" % cid, "POST", {"deputy": "D9999"})[0], 404)
        self.assertEqual(self.d.admin("/admin/cases/M9999/assign", "POST", {"deputy": "D0007"})[0], 404)
        before = self.stack.mt_count(PHONE["D0007"])
        status, doc = self.d.admin("/admin/cases/%s/assign" % cid, "POST", {"deputy": "D0007"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["deputy"], "D0007")
        self.assertEqual(doc["state"], "assigned")
        detail = self.case(cid)
        self.assertEqual(detail["deputy"], "D0007")
        self.assertEqual(detail["station"], STATION["D0007"])
        deps = {d["id"]: d for d in self.get("/admin/deputies")["deputies"]}
        self.assertEqual(deps["D0007"]["open"], 1)
        self.assertEqual(deps["D0412"]["open"], 0)
        # the new deputy is told
        self.stack.kannel.wait_mt(PHONE["D0007"], cid, timeout=MT_TIMEOUT, after=before)

    def test_outbox_dead_and_retry(self):
        # A message that failed for good (as outbox_result.lua leaves it).
        now_ms = int(time.time() * 1000)
        self.r.hset(NS + "out:900", mapping={
            "channel": "sms", "to": R4, "text": "【码上说】重发测试", "case": "", "kind": "notify",
            "attempts": 8, "created": now_ms, "state": "dead", "last_error": "HTTP 503",
            "dead_at": now_ms})
        self.r.rpush(NS + "outbox:dead", "900")
        doc = self.get("/admin/outbox/dead")
        self.assertEqual(doc["total"], 1)
        m = doc["messages"][0]
        self.assertEqual(m["id"], "900")
        self.assertEqual(m["attempts"], 8)
        self.assertEqual(m["last_error"], "HTTP 503")
        self.assertNotIn(R4[3:], json.dumps(doc))  # masked
        _, _, text = self.raw("/metrics", token=None)
        self.assertIn("mashang_outbox_dead 1", text)
        self.assertEqual(self.raw("/admin/outbox/retry")[0], 405)
        status, doc = self.d.admin("/admin/outbox/retry", "POST", {})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["moved"], 1)
        self.assertEqual(doc["remaining"], 0)
        self.assertEqual(self.r.llen(NS + "outbox:dead"), 0)
        # the sender picks it up again and it reaches the phone
        self.stack.kannel.wait_mt(R4, "重发测试", timeout=MT_TIMEOUT)
        wait_until(lambda: self.r.hget(NS + "out:900", "state") == "sent", 10, "out:900 sent")
        self.assertEqual(self.get("/admin/outbox/dead")["messages"], [])

    def test_reload_and_intents_test(self):
        status, doc = self.d.admin("/admin/reload", "POST", {})
        self.assertEqual(status, 202)
        self.assertEqual(doc["status"], "reloading")
        wait_until(lambda: "event=reloaded" in self.d.log, 10, "reload logged")
        self.assertTrue(self.d.alive())
        status, doc = self.d.admin("/admin/intents/test", "POST", {"text": LAMP})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["label"], "facilities")
        self.assertEqual(doc["kind"], "concern")
        self.assertEqual(doc["slots"].get("place"), "幸福路12号")
        for field in ("text", "normalized", "intent", "candidates", "us"):
            self.assertIn(field, doc)
        status, doc = self.d.admin("/admin/intents/test", "POST", {"text": "接单 M1001", "as": "deputy"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["label"], "cmd.accept")
        # the daemon's reading matches mashangctl's offline one
        out = subprocess.run([CTL, "intents", "test", "--json", LAMP], capture_output=True,
                             text=True, timeout=30)
        if out.returncode == 0:
            offline = json.loads(out.stdout)
            status, online = self.d.admin("/admin/intents/test", "POST", {"text": LAMP})
            for field in ("label", "intent", "kind", "slots", "normalized"):
                self.assertEqual(online[field], offline[field], field)

    def test_metrics_without_redis(self):
        self.open_case(R1, LAMP)
        self.stack.redis.kill()
        status, _, text = self.raw("/metrics", token=None)
        self.assertEqual(status, 200)
        self.assertIn("mashang_redis_up 0", text)
        self.assertIn("mashang_messages_total", text)
        self.assertNotIn("mashang_cases{", text)
        self.assertEqual(self.raw("/admin/cases")[0], 503)


class TestCompactedCase(AdminCase):
    """A closed case past its follow-up window is compacted in Redis (its
    history list folded into one string, docs/redis.md); the admin API
    reads it as before."""
    timers = {"followup_s": 1}

    def test_closed_case_read_after_compaction(self):
        c1 = self.open_case(R1, LAMP)
        self.deputy_does(c1, "接单 %s", "accepted")
        self.deputy_does(c1, "办结 %s 已更换灯泡", "resolved")
        self.rate(R1, c1, 5, "closed")
        before = self.case(c1)
        stats = self.get("/admin/stats?by=deputy")["rows"]
        _, _, csv_before = self.raw("/admin/stats?by=deputy", headers={"Accept": "text/csv"})
        wait_until(lambda: self.r.hget(NS + "case:" + c1, "compacted") == "1", 10, "case compacted")
        self.assertFalse(self.r.exists(NS + "hist:" + c1))
        self.assertTrue(self.r.exists(NS + "histz:" + c1))
        after = self.case(c1)
        self.assertEqual(after["history"], before["history"])
        self.assertEqual([h["event"] for h in after["history"]],
                         ["opened", "assigned", "accepted", "resolved", "rated"])
        for field in ("id", "state", "text", "rating", "masked", "deputy", "result"):
            self.assertEqual(after[field], before[field], field)
        self.assertEqual(self.get("/admin/stats?by=deputy")["rows"], stats)
        self.assertEqual(self.raw("/admin/stats?by=deputy", headers={"Accept": "text/csv"})[2], csv_before)
        self.assertEqual([c["id"] for c in self.get("/admin/cases?state=closed")["cases"]], [c1])


class MetricsAcrossWorkers(StackCase):
    """With several workers, /metrics shows the process's counters: the
    same whichever worker answers, and never lower than the scrape before
    (a drop reads as a counter reset to Prometheus)."""

    WORKERS = 3
    overrides = {"workers": WORKERS, "limits": {"sender_per_minute": 0}}
    WATCHED = (r'mashang_messages_total\{channel="sms",outcome="stored"\}',
               r'mashang_http_request_seconds_count',
               r'mashang_http_request_seconds_bucket\{le="\+Inf"\}',
               r'mashang_outbox_total\{result="sent"\}')

    def scrape(self):
        import re
        # a new connection each time: the kernel spreads them over workers
        with urllib.request.urlopen(self.stack.daemon.url + "/metrics", timeout=10) as resp:
            self.assertEqual(resp.status, 200)
            text = resp.read().decode()
        values = []
        for series in self.WATCHED:
            m = re.search(r"^%s (\d+)$" % series, text, re.M)
            values.append(int(m.group(1)) if m else 0)
        return values

    def mo(self, i):
        q = urllib.parse.urlencode({"from": "+86138001390%02d" % i, "to": "10690001",
                                    "text": LAMP, "id": "metrics-%d" % i,
                                    "coding": "0", "charset": "UTF-8"})
        with urllib.request.urlopen("%s/sms/kannel?%s" % (self.stack.daemon.url, q),
                                    timeout=10) as resp:
            self.assertEqual(resp.status, 200)

    def test_scrapes_are_summed_and_never_go_down(self):
        wait_until(lambda: "workers=%d" % self.WORKERS in self.stack.daemon.log, 10,
                   "%d workers started" % self.WORKERS)
        sent = 24
        last = self.scrape()
        for i in range(sent):
            self.mo(i)
            for _ in range(2):
                now = self.scrape()
                for name, before, after in zip(self.WATCHED, last, now):
                    self.assertGreaterEqual(after, before, "%s went down" % name)
                last = now
        # every message counted once, whichever worker stored it
        wait_until(lambda: self.scrape()[0] == sent, 10, "all %d messages counted" % sent)
        for _ in range(6):
            self.assertEqual(self.scrape()[0], sent)


if __name__ == "__main__":
    unittest.main()
