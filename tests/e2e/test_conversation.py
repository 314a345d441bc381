"""The README conversation and its neighbours, against the real mashangd with
real Redis and Kannel (fake SMSC).  Written from the contract
(shared/spec.md §3-§7), not from the implementation: assertions check what a
resident or deputy sees on their phone and, for closure, the case hash.

Roster facts used (config/deputies.json): deputy 王丽 D0412, +8613900000001,
liaison of station S01 whose areas include 幸福路; service number 10690001."""

import re
import time
import unittest

from harness import StackCase, wait_until

RESIDENT = "+8613800138000"
OTHER_RESIDENT = "+8613800138111"
DEPUTY = "+8613900000001"
LAMP = "幸福路12号的路灯坏了三天了"
RATING_REQUEST = re.compile(r"1\s*[-－~～至到]\s*5")
NOT_FOUND = re.compile(r"不存在|未找到|没有找到|找不到|查无|无此|没有这个|not found", re.I)
MT_TIMEOUT = 15


class ConversationCase(StackCase):
    """A fresh Redis, Kannel and mashangd for every test: case ids start at
    M1001 and nothing leaks between tests."""


    # -- helpers ----------------------------------------------------------
    def say(self, sender, text):
        """Send an MO; returns how many MTs each party had before, so the
        next wait only looks at what came after."""
        marks = {n: self.stack.mt_count(n) for n in (RESIDENT, OTHER_RESIDENT, DEPUTY)}
        self.stack.send_mo(sender, text)
        return marks

    def expect(self, to, marks, *needles, pattern=None, timeout=MT_TIMEOUT):
        """Wait for an MT to `to` (after marks) containing every needle and
        matching pattern; returns its text."""
        def ok(t):
            return all(n in t for n in needles) and (pattern is None or pattern.search(t))
        return self.stack.kannel.wait_mt(to, ok, timeout=timeout, after=marks[to])

    def case_hash(self, case_id):
        """The case's Redis hash, wherever the namespace/hash tag puts it."""
        r = self.stack.redis.client
        for key in r.scan_iter(match="*case:%s" % case_id, count=1000):
            if r.type(key) == "hash":
                return r.hgetall(key)
        return None

    def wait_case_state(self, case_id, state, timeout=10):
        try:
            wait_until(lambda: (self.case_hash(case_id) or {}).get("state") == state,
                       timeout, "case %s state=%s" % (case_id, state))
        except TimeoutError:
            self.fail("case %s never reached state %r; hash now: %r"
                      % (case_id, state, self.case_hash(case_id)))

    def open_lamp_case(self):
        m = self.say(RESIDENT, LAMP)
        ack = self.expect(RESIDENT, m, "M1001")
        return m, ack


class TestReadmeConversation(ConversationCase):

    def test_full_conversation(self):
        # resident reports; ack names the case and the deputy
        m = self.say(RESIDENT, LAMP)
        ack = self.expect(RESIDENT, m, "编号M1001")
        self.assertIn("王丽", ack)
        # the deputy is told about the new case
        self.expect(DEPUTY, m, "M1001")

        # deputy accepts → resident told
        m = self.say(DEPUTY, "接单 M1001")
        self.expect(RESIDENT, m, "M1001")

        # progress is pushed to the resident, Chinese intact
        m = self.say(DEPUTY, "进展 M1001 已联系路灯所")
        self.expect(RESIDENT, m, "已联系路灯所")

        # resolution: result, then (same or separate MT) the 1-5 rating request
        m = self.say(DEPUTY, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "已更换灯泡")
        self.expect(RESIDENT, m, pattern=RATING_REQUEST)

        # rating 5 closes the case
        self.say(RESIDENT, "5")
        self.wait_case_state("M1001", "closed")

    def test_status_query(self):
        self.open_lamp_case()
        m = self.say(RESIDENT, "查询")
        self.expect(RESIDENT, m, "M1001")

    def test_unmatched_message_still_opens_a_case(self):
        m = self.say(OTHER_RESIDENT, "asdf qwer 我也不知道说啥")
        ack = self.stack.kannel.wait_mt(OTHER_RESIDENT, timeout=MT_TIMEOUT,
                                        after=m[OTHER_RESIDENT])
        case_id = re.search(r"M\d{4,}", ack)
        self.assertIsNotNone(case_id, "no case id in ack: %r" % ack)
        self.assertIsNotNone(self.case_hash(case_id.group(0)),
                             "ack names %s but Redis has no such case" % case_id.group(0))

    def test_deputy_unknown_case_gets_clear_answer(self):
        m = self.say(DEPUTY, "接单 M9999")
        reply = self.expect(DEPUTY, m, "M9999")
        self.assertRegex(reply, NOT_FOUND)

    def test_sigterm_is_graceful(self):
        self.open_lamp_case()
        self.assertEqual(self.stack.daemon.stop(), 0, self.stack.daemon.log[-2000:])
        self.stack.daemon.start()  # tearDown stops it again


class TestCrashRecovery(ConversationCase):

    def test_sigkill_mid_conversation_loses_nothing(self):
        d = self.stack.daemon
        # the case is stored (answer 200 ⇒ durable); crash before anything else
        m = self.say(RESIDENT, LAMP)
        wait_until(lambda: self.case_hash("M1001"), MT_TIMEOUT, "case M1001 in Redis")
        d.kill()
        d.start()
        # the acknowledgement and the deputy's notice still go out
        self.expect(RESIDENT, m, "M1001")
        self.expect(DEPUTY, m, "M1001")

        m = self.say(DEPUTY, "接单 M1001")
        self.expect(RESIDENT, m, "M1001")

        # a message sent while the daemon is down is retried by Kannel
        d.kill()
        m = self.say(RESIDENT, "查询")
        time.sleep(1.5)  # let smsbox fail at least once
        d.start()
        self.expect(RESIDENT, m, "M1001")
        self.wait_case_state("M1001", "accepted")


if __name__ == "__main__":
    unittest.main(verbosity=2)
