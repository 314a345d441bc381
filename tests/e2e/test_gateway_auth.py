"""Gateway authentication (issue 13): only Kannel may speak for residents
and deputies at /sms/kannel, and only the report of a message's own send
counts at /sms/kannel/dlr.  Each attack is a test: a forged 办结 from a
deputy's number without the key, a delivery report with a guessed ref, a
caller outside channels.sms.allow.  The real path (fakesmsc -> bearerbox ->
smsbox -> mashangd, and sendsms -> dlr-url back) carries the key of
config/kannel/kannel.conf."""

import os
import re
import secrets
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import REPO, StackCase, http_get, wait_until

RESIDENT = "+8613800138000"
WANG = "+8613900000001"        # 王丽 D0412, S01 (幸福路)
LAMP = "幸福路12号的路灯坏了三天了"
MT_TIMEOUT = 15
P = "{mashang}:"


def shipped_key():
    """The key the dev Kannel config puts in its get-url."""
    with open(os.path.join(REPO, "config", "kannel", "kannel.conf"), encoding="utf-8") as f:
        m = re.search(r'^get-url\s*=.*[?&]key=([^&"\s]+)', f.read(), re.M)
    assert m, "config/kannel/kannel.conf: get-url carries no key="
    return m.group(1)


KEY = shipped_key()


class Gateway(StackCase):
    overrides = {"channels": {"sms": {"secret": KEY}}, "outbox": {"backoff_ms": 200}}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client
        self.url = self.stack.daemon.url

    def get(self, path, **params):
        return http_get(self.url + path + "?" + urllib.parse.urlencode(params))

    def open_lamp(self):
        """Resident reports through real Kannel; the case goes to 王丽."""
        mr, mw = self.stack.mt_count(RESIDENT), self.stack.mt_count(WANG)
        self.stack.send_mo(RESIDENT, LAMP)
        self.stack.kannel.wait_mt(RESIDENT, lambda t: "M1001" in t, timeout=MT_TIMEOUT, after=mr)
        self.stack.kannel.wait_mt(WANG, lambda t: "M1001" in t, timeout=MT_TIMEOUT, after=mw)

    def outbox(self):
        """{id: hash} of every outbox message."""
        out = {}
        for k in self.r.keys(P + "out:*"):
            out[k[len(P) + 4:]] = self.r.hgetall(k)
        return out

    def delivered(self):
        """Outbox messages whose report (through Kannel) said delivered."""
        return {i: h for i, h in self.outbox().items() if h.get("dlr") == "delivered"}


class TestGatewayKey(Gateway):

    def test_real_kannel_path_carries_the_key(self):
        self.open_lamp()
        # The MO came in with the key; each MT's report came back through
        # Kannel's dlr-url, with key and token, and was recorded.
        got = wait_until(lambda: len(self.delivered()) >= 2 and self.delivered(), MT_TIMEOUT,
                         "delivery reports through Kannel")
        for oid, h in got.items():
            self.assertRegex(h.get("dlr_token", ""), r"^[0-9a-f]{32}$", oid)
        self.assertNotIn("sms_gateway_refused", self.stack.daemon.log)
        # Tokens are per message: knowing one tells nothing of another.
        tokens = [h["dlr_token"] for h in self.outbox().values() if "dlr_token" in h]
        self.assertEqual(len(tokens), len(set(tokens)))
        # Neither the key nor a token is ever logged.
        self.assertNotIn(KEY, self.stack.daemon.log)
        for t in tokens:
            self.assertNotIn(t, self.stack.daemon.log)

    def test_forged_resolve_from_deputy_number_without_key_is_refused(self):
        self.open_lamp()
        before = self.r.hgetall(P + "case:M1001")
        hist = self.r.lrange(P + "hist:M1001", 0, -1)
        self.assertNotEqual(before.get("state"), "resolved")
        forged = {"from": WANG, "to": "10690001", "text": "办结 M1001 已更换灯泡", "id": "forged-1"}
        for extra in ({}, {"key": ""}, {"key": "wrong"}, {"key": KEY[:-1]}, {"key": KEY + "x"},
                      {"key": KEY.upper() if KEY.upper() != KEY else KEY.lower()}):
            status, body = self.get("/sms/kannel", **forged, **extra)
            self.assertEqual(status, 403, (extra, body))
        # POST (smsbox post-url form) is held to the same rule.
        status, _ = http_get_post(self.url + "/sms/kannel?" + urllib.parse.urlencode(
            {"from": WANG, "id": "forged-2"}), "办结 M1001 已更换灯泡".encode())
        self.assertEqual(status, 403)
        self.assertEqual(self.r.hgetall(P + "case:M1001"), before)
        self.assertEqual(self.r.lrange(P + "hist:M1001", 0, -1), hist)
        self.assertIn("sms_gateway_refused", self.stack.daemon.log)
        self.assertIn("reason=no_key", self.stack.daemon.log)
        self.assertIn("reason=wrong_key", self.stack.daemon.log)
        # The same request with the key is Kannel's, and is taken.
        status, body = self.get("/sms/kannel", **forged, key=KEY)
        self.assertEqual(status, 200, body)
        wait_until(lambda: self.r.lrange(P + "hist:M1001", 0, -1) != hist, 10, "the case moved")

    def test_walking_senders_without_key_opens_nothing(self):
        # The flood of the issue: a new `from` per request.  Bounded: 50.
        for i in range(50):
            status, _ = self.get("/sms/kannel", **{"from": "+86138%08d" % (10000000 + i),
                                                   "text": LAMP, "id": "flood-%d" % i})
            self.assertEqual(status, 403)
        self.assertEqual(self.r.keys(P + "case:*"), [])
        self.assertEqual(self.outbox(), {})

    def test_forged_delivery_report_with_guessed_ref_is_ignored(self):
        self.open_lamp()
        got = wait_until(lambda: len(self.delivered()) >= 2 and self.delivered(), MT_TIMEOUT,
                         "delivery reports through Kannel")
        before = self.outbox()
        for oid in got:
            # Without the key: refused at the door.
            status, _ = self.get("/sms/kannel/dlr", ref=oid, type=16)
            self.assertEqual(status, 403)
            # With the key (a leaked Kannel config) but a guessed or no token:
            # answered like an unknown message, nothing recorded.
            status, _ = self.get("/sms/kannel/dlr", ref=oid, type=16, key=KEY)
            self.assertEqual(status, 400)
            status, body = self.get("/sms/kannel/dlr", ref=oid, type=16, key=KEY,
                                    tok=secrets.token_hex(16))
            self.assertEqual((status, b'"unknown"' in body), (200, True), body)
            # Another message's token does not fit this one.
            other = next(h["dlr_token"] for i, h in before.items() if i != oid and "dlr_token" in h)
            status, body = self.get("/sms/kannel/dlr", ref=oid, type=16, key=KEY, tok=other)
            self.assertEqual((status, b'"unknown"' in body), (200, True), body)
        # Sequential refs, guessed: none of them changes anything.
        for ref in range(1, 30):
            self.get("/sms/kannel/dlr", ref=ref, type=2, key=KEY, tok="0" * 32)
        self.assertEqual(self.outbox(), before)
        # The genuine token still works (what Kannel sends).
        oid = next(iter(got))
        status, body = self.get("/sms/kannel/dlr", ref=oid, type=1, key=KEY,
                                tok=before[oid]["dlr_token"])
        self.assertEqual((status, b'"delivered"' in body), (200, True), body)


class TestAllowList(Gateway):
    overrides = {"channels": {"sms": {"secret": KEY, "allow": ["10.0.0.0/8", "fd00::/8"]}}}

    def test_peer_outside_allow_is_refused_even_with_the_key(self):
        status, body = self.get("/sms/kannel", **{"from": WANG, "text": "办结 M1001 已更换灯泡",
                                                  "id": "x1", "key": KEY})
        self.assertEqual(status, 403, body)
        status, _ = self.get("/sms/kannel/dlr", ref=1, type=1, key=KEY, tok="0" * 32)
        self.assertEqual(status, 403)
        self.assertEqual(self.r.keys(P + "case:*"), [])
        self.assertIn("sms_gateway_refused", self.stack.daemon.log)
        self.assertIn("reason=peer peer=127.0.0.1", self.stack.daemon.log)
        # Only the gateway paths are closed: the daemon itself answers.
        self.assertEqual(http_get(self.url + "/healthz")[0], 200)


def http_get_post(url, body):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "text/plain; charset=UTF-8"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


if __name__ == "__main__":
    unittest.main(verbosity=2)
