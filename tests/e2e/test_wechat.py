"""The WeChat channel end to end: mashangd against the independent test
client (wechat_client.py plays WeChat's push side) and the fake WeChat API
(fake_wechat.py), with real Redis and Kannel.  Facts: shared/notes/wechat.md.

One stack for the class; every test uses its own openids so they do not
interfere.  Deputies answer by SMS (roster: 王丽 D0412 +8613900000001 at
幸福路; 李建国 D0007 at 光明村)."""

import base64
import json
import os
import re
import tempfile
import time
import unittest

from fake_wechat import FakeWeChat
from harness import Stack, wait_until, SharedStackCase
from wechat_client import (TV4_KEY, WeChatAccount, build_xml, encrypt, sha1_sorted)

LAMP = "幸福路12号的路灯坏了三天了"
DEPUTY_WANG = "+8613900000001"
CASE_RE = re.compile(r"M\d{4,}")
NS = "{mashang}:"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A deputy reached only on WeChat (no phone): the directory addresses them
# on the first configured account.
WX_DEPUTY = {"id": "D0999", "name": "微信代表", "level": "town", "station": "S04",
             "phone": None, "wechat": "oDeputyOnlyOnWeChat000000001", "topics": ["education"],
             "duty": []}


def openid(tag):
    """A 28-character openid unique to one test."""
    return ("o" + tag + "x" * 28)[:28]


class WeChatCase(SharedStackCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeWeChat(appid="wxmashangtest0001", secret="oa-secret",
                              corpid="wwmashangcorp0001", corpsecret="corp-secret").start()
        base = cls.fake.base_url
        with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
            roster = json.load(f)
        roster["deputies"].append(WX_DEPUTY)
        fd, cls.roster_path = tempfile.mkstemp(prefix="e2e-roster-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(roster, f, ensure_ascii=False)
        # Plaintext and safe pushes both reach these accounts (an account
        # moving to safe mode); "strict" takes encrypted pushes only.
        common = {"appid": cls.fake.appid, "secret": cls.fake.secret, "aes_key": TV4_KEY,
                  "api_base": base, "accept_plaintext": True}
        cls.stack = Stack(overrides={
            "roster": cls.roster_path,
            "channels": {"wechat": {
                "main": dict(common, token="tok-main"),
                "tpl": dict(common, token="tok-tpl", template_id="TPL-progress"),
                "strict": dict(common, token="tok-strict", accept_plaintext=False),
                "work": {"appid": cls.fake.corpid, "secret": cls.fake.corpsecret,
                         "token": "tok-work", "aes_key": TV4_KEY, "api_base": base,
                         "wecom": True, "agentid": 1000005},
            }},
            "outbox": {"backoff_ms": 100, "poll_ms": 50},
        })
        try:
            cls.stack.start()
        except BaseException:
            cls.fake.stop()
            raise
        url = cls.stack.daemon.url
        cls.main_url = url + "/wechat/main"
        cls.tpl_url = url + "/wechat/tpl"
        cls.work_url = url + "/wechat/work"
        cls.main = WeChatAccount("tok-main", TV4_KEY, cls.fake.appid, gh_id="gh_main00000001")
        cls.tpl = WeChatAccount("tok-tpl", TV4_KEY, cls.fake.appid, gh_id="gh_tpl000000001")
        cls.work = WeChatAccount("tok-work", TV4_KEY, cls.fake.corpid, gh_id=cls.fake.corpid)
        cls.msg_id = int(time.time() * 1000)

    @classmethod
    def cleanup_class(cls):
        cls.fake.stop()
        os.unlink(cls.roster_path)

    # -- helpers ------------------------------------------------------------
    def next_id(self):
        WeChatCase.msg_id += 1
        return WeChatCase.msg_id

    def say(self, acct, url, user, text, safe=False, msg_id=None):
        """Push a text; returns (status, reply fields)."""
        q, body = acct.text_push(user, text, msg_id or self.next_id(), safe=safe)
        status, reply = acct.post(url, q, body)
        fields = acct.parse_reply(reply, q) if status == 200 else {"_body": reply}
        return status, fields

    def open_case(self, acct, url, user, safe=False):
        status, f = self.say(acct, url, user, LAMP, safe=safe)
        self.assertEqual(status, 200, f)
        m = CASE_RE.search(f.get("Content", ""))
        self.assertTrue(m, "no case id in passive reply %r" % f)
        return m.group(0), f

    def case_hash(self, case_id):
        return self.redis.hgetall(NS + "case:" + case_id)

    def deputy_says(self, text):
        self.stack.send_mo(DEPUTY_WANG, text)

    def wait_sent(self, kind, pred, timeout=15):
        return wait_until(lambda: [r for r in self.fake.sent(kind) if pred(r)], timeout,
                          "a %s send" % kind)

    def outbox_states(self, user):
        out = []
        for key in self.redis.scan_iter(match=NS + "out:*", count=1000):
            h = self.redis.hgetall(key)
            if h.get("to") == user:
                out.append(h)
        return out

    # -- URL verification ---------------------------------------------------
    def test_get_verification(self):
        q = self.main.verify_query("4375120948345356249")
        status, body = self.main.get(self.main_url, q)
        self.assertEqual((status, body), (200, b"4375120948345356249"))
        q["signature"] = "0" * 40
        self.assertEqual(self.main.get(self.main_url, q)[0], 403)
        q = self.main.verify_query("123")
        self.assertEqual(self.main.get(self.stack.daemon.url + "/wechat/nope", q)[0], 404)

    def test_wecom_get_verification_decrypts_echostr(self):
        # A WeCom echostr is ciphertext signed with msg_signature; '+' must
        # survive the query decoding (notes pitfall 19).
        for _ in range(20):
            echostr = encrypt(TV4_KEY, "5927782489442352469", self.fake.corpid)
            if "+" in echostr:
                break
        ts, nonce = str(int(time.time())), "8675309"
        q = {"msg_signature": sha1_sorted("tok-work", ts, nonce, echostr),
             "timestamp": ts, "nonce": nonce, "echostr": echostr}
        status, body = self.work.get(self.work_url, q)
        self.assertEqual((status, body), (200, b"5927782489442352469"))
        q["msg_signature"] = sha1_sorted("wrong", ts, nonce, echostr)
        self.assertEqual(self.work.get(self.work_url, q)[0], 403)

    def test_account_with_aes_key_refuses_plaintext_pushes(self):
        strict = WeChatAccount("tok-strict", TV4_KEY, self.fake.appid, gh_id="gh_strict0000001")
        url = self.stack.daemon.url + "/wechat/strict"
        user = openid("strict")
        status, f = self.say(strict, url, user, LAMP)
        self.assertEqual(status, 403, f)
        self.assertIn(b"encryption_required", f["_body"])
        self.assertEqual(self.redis.zcard(NS + "rcases:wechat:strict:" + user), 0)
        status, f = self.say(strict, url, user, LAMP, safe=True)
        self.assertEqual(status, 200, f)
        self.assertTrue(CASE_RE.search(f.get("Content", "")), f)

    # -- inbound text -------------------------------------------------------
    def test_plain_text_gets_passive_reply_with_case(self):
        user = openid("plain")
        case_id, f = self.open_case(self.main, self.main_url, user)
        self.assertEqual(f["ToUserName"], user)
        self.assertEqual(f["FromUserName"], "gh_main00000001")
        self.assertNotIn("_encrypted", f)
        c = self.case_hash(case_id)
        self.assertEqual(c["channel"], "wechat:main")
        self.assertEqual(c["addr"], user)
        self.assertEqual(c["deputy"], "D0412")

    def test_safe_mode_reply_is_encrypted_and_names_case(self):
        user = openid("safe")
        case_id, f = self.open_case(self.main, self.main_url, user, safe=True)
        self.assertEqual(f.get("_encrypted"), "1")
        self.assertEqual(f["ToUserName"], user)
        self.assertEqual(self.case_hash(case_id)["addr"], user)

    def test_compatible_mode_trusts_the_encrypted_copy(self):
        user = openid("compat")
        inner = self.main.text_xml(user, LAMP, self.next_id())
        q, body = self.main.push(inner, compatible=True)
        # A tampered plaintext copy must not matter.
        body = body.replace(LAMP, "你好", 1)
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        f = self.main.parse_reply(reply, q)
        self.assertRegex(f["Content"], CASE_RE)

    def test_bad_signatures_are_refused(self):
        user = openid("badsig")
        q, body = self.main.text_push(user, LAMP, self.next_id())
        q["signature"] = "f" * 40
        self.assertEqual(self.main.post(self.main_url, q, body)[0], 403)
        q, body = self.main.text_push(user, LAMP, self.next_id(), safe=True)
        q["msg_signature"] = "0" * 40
        self.assertEqual(self.main.post(self.main_url, q, body)[0], 403)
        # Signed with another account's token.
        q, body = self.tpl.text_push(user, LAMP, self.next_id())
        self.assertEqual(self.main.post(self.main_url, q, body)[0], 403)
        self.assertEqual(self.redis.zcard(NS + "rcases:wechat:main:" + user), 0)

    def test_wrong_appid_in_payload_is_refused(self):
        user = openid("appid")
        q, body = self.main.text_push(user, LAMP, self.next_id(), safe=True,
                                      receive_id="wxsomeoneelse0001")
        status, _ = self.main.post(self.main_url, q, body)
        self.assertIn(status, (400, 403))
        self.assertEqual(self.redis.zcard(NS + "rcases:wechat:main:" + user), 0)

    def _signed_envelope(self, encrypt_value):
        ts, nonce = str(int(time.time())), "4242"
        q = {"timestamp": ts, "nonce": nonce, "signature": sha1_sorted("tok-main", ts, nonce),
             "encrypt_type": "aes",
             "msg_signature": sha1_sorted("tok-main", ts, nonce, encrypt_value)}
        return q, build_xml([("ToUserName", "gh_main00000001"), ("Encrypt", encrypt_value)])

    def test_broken_encrypt_is_bad_request(self):
        good = encrypt(TV4_KEY, self.main.text_xml(openid("trunc"), LAMP, self.next_id()),
                       self.fake.appid)
        raw = base64.b64decode(good)
        for bad in (good[:-8], "not*base64*at*all!", base64.b64encode(raw[:-16]).decode(),
                    base64.b64encode(raw[:17]).decode()):
            q, body = self._signed_envelope(bad)
            status, reply = self.main.post(self.main_url, q, body)
            self.assertEqual(status, 400, "Encrypt %r -> %d %r" % (bad[:24], status, reply))
            self.assertIn(b'"error"', reply)
        q, _ = self.main.text_push(openid("trunc"), LAMP, self.next_id())
        status, reply = self.main.post(self.main_url, q, "<xml><ToUserName>x</ToUser")
        self.assertEqual(status, 400)

    def test_duplicate_msgid_gives_one_case_and_same_reply(self):
        user = openid("dup")
        mid = self.next_id()
        q, body = self.main.text_push(user, LAMP, mid)
        replies = []
        for _ in range(3):
            status, reply = self.main.post(self.main_url, q, body)
            self.assertEqual(status, 200)
            replies.append(self.main.parse_reply(reply, q)["Content"])
        self.assertRegex(replies[0], CASE_RE)
        self.assertEqual(replies[0], replies[1])
        self.assertEqual(replies[0], replies[2])
        self.assertEqual(self.redis.zcard(NS + "rcases:wechat:main:" + user), 1)

    def test_unsupported_and_voice(self):
        user = openid("media")
        inner = build_xml([("ToUserName", "gh_main00000001"), ("FromUserName", user),
                           ("CreateTime", int(time.time())), ("MsgType", "image"),
                           ("PicUrl", "http://example.invalid/p.jpg"), ("MediaId", "m1"),
                           ("MsgId", self.next_id())])
        q, body = self.main.push(inner)
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        self.assertIn("文字", self.main.parse_reply(reply, q)["Content"])
        self.assertEqual(self.redis.zcard(NS + "rcases:wechat:main:" + user), 0)
        inner = build_xml([("ToUserName", "gh_main00000001"), ("FromUserName", user),
                           ("CreateTime", int(time.time())), ("MsgType", "voice"),
                           ("MediaId", "m2"), ("Format", "amr"), ("Recognition", LAMP),
                           ("MsgId", self.next_id())])
        q, body = self.main.push(inner, safe=True)
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        self.assertRegex(self.main.parse_reply(reply, q)["Content"], CASE_RE)

    # -- 代表码 --------------------------------------------------------------
    def test_subscribe_scene_binds_deputy(self):
        user = openid("bind")
        q, body = self.main.event_push(user, "subscribe", "qrscene_D0007", "TICKET", safe=True)
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        self.assertIn("李建国", self.main.parse_reply(reply, q)["Content"])
        self.assertEqual(self.redis.hget(NS + "res:wechat:main:" + user, "bound"), "D0007")
        # 幸福路 would route to D0412 by area; the binding wins.
        case_id, _ = self.open_case(self.main, self.main_url, user)
        c = self.case_hash(case_id)
        self.assertEqual((c["deputy"], c["routed_by"]), ("D0007", "binding"))
        # A retried event is deduplicated but still answered.
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        self.assertIn("李建国", self.main.parse_reply(reply, q)["Content"])

    def test_scan_event_rebinds_and_unsubscribe_is_noted(self):
        user = openid("scan")
        q, body = self.main.event_push(user, "SCAN", "D0412", "T")
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual(status, 200)
        self.assertIn("王丽", self.main.parse_reply(reply, q)["Content"])
        self.assertEqual(self.redis.hget(NS + "res:wechat:main:" + user, "bound"), "D0412")
        q, body = self.main.event_push(user, "unsubscribe")
        status, reply = self.main.post(self.main_url, q, body)
        self.assertEqual((status, reply), (200, b""))
        self.assertTrue(self.redis.hget(NS + "res:wechat:main:" + user, "unsubscribed"))

    # -- outbound -----------------------------------------------------------
    def test_progress_is_pushed_by_customer_service_message(self):
        user = openid("push")
        case_id, _ = self.open_case(self.main, self.main_url, user)
        self.deputy_says("接单 " + case_id)
        sent = self.wait_sent("custom", lambda r: r["json"]["touser"] == user
                              and case_id in r["json"]["text"]["content"])
        self.assertFalse(sent[0]["ascii_escaped"], "text must be raw UTF-8")
        self.assertEqual(self.redis.hget(NS + "res:wechat:main:" + user, "cs_count"), "1")

    def test_token_refresh_on_40001(self):
        user = openid("token")
        case_id, _ = self.open_case(self.main, self.main_url, user)
        # Make sure a token is cached first, then have WeChat refuse it.
        self.deputy_says("接单 " + case_id)
        self.wait_sent("custom", lambda r: r["json"]["touser"] == user)
        old = self.redis.get(NS + "wxtoken:main")
        self.assertTrue(old)
        fetches = len(self.fake.calls("/cgi-bin/stable_token"))
        self.fake.fail_next(1, 40001, paths=("/cgi-bin/message/custom/send",))
        self.deputy_says("进展 %s 已联系路灯所" % case_id)
        self.wait_sent("custom", lambda r: r["json"]["touser"] == user
                       and "已联系路灯所" in r["json"]["text"]["content"])
        self.assertGreater(len(self.fake.calls("/cgi-bin/stable_token")), fetches)
        new = self.redis.get(NS + "wxtoken:main")
        self.assertTrue(new)
        self.assertNotEqual(new, old)

    def test_45015_falls_back_to_template(self):
        user = openid("tpl")
        case_id, _ = self.open_case(self.tpl, self.tpl_url, user)
        self.fake.user_errors[user] = 45015
        try:
            self.deputy_says("接单 " + case_id)
            sent = self.wait_sent("template", lambda r: r["json"]["touser"] == user)
        finally:
            self.fake.user_errors.pop(user, None)
        body = sent[0]["json"]
        self.assertEqual(body["template_id"], "TPL-progress")
        self.assertEqual(body["data"]["keyword1"]["value"], case_id)
        self.assertIn(case_id, body["data"]["first"]["value"])
        self.assertTrue(body.get("client_msg_id"))
        # The closed window is remembered: the next update skips custom/send.
        customs = len([r for r in self.fake.calls("/cgi-bin/message/custom/send")
                       if r["json"]["touser"] == user])
        self.deputy_says("进展 %s 已派人查看" % case_id)
        self.wait_sent("template", lambda r: r["json"]["touser"] == user
                       and "已派人查看" in r["json"]["data"]["keyword2"]["value"])
        self.assertEqual(customs, len([r for r in self.fake.calls("/cgi-bin/message/custom/send")
                                       if r["json"]["touser"] == user]))

    def test_expired_window_skips_customer_service_message(self):
        user = openid("old")
        case_id, _ = self.open_case(self.tpl, self.tpl_url, user)
        time.sleep(0.3)   # let the callback's own last_seen write land first
        rk = NS + "res:wechat:tpl:" + user
        self.redis.hset(rk, "last_seen", int(time.time()) - 49 * 3600)
        self.deputy_says("接单 " + case_id)
        self.wait_sent("template", lambda r: r["json"]["touser"] == user)
        self.assertEqual([], [r for r in self.fake.calls("/cgi-bin/message/custom/send")
                              if r["json"]["touser"] == user])

    def test_no_template_holds_update_for_next_passive_reply(self):
        user = openid("held")
        case_id, _ = self.open_case(self.main, self.main_url, user)
        self.fake.user_errors[user] = 45015
        try:
            self.deputy_says("接单 " + case_id)
            held_key = NS + "held:wechat:main:" + user
            wait_until(lambda: self.redis.llen(held_key) > 0, 15, "a held update")
        finally:
            self.fake.user_errors.pop(user, None)
        held = self.redis.lrange(held_key, 0, -1)
        self.assertIn(case_id, held[0])
        # held: settled, its text lives in the held list, its outbox hash goes
        wait_until(lambda: self.outbox_states(user) == [], 5, "the held message settled")
        status, f = self.say(self.main, self.main_url, user, "查询", safe=True)
        self.assertEqual(status, 200)
        self.assertIn(held[0], f["Content"])
        self.assertEqual(self.redis.llen(held_key), 0)

    def test_deputy_without_phone_works_over_wechat(self):
        user = openid("wxdep")
        dep = WX_DEPUTY["wechat"]
        q, body = self.main.event_push(user, "subscribe", "qrscene_D0999")
        self.assertEqual(self.main.post(self.main_url, q, body)[0], 200)
        case_id, _ = self.open_case(self.main, self.main_url, user)
        self.assertEqual(self.case_hash(case_id)["deputy"], "D0999")
        # The new case reaches the deputy by customer-service message.
        self.wait_sent("custom", lambda r: r["json"]["touser"] == dep
                       and case_id in r["json"]["text"]["content"])
        # The deputy accepts from WeChat: the answer is the passive reply,
        # the resident is told by push.
        status, f = self.say(self.main, self.main_url, dep, "接单 " + case_id, safe=True)
        self.assertEqual(status, 200)
        self.assertIn(case_id, f["Content"])
        self.assertEqual(self.case_hash(case_id)["state"], "accepted")
        self.wait_sent("custom", lambda r: r["json"]["touser"] == user
                       and case_id in r["json"]["text"]["content"])

    def test_wecom_text_and_push(self):
        user = "ZhangSan"
        case_id, f = self.open_case(self.work, self.work_url, user, safe=True)
        self.assertEqual(f.get("_encrypted"), "1")
        self.deputy_says("接单 " + case_id)
        sent = self.wait_sent("wecom", lambda r: r["json"]["touser"] == user)
        self.assertEqual(sent[0]["json"]["agentid"], 1000005)
        self.assertIn(case_id, sent[0]["json"]["text"]["content"])


if __name__ == "__main__":
    unittest.main()
