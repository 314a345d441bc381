"""Signed webhooks end to end (contract §3): POST /chat/{channel} and
POST /sms/http into mashangd, and the signed JSON POST that carries replies
to a chat channel's URL (a local recording server here).  Signatures are
made and checked by wechat_client.py's independent implementation."""

import json
import re
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Stack, case_failed, wait_until
from wechat_client import http, signed_webhook_headers, verify_webhook

LAMP = "幸福路12号的路灯坏了三天了"
CASE_RE = re.compile(r"M\d{4,}")
NS = "{mashang}:"
RELAY_SECRET = "relay-secret-1"
SMS_SECRET = "sms-http-secret"


class Recorder:
    """Records every POST (headers, raw body) and answers 200."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    rec.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, pred):
        with self.lock:
            return [p for p in self.posts if pred(p)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ChatCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rec = Recorder()
        cls.stack = Stack(overrides={
            "channels": {"chat": {
                "relay": {"secret": RELAY_SECRET, "url": cls.rec.url},
                "sms_http": {"secret": SMS_SECRET},
            }},
            "outbox": {"backoff_ms": 100, "poll_ms": 50},
        })
        try:
            cls.stack.start()
        except BaseException:
            cls.rec.close()
            raise
        cls.url = cls.stack.daemon.url
        cls.seq = int(time.time() * 1000)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop(check=False)
        finally:
            cls.rec.close()

    def tearDown(self):
        if case_failed(self):
            self.stack.dump_logs()

    def next_id(self):
        ChatCase.seq += 1
        return "m%d" % ChatCase.seq

    def post(self, path, body, secret=RELAY_SECRET, timestamp=None, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False)
        if isinstance(body, str):
            body = body.encode("utf-8")
        h = signed_webhook_headers(secret, body, timestamp) if headers is None else headers
        status, raw, _ = http("POST", self.url + path, body, h)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def test_signed_chat_message_opens_case_and_reply_is_posted_signed(self):
        user = "chat-user-1"
        status, res = self.post("/chat/relay", {"user": user, "text": LAMP, "id": self.next_id(),
                                                "time": int(time.time())})
        self.assertEqual(status, 200, res)
        self.assertEqual(res["status"], "stored")
        self.assertRegex(res["case"], CASE_RE)
        case = self.stack.redis.client.hgetall(NS + "case:" + res["case"])
        self.assertEqual((case["channel"], case["addr"]), ("chat:relay", user))

        def ack(p):
            try:
                j = json.loads(p["body"])
            except ValueError:
                return False
            return j.get("user") == user and res["case"] in j.get("text", "")
        posts = wait_until(lambda: self.rec.find(ack), 15, "the acknowledgement POST")
        p = posts[0]
        body = json.loads(p["body"])
        self.assertEqual(body["case"], res["case"])
        self.assertTrue(body["id"])
        self.assertTrue(p["headers"].get("Content-Type", "").startswith("application/json"))
        self.assertTrue(verify_webhook(RELAY_SECRET, p["headers"], p["body"]),
                        "outbound POST not signed correctly: %r" % p["headers"])
        self.assertFalse(verify_webhook("another-secret", p["headers"], p["body"]))

    def test_duplicate_id_is_stored_once(self):
        msg = {"user": "chat-user-dup", "text": LAMP, "id": self.next_id(), "time": int(time.time())}
        s1, r1 = self.post("/chat/relay", msg)
        s2, r2 = self.post("/chat/relay", msg)
        self.assertEqual((s1, r1["status"]), (200, "stored"))
        self.assertEqual((s2, r2["status"]), (200, "duplicate"))
        self.assertEqual(self.stack.redis.client.zcard(NS + "rcases:chat:relay:chat-user-dup"), 1)

    def test_bad_signature_and_stale_timestamp_are_403(self):
        msg = {"user": "chat-user-x", "text": LAMP, "id": self.next_id()}
        self.assertEqual(self.post("/chat/relay", msg, secret="wrong")[0], 403)
        stale = int(time.time()) - 1000
        self.assertEqual(self.post("/chat/relay", msg, timestamp=stale)[0], 403)
        self.assertEqual(self.post("/chat/relay", msg, headers={"Content-Type": "application/json"})[0], 403)
        # A valid signature over another body.
        h = signed_webhook_headers(RELAY_SECRET, b'{"user":"a","text":"b"}')
        self.assertEqual(self.post("/chat/relay", msg, headers=h)[0], 403)
        self.assertEqual(self.stack.redis.client.zcard(NS + "rcases:chat:relay:chat-user-x"), 0)

    def test_bad_bodies_are_400(self):
        for body in (b"{not json", b"[1,2]", json.dumps({"user": "u"}).encode(),
                     json.dumps({"text": "hi"}).encode(), json.dumps({"user": "u", "text": ""}).encode(),
                     b'{"user":"u","text":"\xff\xfe"}', b'{"user":"u","text":"a\\u0000b"}'):
            status, res = self.post("/chat/relay", body)
            self.assertEqual(status, 400, "%r -> %r" % (body, res))
            self.assertIn("error", res)

    def test_unknown_channel_is_404(self):
        self.assertEqual(self.post("/chat/nope", {"user": "u", "text": LAMP})[0], 404)

    def test_sms_http_opens_case_for_normalised_phone(self):
        status, res = self.post("/sms/http", {"from": "13800138555", "to": "10690001", "text": LAMP,
                                              "id": self.next_id(), "time": int(time.time())},
                                secret=SMS_SECRET)
        self.assertEqual(status, 200, res)
        self.assertRegex(res["case"], CASE_RE)
        case = self.stack.redis.client.hgetall(NS + "case:" + res["case"])
        self.assertEqual((case["channel"], case["addr"]), ("sms", "+8613800138555"))
        # The acknowledgement goes out by SMS (Kannel).
        self.stack.kannel.wait_mt("+8613800138555", res["case"], timeout=15)
        # Signed with the relay's secret instead: refused.
        status, _ = self.post("/sms/http", {"from": "13800138556", "text": LAMP}, secret=RELAY_SECRET)
        self.assertEqual(status, 403)
        status, _ = self.post("/sms/http", {"from": "not-a-phone", "text": LAMP}, secret=SMS_SECRET)
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
