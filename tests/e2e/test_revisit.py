"""The stations' practice beyond the first loop, through real Kannel and
Redis: 回头看 (a closed case asks whether the fix held; "2" reopens it and
tells the deputy and the committee, "1" is recorded), ratings by aspect
(rating.aspects: "545" is recorded per aspect, a single digit still counts
overall), a reception question answered from the roster, and the duty
deputies' morning digest, sent exactly once a day with two daemons."""

import calendar
import json
import os
import tempfile
import time

from harness import PhoneTalk, REPO, Daemon, StackCase, wait_until

RESIDENT = "+8613800138000"
RESIDENT2 = "+8613800138111"
WANG = "+8613900000001"        # 王丽 D0412, S01 (幸福路), liaison of S01
COMMITTEE = "+8613900000099"
LAMP = "幸福路12号的路灯坏了三天了"
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]   # tm_wday of Python: Monday = 0

# S01 receives on Tuesday mornings and on the 10th; 王丽 is on duty daily.
RECEPTION = [{"day": "tue", "time": "09:00-11:30", "place": "幸福社区服务中心二楼"},
             {"day": "10", "time": "14:00", "place": "幸福路88号"}]


def roster_file(tmpdir):
    with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
        roster = json.load(f)
    for st in roster["stations"]:
        if st["id"] == "S01":
            st["reception"] = RECEPTION
    for d in roster["deputies"]:
        d["duty"] = ["daily"] if d["id"] == "D0412" else []
    path = os.path.join(tmpdir, "deputies.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(roster, f, ensure_ascii=False)
    return path


def next_reception(tm):
    """The answer the daemon should give at local time `tm` (its own
    computation, written out independently)."""
    y, mo, d, wday = tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_wday
    hm = "%02d:%02d" % (tm.tm_hour, tm.tm_min)
    for i in range(63):
        best = None
        for r in RECEPTION:
            frm, _, to = r["time"].partition("-")
            hit = (r["day"] == "tue" and wday == 1) or (r["day"] == str(d))
            if hit and (i > 0 or (to or frm) > hm) and (best is None or frm < best[0]):
                best = (frm, r["time"], r["place"])
        if best:
            return "%d月%d日（%s）%s，%s" % (mo, d, WEEKDAYS[wday], best[1], best[2])
        d, wday = d + 1, (wday + 1) % 7
        if d > calendar.monthrange(y, mo)[1]:
            d, mo = 1, mo + 1
        if mo > 12:
            mo, y = 1, y + 1
    return None


class StationCase(PhoneTalk, StackCase):
    PARTIES = (RESIDENT, RESIDENT2, WANG, COMMITTEE)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="e2e-revisit-")
        self.overrides = dict(self.overrides or {}, roster=roster_file(self.tmp))
        super().setUp()
        self.r = self.stack.redis.client


    def case(self, cid):
        return self.r.hgetall("{mashang}:case:%s" % cid)


class TestRevisitAspectsReception(StationCase):
    timers = {"revisit_s": 3}
    overrides = {"rating": {"aspects": ["态度", "速度", "结果"]}, "outbox": {"backoff_ms": 200}}

    def test_revisit_aspects_and_reception(self):
        # A reception question is answered with the next reception of the
        # station its place names.
        tm = time.localtime()
        m = self.say(RESIDENT2, "幸福路的代表什么时候接待")
        self.expect(RESIDENT2, m, "幸福社区代表联络站下次接待", next_reception(tm))

        # Resolved: the rating request asks per aspect; one digit still
        # counts overall and leaves no aspect scores.
        m = self.say(RESIDENT, LAMP)
        self.expect(WANG, m, "M1001")
        m = self.say(WANG, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "请依次为态度、速度、结果打1-5分，如545")
        m = self.say(RESIDENT, "4")
        self.expect(RESIDENT, m, "感谢您的评价")
        c = self.case("M1001")
        self.assertEqual((c["state"], c["rating"]), ("closed", "4"))
        self.assertFalse([f for f in c if f.startswith("aspect:")])

        # 回头看: revisit_s later the resident is asked; "2" reopens the
        # case and tells the deputy and the committee.
        self.expect(RESIDENT, m, "M1001", "解决后情况还好吗", timeout=10)
        self.assertIn("revisit_asked", self.case("M1001"))
        # A new concern meanwhile is a case of its own, and the question stays.
        m = self.say(RESIDENT, "光明村的自来水停了两天了，一直没人来修")
        self.expect(RESIDENT, m, "M1002")
        self.assertEqual(self.case("M1001")["state"], "closed")
        m = self.say(RESIDENT, "2")
        self.expect(RESIDENT, m, "M1001已重新交办王丽代表")
        self.expect(COMMITTEE, m, "回头看", "M1001")
        self.expect(WANG, m, "回头看", "M1001")
        c = self.case("M1001")
        self.assertEqual((c["state"], c["revisit"], c["relapses"]), ("assigned", "relapsed", "1"))
        self.assertIsNotNone(self.r.zscore("{mashang}:dq:D0412", "M1001"))

        # Resolved again and rated per aspect: "545" is recorded aspect by
        # aspect, its rounded mean as the overall rating.
        m = self.say(WANG, "办结 M1001 整套灯具已更换")
        self.expect(RESIDENT, m, "整套灯具已更换")
        m = self.say(RESIDENT, "545")
        self.expect(RESIDENT, m, "感谢您的评价")
        c = self.case("M1001")
        self.assertEqual((c["state"], c["rating"]), ("closed", "5"))
        self.assertEqual((c["aspect:态度"], c["aspect:速度"], c["aspect:结果"]), ("5", "4", "5"))

        # Looked back at again: "1" is recorded and changes nothing else.
        self.expect(RESIDENT, m, "解决后情况还好吗", timeout=10)
        m = self.say(RESIDENT, "1")
        self.expect(RESIDENT, m, "已记录M1001效果良好")
        c = self.case("M1001")
        self.assertEqual((c["state"], c["revisit"], c["revisits"], c["relapses"]),
                         ("closed", "held", "2", "1"))
        hist = [json.loads(e)["event"] for e in self.r.lrange("{mashang}:hist:M1001", 0, -1)]
        self.assertEqual(hist.count("revisit_asked"), 2)
        self.assertIn("revisit_relapsed", hist)
        self.assertIn("revisit_held", hist)

        # The statistics: revisit and relapse rates, the mean per aspect.
        status, doc = self.stack.daemon.admin("/admin/stats?by=deputy")
        self.assertEqual(status, 200)
        row = [r for r in doc["rows"] if r["key"] == "D0412"][0]
        self.assertEqual((row["revisited"], row["revisit_rate"]), (1, 1))
        self.assertEqual((row["relapsed"], row["relapse_rate"]), (1, 1))
        self.assertEqual(row["aspect_means"], {"态度": 5, "速度": 4, "结果": 5})


class TestDutyDigest(StationCase):
    """The digest timer comes due a few seconds after both daemons run:
    the daemons' local time is shifted (TZ) so that a minute begins then,
    and timers.digest_at is that minute."""

    LEAD_S = 20

    def setUp(self):
        now = int(time.time())
        off = (60 - (now + self.LEAD_S) % 60) % 60
        self.local_then = time.gmtime(now + self.LEAD_S + off)
        self.saved_tz = os.environ.get("TZ")
        os.environ["TZ"] = "DIG-00:00:%02d" % off   # local = UTC + off seconds
        time.tzset()
        self.timers = {"digest_at": time.strftime("%H:%M", self.local_then)}
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if self.saved_tz is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = self.saved_tz
            time.tzset()

    def test_digest_once_with_two_daemons(self):
        m = self.say(RESIDENT, LAMP)
        self.expect(WANG, m, "M1001")
        second = Daemon(self.stack.redis, self.stack.kannel, timers=self.timers,
                        overrides=self.overrides)
        second.start()
        try:
            date = "%d月%d日" % (self.local_then.tm_mon, self.local_then.tm_mday)
            self.expect(WANG, m, date + "值班摘要（幸福社区代表联络站）", "新反映1件：M1001",
                        timeout=self.LEAD_S + 15)
            time.sleep(3)
            digests = [t for t in self.stack.kannel.mts(WANG)[m[WANG]:] if "值班摘要" in t]
            self.assertEqual(len(digests), 1, digests)
            day = time.strftime("%Y-%m-%d", self.local_then)
            self.assertTrue(self.r.exists("{mashang}:digest:" + day))
            self.assertEqual([t for t in self.r.zrange("{mashang}:timers", 0, -1)
                              if t.startswith("digest|")], [])
        finally:
            second.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()
