"""Replays, bounds and hostile log values, each probe as the test (issue 13):

* a signed chat webhook without an id, sent again after the 10 s dedupe
  window but inside its 300 s timestamp window, opens no second case;
* WeChat plaintext pushes with a stale timestamp are refused, and a
  captured (timestamp, nonce) cannot carry another body;
* identifiers that become key names are bounded (400 id_too_long, no key);
* attacker text (paths with quotes, tabs, ESC, CR; ids with newlines) cannot
  forge key=value fields or split lines of the daemon's log."""

import json
import re
import socket
import time
import unittest
import urllib.parse

from harness import Stack, SharedStackCase
from wechat_client import WeChatAccount, TV4_KEY, build_xml, http, signed_webhook_headers

LAMP = "幸福路12号的路灯坏了三天了"
NS = "{mashang}:"
RELAY_SECRET = "relay-secret-replay"
SMS_SECRET = "sms-http-secret-replay"
ID_MAX_LEN = 128          # src/base/util.h
DEDUPE_NO_ID_S = 10       # docs/redis.md: messages without an id, <addr>:<sha1(text)>


def openid(tag):
    return ("o" + tag + "x" * 28)[:28]


# ---- the log format, read back as a log reader would -----------------------

_FIELD = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\\x00-\x1f\x7f]|\\["\\nrt]|\\x[0-9a-f]{2})*"'
                    r'|[^\s"]*)(?: |$)')
_ESC = re.compile(r'\\(["\\nrt]|x[0-9a-f]{2})')


def _unescape(v):
    if not v.startswith('"'):
        return v
    def one(m):
        e = m.group(1)
        return {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}.get(e) or chr(int(e[1:], 16))
    return _ESC.sub(one, v[1:-1])


def parse_log_line(line):
    """[(key, value)] of one line, or raise ValueError when the line is not
    a clean sequence of key=value fields led by ts, level and event."""
    pos, fields = 0, []
    while pos < len(line):
        m = _FIELD.match(line, pos)
        if not m:
            raise ValueError("unparsable at %d: %r" % (pos, line))
        fields.append((m.group(1), _unescape(m.group(2))))
        pos = m.end()
    keys = [k for k, _ in fields]
    if keys[:3] != ["ts", "level", "event"]:
        raise ValueError("line does not start with ts level event: %r" % line)
    if len(set(keys)) != len(keys):
        raise ValueError("repeated key (a forged field): %r" % line)
    return fields


class ReplayChat(SharedStackCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(overrides={"channels": {"chat": {
            "relay": {"secret": RELAY_SECRET},
            "sms_http": {"secret": SMS_SECRET},
        }}})
        cls.stack.start()
        cls.url = cls.stack.daemon.url



    def post(self, path, body, headers):
        status, raw, _ = http("POST", self.url + path, body, headers)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def signed(self, body, secret=RELAY_SECRET):
        body = json.dumps(body, ensure_ascii=False).encode() if not isinstance(body, bytes) else body
        return body, signed_webhook_headers(secret, body)

    def test_replay_after_dedupe_window_opens_no_second_case(self):
        user = "replay-user-%d" % time.time_ns()
        body, h = self.signed({"user": user, "text": LAMP})          # no "id"
        phone = "1380013%04d" % (time.time_ns() % 10000)
        sbody, sh = self.signed({"from": phone, "to": "10690001", "text": LAMP}, SMS_SECRET)
        status, res = self.post("/chat/relay", body, h)
        self.assertEqual((status, res["status"]), (200, "stored"), res)
        status, sres = self.post("/sms/http", sbody, sh)
        self.assertEqual((status, sres["status"]), (200, "stored"), sres)
        rcases = NS + "rcases:chat:relay:" + user
        srcases = NS + "rcases:sms:+86" + phone
        self.assertEqual(self.redis.zcard(rcases), 1)
        self.assertEqual(self.redis.zcard(srcases), 1)

        time.sleep(DEDUPE_NO_ID_S + 1.5)   # the text dedupe has forgotten it
        # The attack: the captured request, byte for byte, still inside the
        # signature's 300 s window (and once more with the hex upper-cased).
        for hh in (h, dict(h, **{"X-Mashang-Signature": "sha256=" + h["X-Mashang-Signature"][7:].upper()})):
            status, again = self.post("/chat/relay", body, hh)
            self.assertEqual((status, again), (200, {"status": "duplicate"}))
        status, again = self.post("/sms/http", sbody, sh)
        self.assertEqual((status, again), (200, {"status": "duplicate"}))
        self.assertEqual(self.redis.zcard(rcases), 1)
        self.assertEqual(self.redis.zcard(srcases), 1)
        self.assertIn("event=webhook_replay", self.stack.daemon.log)

        # The sender itself re-signing (a new timestamp) is a new request:
        # only the replay window stopped the copy above.
        body2, h2 = body, signed_webhook_headers(RELAY_SECRET, body, int(time.time()) + 1)
        status, res2 = self.post("/chat/relay", body2, h2)
        self.assertEqual((status, res2["status"]), (200, "stored"), res2)

    def test_sixty_kb_user_id_is_400_and_leaves_no_key(self):
        huge = "u" * (60 * 1024)
        for path, doc, secret in (("/chat/relay", {"user": huge, "text": LAMP}, RELAY_SECRET),
                                  ("/chat/relay", {"user": "u-ok", "text": LAMP, "id": huge}, RELAY_SECRET),
                                  ("/sms/http", {"from": "13800138000", "to": huge, "text": LAMP}, SMS_SECRET)):
            body, h = self.signed(doc, secret)
            status, res = self.post(path, body, h)
            self.assertEqual(status, 400, res)
            self.assertEqual(res["error"], "id_too_long")
            self.assertIn("longer than %d bytes" % ID_MAX_LEN, res["detail"])
        # The bound is exact: ID_MAX_LEN bytes pass, one more does not.
        edge = "e%d-" % time.time_ns()
        body, h = self.signed({"user": edge.ljust(ID_MAX_LEN, "e"), "text": LAMP})
        self.assertEqual(self.post("/chat/relay", body, h)[0], 200)
        body, h = self.signed({"user": edge.ljust(ID_MAX_LEN + 1, "e"), "text": LAMP})
        self.assertEqual(self.post("/chat/relay", body, h)[0], 400)
        # Names in the URL too.
        body, h = self.signed({"user": "u", "text": LAMP})
        status, res = self.post("/chat/" + "c" * 200, body, h)
        self.assertEqual((status, res["error"]), (400, "id_too_long"))
        # Kannel's MO: the message id becomes {ns}:seen:sms:<id>.
        for field in ("id", "to"):
            q = {"from": "13800138000", "to": "10690001", "text": LAMP, "id": "k1"}
            q[field] = huge[:4000]
            status, raw, _ = http("GET", self.url + "/sms/kannel?" + urllib.parse.urlencode(q))
            self.assertEqual(status, 400, raw)
            self.assertEqual(json.loads(raw)["error"], "id_too_long")
        longest = max((len(k) for k in self.redis.scan_iter(count=1000)), default=0)
        self.assertLess(longest, 400, "a key name carries an unbounded id")
        self.assertFalse([k for k in self.redis.scan_iter(match="*uuuuuuuuuuuuuuuu*")])

    def test_hostile_values_cannot_forge_log_fields(self):
        hostile_path = b'/admin/x"\ty\x1b[31mz\rlevel=error event=forged'
        with socket.create_connection(("127.0.0.1", self.stack.daemon.port), timeout=5) as s:
            s.sendall(b"GET " + hostile_path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 4"), answer[:80])
        user = 'ev"\nts=2026-01-01T00:00:00.000Z level=error event=forged\t\x1b[2J' + str(time.time_ns())
        body, h = self.signed({"user": user, "text": LAMP})
        self.assertEqual(self.post("/chat/relay", body, h)[0], 200)
        body, h = self.signed({"user": "u", "text": LAMP})
        h["X-Mashang-Signature"] = "sha256=" + "0" * 64
        self.assertEqual(self.post("/chat/relay", body, h)[0], 403)
        time.sleep(0.3)

        log = self.stack.daemon.log
        self.assertTrue(log)
        seen_path = False
        for line in log.splitlines():
            fields = parse_log_line(line)     # raises on any forged or split line
            d = dict(fields)
            self.assertNotEqual(d["event"], "forged", line)
            self.assertIn(d["level"], ("debug", "info", "warn", "error"), line)
            if d["event"] == "admin_unauthorized":
                self.assertEqual(d["path"], hostile_path.decode())
                seen_path = True
        self.assertTrue(seen_path, "the hostile path was not logged")


class ReplayWeChat(SharedStackCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(overrides={"channels": {"wechat": {
            "main": {"appid": "wxmashangreplay01", "secret": "s", "token": "tok-replay",
                     "aes_key": TV4_KEY, "api_base": "http://127.0.0.1:9",
                     "accept_plaintext": True},
        }}})
        cls.stack.start()
        cls.url = cls.stack.daemon.url + "/wechat/main"
        cls.acct = WeChatAccount("tok-replay", TV4_KEY, "wxmashangreplay01", gh_id="gh_replay0000001")
        cls.msg_id = int(time.time() * 1000)



    def next_id(self):
        ReplayWeChat.msg_id += 1
        return ReplayWeChat.msg_id

    def cases(self, user):
        return self.redis.zcard(NS + "rcases:wechat:main:" + user)

    def test_stale_or_future_timestamp_is_refused(self):
        user = openid("stale")
        for skew in (-301 - 5, 301 + 5, -86400 * 30):
            for safe in (False, True):
                q, body = self.acct.text_push(user, LAMP, self.next_id(), safe=safe,
                                              timestamp=int(time.time()) + skew)
                status, reply = self.acct.post(self.url, q, body)
                self.assertEqual(status, 403, (skew, safe, reply))
                self.assertIn(b"stale_timestamp", reply)
        q = self.acct.verify_query(timestamp=int(time.time()) - 400)
        self.assertEqual(self.acct.get(self.url, q)[0], 403)
        self.assertEqual(self.cases(user), 0)
        # Inside the window it is accepted.
        q, body = self.acct.text_push(user, LAMP, self.next_id(), timestamp=int(time.time()) - 200)
        self.assertEqual(self.acct.post(self.url, q, body)[0], 200)
        self.assertEqual(self.cases(user), 1)

    def test_replayed_timestamp_and_nonce_cannot_carry_another_body(self):
        user, forger = openid("victim"), openid("forger")
        q, body = self.acct.text_push(user, LAMP, self.next_id())
        status, reply = self.acct.post(self.url, q, body)
        self.assertEqual(status, 200)
        first = self.acct.parse_reply(reply, q)["Content"]
        # The attack: the captured signed query string with a body of one's own.
        for who, text in ((forger, "学校门口的下水道堵了"), (user, "我要投诉光明村的噪音")):
            fake = self.acct.text_xml(who, text, self.next_id())
            status, reply = self.acct.post(self.url, q, fake)
            self.assertEqual(status, 403, reply)
            self.assertIn(b"replayed", reply)
        self.assertEqual(self.cases(forger), 0)
        self.assertEqual(self.cases(user), 1)
        # The same push again (WeChat's own retry) is answered as before, once.
        status, reply = self.acct.post(self.url, q, body)
        self.assertEqual((status, self.acct.parse_reply(reply, q)["Content"]), (200, first))
        self.assertEqual(self.cases(user), 1)
        # Safe mode: the same (timestamp, nonce) with another envelope.
        q2, body2 = self.acct.text_push(openid("safe1"), LAMP, self.next_id(), safe=True)
        self.assertEqual(self.acct.post(self.url, q2, body2)[0], 200)
        q3, body3 = self.acct.text_push(openid("safe2"), LAMP, self.next_id(), safe=True,
                                        timestamp=q2["timestamp"], nonce=q2["nonce"])
        self.assertEqual(self.acct.post(self.url, q3, body3)[0], 403)
        self.assertEqual(self.cases(openid("safe2")), 0)

    def test_captured_url_verification_cannot_carry_a_push(self):
        # A URL verification is signed over (token, timestamp, nonce) exactly
        # like a plaintext push, so its query string must not outlive it.
        user = openid("verify")
        q = self.acct.verify_query("77001")
        self.assertEqual(self.acct.get(self.url, q), (200, b"77001"))
        # WeChat asking again with the very same query is answered again.
        self.assertEqual(self.acct.get(self.url, q), (200, b"77001"))
        # The same signature with another echostr, or carrying a push: refused.
        other = dict(q, echostr="77002")
        status, reply = self.acct.get(self.url, other)
        self.assertEqual(status, 403, reply)
        push_q = {k: v for k, v in q.items() if k != "echostr"}
        body = self.acct.text_xml(user, LAMP, self.next_id())
        status, reply = self.acct.post(self.url, push_q, body)
        self.assertEqual(status, 403, reply)
        self.assertIn(b"replayed", reply)
        self.assertEqual(self.cases(user), 0)

    def test_long_openid_msgid_and_account_are_400(self):
        long_id = "o" + "x" * 300
        q, body = self.acct.text_push(long_id, LAMP, self.next_id())
        status, reply = self.acct.post(self.url, q, body)
        self.assertEqual(status, 400, reply)
        self.assertIn(b"id_too_long", reply)
        fields = [("ToUserName", "gh_replay0000001"), ("FromUserName", openid("longmsg")),
                  ("CreateTime", int(time.time())), ("MsgType", "text"), ("Content", LAMP),
                  ("MsgId", "9" * 200)]
        q, _ = self.acct.text_push(openid("longmsg"), LAMP, self.next_id())
        status, reply = self.acct.post(self.url, q, build_xml(fields))
        self.assertEqual(status, 400, reply)
        q, body = self.acct.text_push(openid("acct"), LAMP, self.next_id())
        status, reply = self.acct.post(self.stack.daemon.url + "/wechat/" + "a" * 200, q, body)
        self.assertEqual(status, 400, reply)
        q, body = self.acct.text_push(openid("nonce"), LAMP, self.next_id(), nonce="n" * 200)
        self.assertEqual(self.acct.post(self.url, q, body)[0], 400)
        self.assertFalse([k for k in self.redis.scan_iter(match="*xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx*")])
        self.assertEqual(self.cases(openid("longmsg")), 0)


if __name__ == "__main__":
    unittest.main()
