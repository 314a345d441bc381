#!/usr/bin/python3
"""The web console in a real browser (`make console-test`): Debian's
chromium, driven headless by drive.mjs (playwright-core from npm), against
the real mashangd with real Redis and Kannel (tests/e2e/harness.py).

One stack and one browser session cover the day's work of a station:
sign-in (a wrong token refused), a case opened by SMS on the board (and a
second one appearing there without a reload), reassigning it (the new
deputy gets an SMS), a category correction (kept as a training example),
an internal note, the second case withdrawn (resident and deputy told),
the statistics charts drawn from the API's numbers, the intents playground, an intent file edit (a broken pattern refused with
its line shown, a clean one saved, backed up and reloaded), a dead letter
retried alone and the rest all at once, no errors in the browser's
console, axe-core finding no serious accessibility violation on any page,
and the board usable on a phone-sized screen.  SCREENSHOTS=DIR keeps a
screenshot of each page (docs/console.md uses them)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

from harness import MASHANGCTL, REPO, StackCase, wait_until  # noqa: E402

NS = "{mashang}:"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = os.path.join(HERE, "drive.mjs")
R1, R2, R3 = "+8613800138031", "+8613800138032", "+8613800138033"
RETRIED = "【码上说】控制台重发测试"
RETRIED_ONE = "【码上说】控制台单条重发"
# SCREENSHOTS only: a few more cases, so the pictures show something
EXTRA = (("+8613800138041", "幸福社区垃圾站好几天没人清运了，味道很大"),
         ("+8613800138042", "光明街路口的红绿灯坏了，车和人都乱走"),
         ("+8613800138043", "幸福路菜市场门口占道经营，早上堵得走不动"))
LAMP = "幸福路12号的路灯坏了三天了，晚上走路看不见"
WATER = "光明村的自来水停了两天了，老人做饭都难"

with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
    PHONE = {d["id"]: d["phone"] for d in json.load(f)["deputies"]}


class ConsoleInBrowser(StackCase):

    def setUp(self):
        # the intent files the console edits: a scratch copy of intents/
        self.intents = tempfile.mkdtemp(prefix="console-intents-")
        self.addCleanup(shutil.rmtree, self.intents, True)
        src = os.path.join(REPO, "intents")
        for name in os.listdir(src):
            if name.endswith(".intents") or name == "model.conf":
                shutil.copy(os.path.join(src, name), self.intents)
        os.symlink(os.path.join(src, "train"), os.path.join(self.intents, "train"))
        self.overrides = {"intents": self.intents}
        for path, what in ((CHROMIUM, "chromium"),
                           (os.path.join(REPO, "node_modules", "playwright-core"), "playwright-core"),
                           (os.path.join(REPO, "console", "vendor", "echarts.min.js"), "echarts")):
            if not os.path.exists(path):
                self.fail("%s missing (%s): run scripts/console-deps.sh as root" % (what, path))
        super().setUp()
        self.d = self.stack.daemon
        self.r = self.stack.redis.client

    def open_case(self, phone, text):
        before = self.stack.mt_count(phone)
        self.stack.send_mo(phone, text)
        ack = self.stack.kannel.wait_mt(phone, "编号", timeout=15, after=before)
        cid = ack.split("编号", 1)[1][:5]
        self.assertRegex(cid, r"^M\d{4}$", ack)
        return cid

    def dead_letters(self):
        """Two messages that failed for good, as outbox_result.lua leaves them."""
        now_ms = int(time.time() * 1000)
        for oid, text in (("900", RETRIED), ("901", RETRIED_ONE)):
            self.r.hset(NS + "out:" + oid, mapping={
                "channel": "sms", "to": R3, "text": text, "case": "", "kind": "notify",
                "attempts": 8, "created": now_ms, "state": "dead", "last_error": "HTTP 503",
                "dead_at": now_ms})
            self.r.rpush(NS + "outbox:dead", oid)

    def wait_state(self, cid, state):
        wait_until(lambda: self.d.admin("/admin/cases/" + cid)[1].get("state") == state, 15,
                   "%s %s" % (cid, state))

    def screenshot_data(self):
        """More cases for the pictures of docs/console.md: other places and
        categories, one accepted, one resolved and rated."""
        ids = [self.open_case(phone, text) for phone, text in EXTRA]
        for cid, words in ((ids[0], ("接单 %s", "办结 %s 已通知环卫所清运")), (ids[1], ("接单 %s",))):
            dep = self.d.admin("/admin/cases/" + cid)[1]["deputy"]
            for w, state in zip(words, ("accepted", "resolved")):
                self.stack.send_mo(PHONE[dep], w % cid)
                self.wait_state(cid, state)
        self.stack.kannel.wait_mt(EXTRA[0][0], ids[0], timeout=15)
        self.stack.send_mo(EXTRA[0][0], "5")
        self.wait_state(ids[0], "closed")
        return len(ids)

    def test_a_day_at_the_console(self):
        shots = os.environ.get("SCREENSHOTS") or ""
        extra = self.screenshot_data() if shots else 0
        cid = self.open_case(R1, LAMP)
        case = self.d.admin("/admin/cases/" + cid)[1]
        old = case["deputy"]
        new = "D0008" if old != "D0008" else "D0007"
        self.dead_letters()
        env = dict(os.environ, CONSOLE_URL=self.d.url, CONSOLE_TOKEN=self.d.admin_token,
                   CASES_TOTAL=str(2 + extra),
                   CASE_ID=cid, NEW_DEPUTY=new, CHROMIUM=CHROMIUM, SCREENSHOTS=shots,
                   NODE_PATH=os.path.join(REPO, "node_modules"))
        drv = subprocess.Popen(["node", DRIVER], cwd=REPO, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        second = None
        result = None
        try:
            for line in drv.stdout:
                line = line.strip()
                print("drive:", line, flush=True)
                if line == "need: second-case":
                    # signed in: one session in Redis, with an expiry
                    keys = list(self.r.scan_iter(NS + "console:session:*"))
                    self.assertEqual(len(keys), 1)
                    self.assertTrue(0 < self.r.ttl(keys[0]) <= 28800)
                    # while the board is open: a new case by SMS, no reload
                    second = self.open_case(R2, WATER)
                    drv.stdin.write(second + "\n")
                    drv.stdin.flush()
                elif line.startswith("result: "):
                    result = json.loads(line[8:])
            rc = drv.wait(timeout=240)
        finally:
            if drv.poll() is None:
                drv.kill()
                drv.wait()
        self.assertEqual(rc, 0, "the browser driver failed (see its output above)")
        self.assertIsNotNone(result)
        self.assertIsNotNone(second)

        # what the browser did, seen from the server
        self.stack.kannel.wait_mt(PHONE[new], cid, timeout=15)
        case = self.d.admin("/admin/cases/" + cid)[1]
        self.assertEqual(case["deputy"], new)
        self.assertEqual(case["category"], result["corrected_to"])
        events = [(e["actor"], e["event"]) for e in case["history"]]
        self.assertIn(("admin", "category_corrected"), events)
        notes = [e["text"] for e in case["history"] if e["event"] == "note"]
        self.assertEqual(notes, [result["note"]])
        # the second case, withdrawn: off the deputy's queue, both told
        wd = self.d.admin("/admin/cases/" + second)[1]
        self.assertEqual(wd["state"], "withdrawn")
        self.assertIn(("admin", "withdrawn", "与另一案件重复"),
                      [(e["actor"], e["event"], e["text"]) for e in wd["history"]])
        self.stack.kannel.wait_mt(R2, "已由联络站撤销", timeout=15)
        self.stack.kannel.wait_mt(PHONE[wd["deputy"]], second + "（", timeout=15)
        self.assertIsNone(self.r.zscore(NS + "dq:" + wd["deputy"], second))
        # the same endpoints from mashangctl
        env = dict(os.environ, MASHANG_URL=self.d.url, MASHANG_ADMIN_TOKEN=self.d.admin_token)
        out = subprocess.run([MASHANGCTL, "cases", "note", cid, "居民来电补充：路灯杆也歪了"], env=env,
                             capture_output=True, text=True, timeout=10)
        self.assertEqual((out.returncode, out.stdout.strip()), (0, cid + " noted"), out.stderr)
        case = self.d.admin("/admin/cases/" + cid)[1]
        self.assertEqual([e["text"] for e in case["history"] if e["event"] == "note"][-1],
                         "居民来电补充：路灯杆也歪了")
        out = subprocess.run([MASHANGCTL, "cases", "withdraw", second, "再撤一次"], env=env,
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1, "withdrawn twice: %r" % (out,))
        self.assertIn("409", out.stderr)
        out = subprocess.run([MASHANGCTL, "outbox", "retry", "901"], env=env,
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1, "901 is no longer dead: %r" % (out,))
        self.assertIn("404", out.stderr)
        corr = self.d.admin("/admin/intents/corrections")[1]["corrections"]
        self.assertEqual([(c["case"], c["label"]) for c in corr], [(cid, result["corrected_to"])])
        self.assertEqual(self.r.llen(NS + "outbox:dead"), 0)
        self.stack.kannel.wait_mt(R3, "控制台单条重发", timeout=15)
        self.stack.kannel.wait_mt(R3, "控制台重发测试", timeout=15)
        # the session lives in Redis with an expiry, and sign-out removed it
        self.assertEqual(result["signed_out"], True)
        self.assertEqual(list(self.r.scan_iter(NS + "console:session:*")), [])
        # the clean edit was saved, the old file kept, and the set reloaded
        path = os.path.join(self.intents, result["intents_saved"])
        with open(path, encoding="utf-8") as f:
            self.assertIn("# 控制台编辑测试", f.read())
        with open(path + ".bak", encoding="utf-8") as f:
            self.assertNotIn("控制台编辑测试", f.read())
        with open(os.path.join(REPO, "intents", result["intents_saved"]), encoding="utf-8") as f:
            self.assertNotIn("控制台编辑测试", f.read())
        wait_until(lambda: "event=reloaded" in self.d.log, 30, "the daemon reloaded")
        self.assertNotIn(self.d.admin_token, self.d.log)
        self.check_sign_in_throttled()

    def sign_in(self, token):
        """POST /console/login from this host: (status, Location, Set-Cookie)."""
        import http.client
        import urllib.parse
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        try:
            conn.request("POST", "/console/login", urllib.parse.urlencode({"token": token}),
                         {"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("Location"), r.getheader("Set-Cookie")
        finally:
            conn.close()

    def check_sign_in_throttled(self):
        """Ten attempts a peer in ten minutes: then every one is refused,
        the right token too; a sign-in clears the count."""
        for key in self.r.scan_iter(NS + "console:login:*"):
            self.r.delete(key)
        for _ in range(10):
            status, where, _ = self.sign_in("guess")
            self.assertEqual((status, where), (303, "/console/?failed=1"))
        self.assertEqual(self.sign_in("guess")[0], 429)
        self.assertEqual(self.sign_in(self.d.admin_token)[0], 429)
        key = NS + "console:login:127.0.0.1"
        self.assertTrue(0 < self.r.ttl(key) <= 600)
        self.r.delete(key)
        status, where, cookie = self.sign_in(self.d.admin_token)
        self.assertEqual((status, where), (303, "/console/"))
        self.assertIn("mashang_session=", cookie)
        self.assertFalse(self.r.exists(key))


if __name__ == "__main__":
    unittest.main(verbosity=2)
