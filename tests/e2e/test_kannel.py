"""Harness self-test: our config/kannel/kannel.conf against real Kannel,
without mashangd.  A small HTTP server stands in for the application at the
sms-service get-url and replies through sendsms the way mashangd must.
Facts checked here are the ones shared/notes/kannel.md states."""

import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Kannel, dump_logs, case_failed

LAMP = "幸福路12号的路灯坏了三天了"
LONG_MO = ("幸福路12号的路灯坏了三天了，晚上出门很不安全，老人和孩子已经摔倒过两次。"
           "希望有关部门尽快派人来修理一下，另外小区门口的下水道也堵了好几天，气味很大！谢谢😀")
LONG_MT = ("【码上说】您反映的幸福路12号路灯问题已由王丽代表（幸福社区代表联络站）接单办理，"
           "编号M1001。代表已联系路灯所，预计三日内更换灯泡。办结后请回复1-5评价（5为非常满意），"
           "回复\"查询\"可随时查看进度。")


class StandIn:
    """The application's place at the get-url: records every request
    (query with raw bytes, so a wrong charset shows), answers with the status
    returned by `respond(query)` (default 200), optionally replying via sendsms."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.respond = lambda q: 200
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                # latin-1 keeps the raw percent-decoded bytes recoverable
                q = {k: v[0] for k, v in urllib.parse.parse_qs(
                    parts.query, keep_blank_values=True, encoding="latin-1").items()}
                q = {k: v.encode("latin-1") for k, v in q.items()}
                q["_path"] = parts.path
                with stand_in.lock:
                    stand_in.requests.append(q)
                status = stand_in.respond(q)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def matching(self, path="/sms/kannel", **want):
        with self.lock:
            reqs = list(self.requests)
        return [q for q in reqs if q["_path"] == path and
                all(q.get(k) == (v.encode() if isinstance(v, str) else v) for k, v in want.items())]

    def wait(self, count=1, timeout=10, path="/sms/kannel", **want):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.matching(path, **want)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError("stand-in got %d of %d requests %s %r; all: %r"
                             % (len(self.matching(path, **want)), count, path, want, self.requests))


class KannelCase(unittest.TestCase):
    mo_recode = True

    @classmethod
    def setUpClass(cls):
        cls.app = StandIn()
        cls.kannel = Kannel(app_url=cls.app.url, mo_recode=cls.mo_recode)
        try:
            cls.kannel.start()
        except BaseException:
            cls.app.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.kannel.stop()
        finally:
            cls.app.close()

    def tearDown(self):
        if case_failed(self):
            dump_logs(self.kannel)


class TestKannelConf(KannelCase):

    def test_chinese_mo_arrives_as_utf8(self):
        self.kannel.send_mo("+8613800138001", "10690001", LAMP)
        q = self.app.wait(**{"from": "+8613800138001"})[0]
        self.assertEqual(q["text"].decode("utf-8"), LAMP)
        self.assertEqual(q["coding"], b"0")
        self.assertEqual(q["charset"], b"UTF-8")
        self.assertEqual(q["to"], b"10690001")
        self.assertEqual(q["smsc"], b"fake")
        self.assertRegex(q["id"].decode(), r"^[0-9a-f-]{36}$")
        self.assertTrue(q["ts"].isdigit())

    def test_long_concatenated_mo_is_reassembled(self):
        self.assertGreater(len(LONG_MO), 70)
        self.kannel.send_mo("+8613800138002", "10690001", LONG_MO)
        reqs = self.app.wait(**{"from": "+8613800138002"})
        time.sleep(0.3)  # a stray unassembled part would show up as a second request
        reqs = self.app.matching(**{"from": "+8613800138002"})
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["text"].decode("utf-8"), LONG_MO)
        self.assertEqual(reqs[0]["charset"], b"UTF-8")

    def test_ascii_mo_keeps_spaces_plus_and_percent(self):
        text = "asdf qwer +1 100% a&b=c"
        self.kannel.send_mo("+8613800138003", "10690001", text)
        q = self.app.wait(**{"from": "+8613800138003"})[0]
        self.assertEqual(q["text"].decode("utf-8"), text)

    def test_reply_via_sendsms_long_chinese_arrives_intact(self):
        def respond(q):
            if q.get("from") == b"+8613800138004":
                status, body = self.kannel.sendsms(q["from"].decode(), LONG_MT)
                self.assertEqual(status, 202, body)
            return 200
        self.app.respond = respond
        try:
            self.kannel.send_mo("+8613800138004", "10690001", "查询")
            text = self.kannel.wait_mt("+8613800138004", timeout=10)
        finally:
            self.app.respond = lambda q: 200
        self.assertEqual(text, LONG_MT)
        rec = self.kannel.mt_records("+8613800138004")[0]
        self.assertGreater(rec.parts, 1)  # proves concatenation = true / max-messages
        self.assertEqual(rec.sender, "10690001")

    def test_short_mt_is_ucs2(self):
        status, _ = self.kannel.sendsms("+8613800138005", "您好 hello！")
        self.assertEqual(status, 202)
        self.assertEqual(self.kannel.wait_mt("13800138005"), "您好 hello！")

    def test_failed_delivery_is_retried_with_the_same_id(self):
        seen = []

        def respond(q):
            if q.get("from") == b"+8613800138006":
                seen.append(q["id"])
                return 503 if len(seen) == 1 else 200
            return 200
        self.app.respond = respond
        try:
            self.kannel.send_mo("+8613800138006", "10690001", LAMP)
            reqs = self.app.wait(count=2, timeout=8, **{"from": "+8613800138006"})
        finally:
            self.app.respond = lambda q: 200
        self.assertEqual(reqs[0]["id"], reqs[1]["id"])
        self.assertEqual(reqs[1]["text"].decode("utf-8"), LAMP)

    def test_delivery_reports_reach_dlr_url(self):
        dlr_url = self.app.url + "/sms/kannel/dlr?ref=out-42&type=%d&id=%I"
        status, body = self.kannel.sendsms("+8613800138007", "测试回执", **{
            "dlr-mask": "31", "dlr-url": dlr_url})
        self.assertEqual(status, 202, body)
        self.app.wait(path="/sms/kannel/dlr", ref="out-42", type="8")
        self.app.wait(path="/sms/kannel/dlr", ref="out-42", type="1")

    def test_sendsms_rejects_bad_requests(self):
        self.assertEqual(self.kannel.sendsms("+8613800138008", "x", password="wrong")[0], 403)
        self.assertEqual(self.kannel.sendsms("", "x")[0], 400)


class TestKannelWithoutMoRecode(KannelCase):
    """With smsbox's default mo-recode = false a UCS-2 MO arrives as UTF-16BE."""
    mo_recode = False

    def test_chinese_mo_arrives_as_utf16be(self):
        self.kannel.send_mo("+8613800138009", "10690001", LAMP)
        q = self.app.wait(**{"from": "+8613800138009"})[0]
        self.assertEqual(q["coding"], b"2")
        self.assertEqual(q["charset"], b"UTF-16BE")
        self.assertEqual(q["text"].decode("utf-16-be"), LAMP)


if __name__ == "__main__":
    unittest.main(verbosity=2)
