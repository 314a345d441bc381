"""A deputy is notified on the channel they last wrote from (docs/lifecycle.md,
"Where deputies are reached"): real mashangd, Redis and Kannel, WeChat played
by wechat_client.py against fake_wechat.py.

The test roster adds deputies with both a phone and a WeChat id; residents
address them by name in the text ("代表D0991…"), so every case goes to them
whatever the other routing rules say."""

import json
import os
import re
import tempfile
import time
import unittest

from fake_wechat import FakeWeChat
from harness import Stack, wait_until, SharedStackCase
from wechat_client import TV4_KEY, WeChatAccount

NS = "{mashang}:"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE_RE = re.compile(r"编号(M\d{4,})")
BOTH = {"id": "D0991", "name": "两栖代表", "level": "town", "station": "S04",
        "phone": "+8613900000091", "wechat": "oDeputyBothWays0000000000091", "topics": [],
        "duty": []}
WECOM = {"id": "D0992", "name": "企微代表", "level": "town", "station": "S04",
         "phone": "+8613900000092", "wechat": "wecom-deputy-0992", "topics": [], "duty": []}
CONCERN = "代表%s您好，小区门口的垃圾好几天没人清运了（第%d次）"


class DeputyChannelCase(SharedStackCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeWeChat(appid="wxmashangtest0002", secret="oa-secret",
                              corpid="wwmashangcorp0002", corpsecret="corp-secret").start()
        with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
            roster = json.load(f)
        roster["deputies"] += [BOTH, WECOM]
        fd, cls.roster_path = tempfile.mkstemp(prefix="e2e-roster-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(roster, f, ensure_ascii=False)
        base = cls.fake.base_url
        cls.stack = Stack(overrides={
            "roster": cls.roster_path,
            "channels": {"wechat": {
                "main": {"appid": cls.fake.appid, "secret": cls.fake.secret, "token": "tok-main",
                         "aes_key": TV4_KEY, "api_base": base, "accept_plaintext": True},
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
        cls.main_url = cls.stack.daemon.url + "/wechat/main"
        cls.work_url = cls.stack.daemon.url + "/wechat/work"
        cls.main = WeChatAccount("tok-main", TV4_KEY, cls.fake.appid, gh_id="gh_main00000002")
        cls.work = WeChatAccount("tok-work", TV4_KEY, cls.fake.corpid, gh_id=cls.fake.corpid)
        cls.msg_id = int(time.time() * 1000)
        cls.n = 0

    @classmethod
    def cleanup_class(cls):
        cls.fake.stop()
        os.unlink(cls.roster_path)


    # -- helpers ------------------------------------------------------------
    def new_case(self, resident, deputy):
        """A resident's SMS naming `deputy`; returns the case id."""
        DeputyChannelCase.n += 1
        before = self.stack.mt_count(resident)
        self.stack.send_mo(resident, CONCERN % (deputy, self.n))
        ack = self.stack.kannel.wait_mt(resident, lambda t: CASE_RE.search(t), after=before, timeout=15)
        cid = CASE_RE.search(ack).group(1)
        self.assertEqual(self.redis.hget(NS + "case:" + cid, "deputy"), deputy)
        return cid

    def wechat_says(self, acct, url, user, text):
        DeputyChannelCase.msg_id += 1
        q, body = acct.text_push(user, text, self.msg_id, safe=True)
        status, reply = acct.post(url, q, body)
        self.assertEqual(status, 200, reply)
        return acct.parse_reply(reply, q)

    def last_channel(self, deputy):
        return self.redis.hmget(NS + "deputy:" + deputy, "channel", "addr")

    def wechat_sends(self, kind, touser, cid):
        return [r for r in self.fake.sent(kind)
                if r["json"].get("touser") == touser and cid in r["json"]["text"]["content"]]

    def sms_with(self, phone, cid):
        return [t for t in self.stack.kannel.mts(phone) if cid in t]

    def expect_sms_only(self, phone, openid, cid):
        self.stack.kannel.wait_mt(phone, cid)
        time.sleep(0.5)   # the outbox has had its chance to send elsewhere too
        self.assertEqual(self.wechat_sends("custom", openid, cid), [])
        self.assertEqual(self.wechat_sends("wecom", openid, cid), [])

    def expect_wechat_only(self, kind, phone, openid, cid):
        wait_until(lambda: self.wechat_sends(kind, openid, cid), 15, "a %s send of %s" % (kind, cid))
        time.sleep(0.5)
        self.assertEqual(self.sms_with(phone, cid), [])

    # -- tests --------------------------------------------------------------
    def test_notice_follows_the_channel_the_deputy_last_wrote_from(self):
        phone, openid = BOTH["phone"], BOTH["wechat"]
        resident = "+8613800138201"
        # Nothing written yet: the roster's order, the phone first.
        a = self.new_case(resident, "D0991")
        self.expect_sms_only(phone, openid, a)
        self.assertEqual(self.last_channel("D0991"), [None, None])

        # The deputy writes over WeChat: the next notice goes there.
        f = self.wechat_says(self.main, self.main_url, openid, "待办")
        self.assertIn(a, f["Content"])
        self.assertEqual(self.last_channel("D0991"), ["wechat:main", openid])
        b = self.new_case("+8613800138202", "D0991")
        self.expect_wechat_only("custom", phone, openid, b)

        # The deputy answers by SMS: back to SMS.
        before = self.stack.mt_count(phone)
        self.stack.send_mo(phone, "待办")
        self.stack.kannel.wait_mt(phone, b, after=before)
        self.assertEqual(self.last_channel("D0991"), ["sms", phone])
        c = self.new_case("+8613800138203", "D0991")
        self.expect_sms_only(phone, openid, c)

    def test_wecom_and_stale_entries(self):
        phone, userid = WECOM["phone"], WECOM["wechat"]
        a = self.new_case("+8613800138211", "D0992")
        self.expect_sms_only(phone, userid, a)

        # From the WeCom app: notices go back through it.
        self.wechat_says(self.work, self.work_url, userid, "待办")
        self.assertEqual(self.last_channel("D0992"), ["wechat:work", userid])
        b = self.new_case("+8613800138212", "D0992")
        self.expect_wechat_only("wecom", phone, userid, b)

        # A remembered address that is not the deputy's (the roster changed)
        # or a channel that is not configured is ignored: the roster decides.
        key = NS + "deputy:D0992"
        self.redis.hset(key, mapping={"channel": "wechat:main", "addr": "oSomebodyElse000000000000001"})
        c = self.new_case("+8613800138213", "D0992")
        self.expect_sms_only(phone, userid, c)
        self.assertEqual([r for r in self.fake.sent() if r["json"].get("touser") ==
                          "oSomebodyElse000000000000001"], [])
        self.redis.hset(key, mapping={"channel": "wechat:gone", "addr": userid})
        d = self.new_case("+8613800138214", "D0992")
        self.expect_sms_only(phone, userid, d)

        # A deputy with a single way to be reached costs nothing: no entry.
        before = self.stack.mt_count("+8613900000001")
        self.stack.send_mo("+8613900000001", "待办")   # 王丽: a phone only
        self.stack.kannel.wait_mt("+8613900000001", after=before)
        self.assertFalse(self.redis.exists(NS + "deputy:D0412"))
