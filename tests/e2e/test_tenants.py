"""Several counties in one daemon (config "tenants", docs/scaling.md), on one
real Redis and real Kannel: each county's residents write to its own
service number, its own deputies answer, its keys carry its own hash tag,
and an administrator of one county sees nothing of another.  A reload adds
a county without a restart."""
import copy
import json
import os
import re
import time
import unittest
import urllib.parse

from harness import (MASHANGCTL, REPO, SLOW, Daemon, Kannel, Redis, case_failed, dump_logs,
                     free_port, http_get, wait_until)
from wechat_client import http, signed_webhook_headers

CHUNAN, LINPING = "10690001", "10690002"
RESIDENT = "+8613800138000"
NEIGHBOUR = "+8613800138222"
DEPUTY = "+8613900000001"          # 王丽 in 淳安's roster
LINPING_DEPUTY = "+8613900000501"  # her counterpart in 临平's
LAMP = "幸福路12号的路灯坏了三天了"
CHUNAN_TOKEN = "chunan-admin-token-0001"
LINPING_TOKEN = "linping-admin-token-0001"
RATING_REQUEST = re.compile(r"1\s*[-－~～至到]\s*5")


def county_roster(path, suffix, name):
    """config/deputies.json with other people: phones +86139000005xx."""
    with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
        roster = json.load(f)
    for d in roster["deputies"]:
        if d.get("phone"):
            d["phone"] = "+86139000005" + d["phone"][-2:]
        d["name"] = d["name"] + suffix
    roster["committee"]["name"] = name + "人大常委会代表工委"
    roster["committee"]["phone"] = "+8613900000599"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(roster, f, ensure_ascii=False)
    return path


class TenantsCase(unittest.TestCase):
    def setUp(self):
        self.redis = Redis().start()
        self.port = free_port()
        self.kannel = Kannel(app_url="http://127.0.0.1:%d" % self.port).start()
        self.daemon = Daemon(self.redis, self.kannel, port=self.port, log_level="info")
        linping_roster = county_roster(os.path.join(self.daemon.dir, "linping.json"), "（临平）", "临平区")
        cfg = self.daemon.config
        for per_tenant in ("namespace", "roster"):
            cfg.pop(per_tenant, None)
        cfg["channels"]["chat"] = {"linping-app": {"secret": "linping-app-secret-1"},
                                   "orphan": {"secret": "orphan-secret-1"}}
        cfg["tenants"] = [
            {"id": "chunan", "name": "淳安县", "namespace": "chunan",
             "roster": os.path.join(REPO, "config", "deputies.json"),
             "numbers": [CHUNAN], "admin_token": CHUNAN_TOKEN},
            {"id": "linping", "name": "临平区", "case_prefix": "LP",
             "roster": linping_roster, "numbers": ["+86" + LINPING], "chat": ["linping-app"],
             "admin_token": LINPING_TOKEN},
        ]
        self.daemon.start()

    def tearDown(self):
        if case_failed(self):
            dump_logs(self.daemon, self.kannel, self.redis)
        try:
            self.kannel.stop(check=False)
            self.daemon.stop(timeout=5)
        finally:
            self.redis.kill()

    def say(self, sender, to, text):
        marks = {n: len(self.kannel.mts(n)) for n in (RESIDENT, NEIGHBOUR, DEPUTY, LINPING_DEPUTY)}
        self.kannel.send_mo(sender, to, text)
        return marks

    def expect(self, to, marks, *needles, pattern=None):
        ok = lambda t: all(n in t for n in needles) and (pattern is None or pattern.search(t))
        return self.kannel.wait_mt(to, ok, timeout=15, after=marks[to])

    def senders_to(self, number):
        return {m.sender for m in self.kannel.mt_records(number)}

    def mo_get(self, to, text=LAMP, sender="+8613800139999", msg_id="x-1"):
        q = urllib.parse.urlencode({"from": sender, "to": to, "text": text, "id": msg_id})
        code, body = http_get("%s/sms/kannel?%s" % (self.daemon.url, q), timeout=10)
        return code, body.decode("utf-8", "replace")


class TestTwoCounties(TenantsCase):
    def conversation(self, to, deputy, case, name):
        m = self.say(RESIDENT if to == CHUNAN else NEIGHBOUR, to, LAMP)
        resident = RESIDENT if to == CHUNAN else NEIGHBOUR
        ack = self.expect(resident, m, "编号" + case)
        self.assertIn(name, ack)
        self.expect(deputy, m, case)
        m = self.say(deputy, to, "接单 " + case)
        self.expect(resident, m, case)
        m = self.say(deputy, to, "办结 %s 已更换灯泡" % case)
        self.expect(resident, m, "已更换灯泡")
        self.expect(resident, m, pattern=RATING_REQUEST)
        self.say(resident, to, "5")

    def test_each_county_carries_the_conversation_apart(self):
        self.conversation(CHUNAN, DEPUTY, "M1001", "王丽")
        self.conversation(LINPING, LINPING_DEPUTY, "LP1001", "王丽（临平）")
        r = self.redis.client
        wait_until(lambda: r.hget("{chunan}:case:M1001", "state") == "closed", 10 * SLOW, "淳安 closed")
        wait_until(lambda: r.hget("{linping}:case:LP1001", "state") == "closed", 10 * SLOW, "临平 closed")
        # Each county's keys carry its own hash tag, and only those.
        tags = {k.split("}")[0] + "}" for k in r.scan_iter(count=1000) if k.startswith("{")}
        self.assertEqual(tags, {"{chunan}", "{linping}"})
        self.assertFalse(r.exists("{chunan}:case:LP1001") or r.exists("{linping}:case:M1001"))
        # Each county answers from its own number.
        self.assertEqual(self.senders_to(RESIDENT), {CHUNAN})
        self.assertEqual(self.senders_to(NEIGHBOUR), {LINPING})
        self.assertEqual(self.senders_to(LINPING_DEPUTY), {LINPING})

    def test_a_deputy_of_one_county_cannot_touch_anothers_case(self):
        m = self.say(RESIDENT, CHUNAN, LAMP)
        self.expect(RESIDENT, m, "编号M1001")
        # 临平's 王丽 writes to 临平's number about 淳安's case: unknown there.
        m = self.say(LINPING_DEPUTY, LINPING, "接单 M1001")
        self.kannel.wait_mt(LINPING_DEPUTY, lambda t: "M1001" in t, timeout=15,
                            after=m[LINPING_DEPUTY])
        self.assertEqual(self.redis.client.hget("{chunan}:case:M1001", "state"), "assigned")

    def test_a_message_for_no_county_is_refused_and_logged(self):
        code, body = self.mo_get("10690009")
        self.assertEqual(code, 404)
        self.assertIn("no_tenant", body)
        self.assertIn("reason=no_tenant", self.daemon.log)
        # A sub-number a gateway appends stays with its number; the
        # international form finds the county too.
        self.assertEqual(self.mo_get(CHUNAN + "23", msg_id="x-2")[0], 200)
        self.assertEqual(self.mo_get("+86" + LINPING, msg_id="x-3")[0], 200)
        r = self.redis.client
        wait_until(lambda: r.exists("{chunan}:case:M1001") and r.exists("{linping}:case:LP1001"),
                   10 * SLOW, "one case in each county")
        # A chat channel is its county's; one no county lists is refused.
        for channel, secret, want in (("linping-app", "linping-app-secret-1", 200),
                                      ("orphan", "orphan-secret-1", 404)):
            body = json.dumps({"user": "app-user-1", "text": LAMP, "id": "c-" + channel,
                               "time": int(time.time())}, ensure_ascii=False).encode()
            status, raw, _ = http("POST", "%s/chat/%s" % (self.daemon.url, channel), body,
                                  signed_webhook_headers(secret, body))
            self.assertEqual(status, want, raw)
        wait_until(lambda: r.exists("{linping}:case:LP1002"), 10 * SLOW, "the app's case in 临平")
        self.assertIn("channel=chat:orphan reason=no_tenant", self.daemon.log)
        # A delivery report must name a county this daemon serves.
        q = urllib.parse.urlencode({"ref": "1", "type": "1", "tok": "0" * 32, "t": "nowhere"})
        code, raw = http_get("%s/sms/kannel/dlr?%s" % (self.daemon.url, q), timeout=10)
        self.assertEqual(code, 404, raw)
        self.assertIn(b"no_tenant", raw)

    def test_admin_tokens_see_their_county_only(self):
        self.conversation(CHUNAN, DEPUTY, "M1001", "王丽")
        m = self.say(NEIGHBOUR, LINPING, LAMP)
        self.expect(NEIGHBOUR, m, "编号LP1001")
        d = self.daemon
        # A county's token: its own cases, the county named in the answer.
        code, body = d.admin("/admin/cases", token=CHUNAN_TOKEN)
        self.assertEqual(code, 200)
        self.assertEqual(body["tenant"], "chunan")
        ids = json.dumps(body)
        self.assertIn("M1001", ids)
        self.assertNotIn("LP1001", ids)
        self.assertEqual(d.admin("/admin/cases/LP1001", token=CHUNAN_TOKEN)[0], 404)
        self.assertEqual(d.admin("/admin/tenants/linping/cases", token=CHUNAN_TOKEN)[0], 404)
        self.assertEqual(d.admin("/admin/tenants/nowhere/cases", token=CHUNAN_TOKEN)[0], 404)
        code, body = d.admin("/admin/tenants", token=LINPING_TOKEN)
        self.assertEqual([t["id"] for t in body["tenants"]], ["linping"])
        code, body = d.admin("/admin/stats", token=LINPING_TOKEN)
        self.assertEqual((code, body.get("tenant")), (200, "linping"))
        self.assertEqual(d.admin("/admin/cases", token="wrong-token-0000000")[0], 401)
        # The shared intents are not one county's to edit.
        code, body = d.admin("/admin/intents/save", method="POST", token=LINPING_TOKEN,
                             body={"file": "x.intents", "text": ""})
        self.assertEqual((code, body["error"]), (403, "shared_intents"))
        # The top-level token sees every county, naming the one it asks.
        code, body = d.admin("/admin/tenants")
        self.assertEqual([t["id"] for t in body["tenants"]], ["chunan", "linping"])
        self.assertEqual(body["tenants"][0]["name"], "淳安县")
        code, body = d.admin("/admin/cases")
        self.assertEqual((code, body["error"]), (400, "tenant_required"))
        code, body = d.admin("/admin/tenants/linping/cases/LP1001")
        self.assertEqual((code, body["tenant"]), (200, "linping"))
        # mashangctl names the county for the top-level token.
        import subprocess
        env = dict(os.environ, MASHANG_URL=d.url, MASHANG_ADMIN_TOKEN=d.admin_token)
        out = subprocess.run([MASHANGCTL, "cases", "show", "LP1001", "--json", "--tenant", "linping"],
                             env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["tenant"], "linping")
        out = subprocess.run([MASHANGCTL, "tenants"], env=env, capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("淳安县", out.stdout)
        self.assertRegex(out.stdout, r"linping\s+临平区\s+linping\s+LP\s+10690002\s+up")
        # /metrics: the gauges per county.
        text = http_get(d.url + "/metrics")[1].decode()
        self.assertIn('mashang_cases{tenant="chunan",state="closed"} 1', text)
        self.assertIn('mashang_cases{tenant="linping",state="assigned"} 1', text)
        # The console is a county's: its token opens it on that county alone.
        self.assertEqual(self.console_cases("top-level"), None)
        body = self.console_cases(LINPING_TOKEN)
        self.assertEqual(body["tenant"], "linping")
        self.assertIn("LP1001", json.dumps(body))
        self.assertNotIn("M1001", json.dumps(body))

    def console_cases(self, token):
        """Signs in to the console with `token` and reads /admin/cases with
        the session cookie; None when the sign-in is refused."""
        import http.cookiejar
        import urllib.error
        import urllib.request
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        data = urllib.parse.urlencode({"token": token if token != "top-level"
                                       else self.daemon.admin_token}).encode()
        with opener.open(self.daemon.url + "/console/login", data=data, timeout=5) as r:
            if "failed=1" in r.geturl():
                return None
        cookies = [c for c in jar if c.name == "mashang_session"]
        self.assertEqual(len(cookies), 1)
        self.assertTrue(cookies[0].value.startswith("linping."), cookies[0].value)
        with opener.open(self.daemon.url + "/console/session", timeout=5) as r:
            csrf = json.loads(r.read())["csrf"]
        # A county's session cannot change the intents every county shares.
        req = urllib.request.Request(self.daemon.url + "/admin/intents/save", method="POST",
                                     data=b'{"file": "x.intents", "text": ""}',
                                     headers={"X-CSRF-Token": csrf,
                                              "Content-Type": "application/json"})
        try:
            opener.open(req, timeout=5)
            self.fail("a county's console saved the shared intents")
        except urllib.error.HTTPError as e:
            self.assertEqual((e.code, json.loads(e.read())["error"]), (403, "shared_intents"))
        with opener.open(self.daemon.url + "/admin/cases", timeout=5) as r:
            return json.loads(r.read())

    def test_reload_adds_a_county_and_refuses_to_drop_one(self):
        d = self.daemon
        cfg = copy.deepcopy(d.config)
        cfg["tenants"].append({"id": "xiangtan", "name": "湘潭县", "case_prefix": "XT",
                               "roster": os.path.join(REPO, "config", "deputies.json"),
                               "numbers": ["10690003"]})
        d.config = cfg
        d.write_config()
        self.assertEqual(self.mo_get("10690003")[0], 404)
        self.assertEqual(d.admin("/admin/reload", method="POST")[0], 202)
        # Each worker adds the county and connects its store; until then a
        # message for it is answered 503 (starting), as at a start, and the
        # gateway retries.
        wait_until(lambda: d.log.count("event=tenant_added") >= d.workers() and
                   d.log.count("ns=xiangtan") >= d.workers(), 15 * SLOW,
                   "the county added and connected")
        self.assertEqual(self.mo_get("10690003", msg_id="r-1")[0], 200)
        ack = self.kannel.wait_mt("+8613800139999", lambda t: "编号XT1001" in t, timeout=15)
        self.assertIn("XT1001", ack)
        self.assertEqual(self.senders_to("+8613800139999"), {"10690003"})
        # Dropping a county would strand its cases mid-flight: refused, kept.
        cfg = copy.deepcopy(d.config)
        cfg["channels"]["chat"] = {"linping-app": {"secret": "linping-app-secret-1"},
                                   "orphan": {"secret": "orphan-secret-1"}}
        cfg["tenants"] = [t for t in cfg["tenants"] if t["id"] != "linping"]
        d.config = cfg
        d.write_config()
        self.assertEqual(d.admin("/admin/reload", method="POST")[0], 202)
        wait_until(lambda: "kept=previous" in d.log, 10 * SLOW, "the reload refused")
        self.assertIn("tenant linping was removed", d.log)
        self.assertEqual(self.mo_get(LINPING, msg_id="r-2")[0], 200)


class TestTenantsConfig(unittest.TestCase):
    """Problems of a tenants config are named before anything starts."""

    def check(self, tenants, extra=None):
        r = Redis()
        k = Kannel()
        d = Daemon(r, k, port=free_port())
        for per_tenant in ("namespace", "roster"):
            d.config.pop(per_tenant, None)
        d.config["tenants"] = tenants
        d.config.update(extra or {})
        d.write_config()
        import subprocess
        out = subprocess.run([d.binary, "--check", "-c", d.config_path], capture_output=True,
                             text=True, timeout=60)
        return out.returncode, out.stdout + out.stderr

    def test_claims_and_names_are_checked(self):
        roster = os.path.join(REPO, "config", "deputies.json")
        rc, out = self.check([
            {"id": "a", "roster": roster, "numbers": ["10690001"]},
            {"id": "a", "roster": roster, "numbers": ["10690001", "12x"], "wechat": ["nope"]},
        ])
        self.assertEqual(rc, 1)
        self.assertIn("$.tenants[1].id: duplicate tenant id", out)
        self.assertIn("$.tenants[1].namespace: namespace \"a\" is also $.tenants[0]'s", out)
        self.assertIn("$.tenants[1].numbers[1]: expected service numbers", out)
        self.assertIn("$.tenants[1].numbers: \"10690001\" also belongs to $.tenants[0]", out)
        rc, out = self.check([{"id": "b", "roster": roster, "wechat": ["nope"]}])
        self.assertEqual(rc, 1)
        self.assertIn("$.tenants[0].wechat[0]: no channels.wechat.nope is configured", out)
        rc, out = self.check([{"id": "c", "roster": roster}], {"roster": roster})
        self.assertEqual(rc, 1)
        self.assertIn("$.roster: is set per tenant", out)
        rc, out = self.check([{"id": "d", "roster": roster, "numbers": ["10690001"]},
                              {"id": "e", "roster": roster, "numbers": ["10690002"]}])
        self.assertEqual(rc, 0, out)
        self.assertIn("2 tenant(s)", out)


if __name__ == "__main__":
    unittest.main()
