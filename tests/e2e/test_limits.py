"""Limits and hostile input on the inbound side (contract §3 Bad input,
issue: limits and security): body size, malformed input, invalid UTF-8,
per-sender flood, an auto-responder repeating itself, slow clients, and
the admin API without its token."""

import http.client
import socket
import time
import unittest
import urllib.parse

from harness import StackCase, wait_until

RESIDENT = "+8613800138000"


class Limits(StackCase):

    overrides = {"limits": {"sender_per_minute": 3, "body_max": 4096}}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client
        self.port = self.stack.daemon.port

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def mo(self, sender, text, mid):
        q = urllib.parse.urlencode({"from": sender, "to": "10690001", "text": text, "id": mid})
        return self.request("GET", "/sms/kannel?" + q)

    def test_oversized_body_is_413(self):
        status, _ = self.request("POST", "/sms/kannel?from=13800138000&id=big", body=b"x" * 10000,
                                 headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 413)
        self.assertEqual(self.r.zcard("{mashang}:cases"), 0)

    def test_bad_input_is_400_with_json_and_nothing_half_stored(self):
        for path in ("/sms/kannel?from=13800138000&text=%FF%FE&id=u1",      # invalid UTF-8
                     "/sms/kannel?from=13800138000&text=abc%G1&id=u2",      # bad escape
                     "/sms/kannel?from=not-a-phone&text=hi&id=u3",
                     "/sms/kannel?from=13800138000&id=u4",                  # no text
                     "/sms/kannel?from=13800138000&text=%00%00&id=u5&charset=UTF-16BE"):
            status, body = self.request("GET", path)
            self.assertEqual(status, 400, path)
            self.assertIn(b'"error"', body)
        self.assertEqual(self.r.zcard("{mashang}:cases"), 0)
        self.assertEqual(list(self.r.scan_iter(match="{mashang}:seen:*")), [])
        status, _ = self.request("GET", "/nowhere")
        self.assertEqual(status, 404)
        status, _ = self.request("PUT", "/sms/kannel")
        self.assertIn(status, (405, 501))   # evhttp refuses methods it was not allowed

    def test_flood_from_one_sender_is_answered_once_and_kept(self):
        for i in range(5):
            self.assertEqual(self.mo(RESIDENT, "第%d件事：光明街路灯坏了" % i, "f%d" % i)[0], 200)
        wait_until(lambda: any("太频繁" in t for t in self.stack.kannel.mts(RESIDENT)), 15,
                   "the polite answer")
        time.sleep(1)
        self.assertEqual(self.r.zcard("{mashang}:cases"), 3)
        kept = self.r.lrange("{mashang}:limited:sms:%s" % RESIDENT, 0, -1)
        self.assertEqual(len(kept), 2)
        self.assertEqual(sum("太频繁" in t for t in self.stack.kannel.mts(RESIDENT)), 1)

    def test_repeating_auto_responder_is_ignored(self):
        other = "+8613800138333"
        for i in range(3):
            self.mo(other, "【自动回复】您好，我现在不方便接听", "loop%d" % i)
        # same text again: a loop, not a new concern
        for i in range(3, 6):
            self.assertEqual(self.mo(other, "【自动回复】您好，我现在不方便接听", "loop%d" % i)[0], 200)
        time.sleep(1)
        owned = self.r.zcard("{mashang}:rcases:sms:%s" % other)
        self.assertLessEqual(owned, 3)
        log = self.stack.daemon.log
        self.assertIn("action=loop_ignored", log)

    def test_slow_client_cannot_hold_a_worker(self):
        # a client that sends half a request and stalls...
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"GET /sms/kannel?from=1380013")
        # ...while others are served
        t0 = time.time()
        self.assertEqual(self.mo("+8613800138444", "幸福路12号的路灯坏了三天了", "slow1")[0], 200)
        self.assertLess(time.time() - t0, 2)
        s.close()

    def test_admin_needs_the_token_and_never_logs_it(self):
        status, _ = self.request("GET", "/admin/cases")
        self.assertEqual(status, 401)
        status, _ = self.request("GET", "/admin/cases", headers={"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)
        token = self.stack.daemon.admin_token
        status, _ = self.request("GET", "/admin/cases", headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200)
        self.assertNotIn(token, self.stack.daemon.log)
        self.assertNotIn("13800138000", self.stack.daemon.log)


if __name__ == "__main__":
    unittest.main()
