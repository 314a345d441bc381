"""The teach loop against the real mashangd, Redis and Kannel: an
administrator corrects a case's category (POST /admin/cases/{id}/label,
`mashangctl cases label`), the case moves to the corrected category's topic
group while nobody has accepted it, the correction becomes a training line
(`mashangctl intents corrections`), and cases the engine was unsure of are
listed for review (`mashangctl intents review`, numbers masked).

Roster facts (config/deputies.json): topic groups environment -> 张伟 D0201,
education -> 刘芳 D0104, jobs -> 杨敏 D0202; 幸福路 is S01's area (王丽 D0412)."""

import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import MASHANGCTL, StackCase, http_get, wait_until

NS = "{mashang}:"
CASE_RE = re.compile(r"编号(M\d{4,})")
PHONE = {"D0104": "+8613900000005", "D0201": "+8613900000006", "D0202": "+8613900000007",
         "D0412": "+8613900000001"}
GARBAGE = "小区门口的垃圾好几天没人清运了，臭得很"      # environment, routed by topic
WAGES = "单位拖欠工资三个月了"                          # jobs, routed by topic
LAMP = "幸福路12号的路灯坏了三天了"                     # facilities, routed by area
VAGUE = ("那个事你们管不管", "我们这边的问题一直没人解决", "这个事情到底有没有人管",
         "我们这里的情况一直没人解决")
WITH_PHONE = "我电话13912345678，孩子学校食堂太贵了"   # education; a number to mask


class TeachCase(StackCase):

    def setUp(self):
        super().setUp()
        self.d = self.stack.daemon
        self.r = self.stack.redis.client

    # -- helpers ----------------------------------------------------------
    def open_case(self, resident, text, via_http=False):
        """Sends `text` by SMS (or straight to the daemon's Kannel endpoint,
        for text a phone cannot type); returns the case id from the
        acknowledgement."""
        before = self.stack.mt_count(resident)
        if via_http:
            q = urllib.parse.urlencode({"from": resident, "to": self.stack.service, "text": text,
                                        "id": "teach-%d" % time.time_ns()})
            self.assertEqual(http_get(self.d.url + "/sms/kannel?" + q)[0], 200)
        else:
            self.stack.send_mo(resident, text)
        ack = self.stack.kannel.wait_mt(resident, lambda t: CASE_RE.search(t), after=before, timeout=15)
        return CASE_RE.search(ack).group(1)

    def case(self, cid):
        status, doc = self.d.admin("/admin/cases/" + cid)
        self.assertEqual(status, 200, doc)
        return doc

    def label(self, cid, label):
        return self.d.admin("/admin/cases/%s/label" % cid, "POST", {"label": label})

    def ctl(self, *args):
        env = dict(os.environ, MASHANG_URL=self.d.url, MASHANG_ADMIN_TOKEN=self.d.admin_token)
        return subprocess.run([MASHANGCTL] + list(args), env=env, capture_output=True,
                              text=True, timeout=30)

    def history_events(self, cid):
        return [h["event"] for h in self.case(cid)["history"]]

    # -- correcting a category --------------------------------------------
    def test_label_moves_a_topic_routed_case_until_accepted(self):
        cid = self.open_case("+8613800138101", GARBAGE)
        c = self.case(cid)
        self.assertEqual((c["category"], c["deputy"], c["routed_by"]),
                         ("environment", "D0201", "topic"))
        self.assertIn("confidence", c)

        # through mashangctl: the case goes to the education group
        out = self.ctl("cases", "label", cid, "education")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("moved to D0104 (topic)", out.stdout)
        c = self.case(cid)
        self.assertEqual((c["category"], c["deputy"], c["routed_by"], c["state"]),
                         ("education", "D0104", "topic", "assigned"))
        self.assertNotIn("title", c)
        corrected = [h for h in c["history"] if h["event"] == "category_corrected"]
        self.assertEqual(len(corrected), 1)
        self.assertEqual((corrected[0]["actor"], corrected[0]["text"]),
                         ("admin", "environment -> education"))
        self.assertIn("transferred", self.history_events(cid))
        self.assertEqual(self.r.zscore(NS + "dq:D0201", cid), None)
        self.assertIsNotNone(self.r.zscore(NS + "dq:D0104", cid))
        self.stack.kannel.wait_mt(PHONE["D0104"], cid)       # the new deputy is told

        # a second correction moves it again (it is still routed by topic)
        status, doc = self.label(cid, "jobs")
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["category"], doc["previous"], doc["deputy"], doc["moved"]),
                         ("jobs", "education", "D0202", True))

        # once the deputy accepted it, a correction leaves it with them
        self.stack.send_mo(PHONE["D0202"], "接单 " + cid)
        wait_until(lambda: self.case(cid)["state"] == "accepted", 15, "case accepted")
        status, doc = self.label(cid, "welfare")
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["category"], doc["deputy"], doc["moved"]), ("welfare", "D0202", False))
        c = self.case(cid)
        self.assertEqual((c["category"], c["deputy"], c["state"]), ("welfare", "D0202", "accepted"))

    def test_label_keeps_a_deputy_found_by_the_place(self):
        cid = self.open_case("+8613800138102", LAMP)
        self.assertEqual(self.case(cid)["routed_by"], "area")
        status, doc = self.label(cid, "water")
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["previous"], doc["category"], doc["deputy"], doc["moved"]),
                         ("facilities", "water", "D0412", False))
        c = self.case(cid)
        self.assertEqual((c["category"], c["deputy"], c["routed_by"]), ("water", "D0412", "area"))
        self.assertNotIn("transferred", self.history_events(cid))

    def test_label_errors(self):
        cid = self.open_case("+8613800138103", WAGES)
        status, doc = self.label(cid, "aliens")
        self.assertEqual((status, doc["error"]), (400, "unknown_category"))
        status, doc = self.label("M999999", "water")
        self.assertEqual((status, doc["error"]), (404, "unknown_case"))
        status, doc = self.d.admin("/admin/cases/%s/label" % cid, "POST", {"category": "water"})
        self.assertEqual(status, 400, doc)
        self.assertEqual(self.d.admin("/admin/cases/%s/label" % cid)[0], 405)
        req = urllib.request.Request(self.d.url + "/admin/cases/%s/label" % cid,
                                     data=b'{"label":"water"}', method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(e.exception.code, 401)
        self.assertEqual(self.case(cid)["category"], "jobs")
        # a form body works as well
        req = urllib.request.Request(
            self.d.url + "/admin/cases/%s/label" % cid, data="label=housing".encode(), method="POST",
            headers={"Authorization": "Bearer " + self.d.admin_token,
                     "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            self.assertEqual(resp.status, 200)
        self.assertEqual(self.case(cid)["category"], "housing")
        out = self.ctl("cases", "label", cid, "aliens")
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown_category", out.stderr)

    # -- training examples --------------------------------------------------
    def test_corrections_are_training_lines(self):
        a = self.open_case("+8613800138104", GARBAGE)
        b = self.open_case("+8613800138105", WAGES + "\t老板\n跑了", via_http=True)
        self.assertEqual(self.label(a, "education")[0], 200)
        self.assertEqual(self.label(b, "welfare")[0], 200)
        self.assertEqual(self.label(a, "housing")[0], 200)   # relabelled: replaces

        out = self.ctl("intents", "corrections")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("welfare\t" + WAGES + " 老板 跑了", lines)  # tab/newline -> space
        self.assertEqual(lines[-1], "housing\t" + GARBAGE)       # newest last
        for line in lines:
            self.assertEqual(line.count("\t"), 1)

        out = self.ctl("intents", "corrections", "--label", "welfare")
        self.assertEqual(out.stdout.splitlines(), ["welfare\t" + WAGES + " 老板 跑了"])
        later = str(int(time.time()) + 5)
        self.assertEqual(self.ctl("intents", "corrections", "--from", later).stdout, "")
        self.assertEqual(self.ctl("intents", "corrections", "--from", "0").stdout.splitlines(), lines)
        status, doc = self.d.admin("/admin/intents/corrections?limit=1")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["total"], 2)
        self.assertEqual(len(doc["corrections"]), 1)
        self.assertEqual(set(doc["corrections"][0]), {"label", "text", "case", "ts"})
        self.assertEqual(self.d.admin("/admin/intents/corrections?label=aliens")[0], 400)

        # erasing a resident's data erases their words from the examples too
        status, doc = self.d.admin("/admin/residents/erase", "POST",
                                   {"channel": "sms", "addr": "+8613800138104"})
        self.assertEqual(status, 200, doc)
        out = self.ctl("intents", "corrections")
        self.assertEqual(out.stdout.splitlines(), ["welfare\t" + WAGES + " 老板 跑了"])

    # -- the review list ----------------------------------------------------
    def test_vague_message_stores_confidence_and_review_flag(self):
        # The first vague text the engine reads as a concern (the model
        # may take some for a status question): it opens a case.
        for text in VAGUE:
            status, reading = self.d.admin("/admin/intents/test", "POST", {"text": text})
            self.assertEqual(status, 200, reading)
            if reading["kind"] in ("concern", "none") and not reading["needs"]:
                break
        else:
            self.fail("no vague text opens a case: %r" % (VAGUE,))
        cid = self.open_case("+8613800138106", text)
        c = self.case(cid)
        self.assertIn("confidence", c)
        conf = float(c["confidence"])
        self.assertTrue(0.0 <= conf <= 1.0, conf)
        self.assertEqual(float(self.r.hget(NS + "case:" + cid, "confidence")), conf)
        if "confidence" in reading:
            self.assertAlmostEqual(conf, reading["confidence"], places=3)
        # The engine's own reading says whether it is unsure: then (and
        # only then) the case is on the review list.
        flagged = self.r.zscore(NS + "review", cid) is not None
        if "review" in reading:
            self.assertEqual(flagged, bool(reading["review"]), (reading, conf))
        status, doc = self.d.admin("/admin/intents/review")
        self.assertEqual(status, 200, doc)
        self.assertEqual(cid in [x["id"] for x in doc["cases"]], flagged)
        if flagged:
            out = self.ctl("intents", "review")
            self.assertIn(cid, out.stdout)
            self.assertEqual(self.label(cid, "jobs")[0], 200)
            self.assertIsNone(self.r.zscore(NS + "review", cid))

    def test_review_list_masks_numbers_and_label_clears_it(self):
        # The engine decides what is unsure; the list itself is read here
        # from entries placed the way open_case places them.
        a = self.open_case("+8613800138107", WITH_PHONE)
        b = self.open_case("+8613800138108", GARBAGE)
        now = int(time.time())
        self.r.zadd(NS + "review", {a: now - 10, b: now})
        status, doc = self.d.admin("/admin/intents/review")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["total"], 2)
        self.assertEqual([x["id"] for x in doc["cases"]], [b, a])   # newest first
        row = doc["cases"][1]
        self.assertEqual(row["text"], "我电话139****5678，孩子学校食堂太贵了")
        self.assertEqual((row["category"], row["category_name"]), ("education", "教育"))
        self.assertIn("confidence", row)
        self.assertNotIn("13912345678", str(doc))

        out = self.ctl("intents", "review")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(a, out.stdout)
        self.assertIn("139****5678", out.stdout)
        self.assertNotIn("13912345678", out.stdout)
        self.assertLess(out.stdout.index(b), out.stdout.index(a))
        self.assertIn("2 case(s) to review", out.stdout)

        self.assertEqual(self.label(a, "education")[0], 200)    # confirmed as it was
        status, doc = self.d.admin("/admin/intents/review?limit=10")
        self.assertEqual([x["id"] for x in doc["cases"]], [b])
        self.assertNotIn("category_corrected", self.history_events(a))  # nothing changed
        # training lines carry no phone numbers either
        lines = self.ctl("intents", "corrections").stdout.splitlines()
        self.assertEqual(lines, ["education\t我电话139****5678，孩子学校食堂太贵了"])
        self.assertEqual(self.d.admin("/admin/intents/review?limit=0")[0], 400)
