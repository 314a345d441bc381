"""Slot filling (contract §4, §10 `needs`): a concern whose intent needs a
place and whose text names none is not opened at once; the bot asks once,
the answer completes the case (and routes it by the place), and without an
answer the case opens anyway when the session times out."""

import unittest

from harness import StackCase

RESIDENT = "+8613800138000"
OTHER = "+8613800138222"
WANG = "+8613900000001"
ASK = "请问具体在哪个村/小区/路段"


class SlotFilling(StackCase):

    timers = {"session_s": 3}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client

    def say(self, who, text):
        marks = {n: self.stack.mt_count(n) for n in (RESIDENT, OTHER, WANG)}
        self.stack.send_mo(who, text)
        return marks

    def test_asks_once_and_the_answer_completes_the_case(self):
        m = self.say(RESIDENT, "路灯坏了好几天了，晚上黑漆漆的")
        self.stack.kannel.wait_mt(RESIDENT, ASK, timeout=15, after=m[RESIDENT])
        self.assertEqual(self.r.zcard("{mashang}:cases"), 0)
        m = self.say(RESIDENT, "幸福路12号")
        ack = self.stack.kannel.wait_mt(RESIDENT, "M1001", timeout=15, after=m[RESIDENT])
        self.assertIn("王丽", ack)              # routed by the place in the answer
        self.stack.kannel.wait_mt(WANG, "M1001", timeout=15, after=m[WANG])
        case = self.r.hgetall("{mashang}:case:M1001")
        self.assertEqual(case["place"], "幸福路12号")
        self.assertIn("路灯坏了好几天了", case["text"])
        self.assertEqual(case["category"], "facilities")
        self.assertEqual(case["routed_by"], "area")
        # asked only once: no second question
        self.assertEqual(sum(ASK in t for t in self.stack.kannel.mts(RESIDENT)), 1)

    def test_timeout_opens_the_case_without_the_place(self):
        m = self.say(OTHER, "井盖没了，晚上太危险")
        self.stack.kannel.wait_mt(OTHER, ASK, timeout=15, after=m[OTHER])
        self.stack.kannel.wait_mt(OTHER, "M1001", timeout=15, after=m[OTHER])
        case = self.r.hgetall("{mashang}:case:M1001")
        self.assertEqual(case["place"], "")
        self.assertEqual(case["category"], "facilities")

    def test_a_place_in_the_text_needs_no_question(self):
        m = self.say(RESIDENT, "幸福路12号的路灯坏了三天了")
        ack = self.stack.kannel.wait_mt(RESIDENT, "M1001", timeout=15, after=m[RESIDENT])
        self.assertNotIn(ASK, ack)
        self.assertTrue(self.r.hget("{mashang}:case:M1001", "place").startswith("幸福路12号"))


class SessionBound(StackCase):
    """limits.max_sessions bounds the open questions: past it a concern is
    opened as it is instead of waiting for an answer."""

    timers = {"session_s": 60}
    overrides = {"limits": {"max_sessions": 1}}

    def test_second_question_is_not_asked(self):
        k = self.stack.kannel
        self.stack.send_mo(RESIDENT, "路灯坏了好几天了")
        k.wait_mt(RESIDENT, ASK, timeout=15)
        self.stack.send_mo(OTHER, "井盖没了，晚上太危险")
        ack = k.wait_mt(OTHER, "M1001", timeout=15)
        self.assertNotIn(ASK, ack)


if __name__ == "__main__":
    unittest.main()
