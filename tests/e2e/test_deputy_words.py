"""A deputy's words, through real Kannel and Redis (docs/lifecycle.md,
"Deputy questions" and "Relaying"): what a deputy writes reaches the
resident as written and only when the command is sure; an unclear command
or a missing case id is asked about with a numbered question that a digit
answers; 详情 speaks Chinese; emoji alone are not words; transfers by name.

The classes marked "model" check phrasings that only the learned intents
model reads right (the rule patterns do not cover them)."""

import json
import re
import subprocess
import time
import unittest

from harness import PhoneTalk, MASHANGCTL, REPO, StackCase

RESIDENT = "+8613800138000"
WANG = "+8613900000001"        # 王丽 D0412, the only deputy of S01 (幸福路)
LI = "+8613900000002"          # 李建国 D0007
ZHANG = "+8613900000006"       # 张伟 D0201
LAMP = "幸福路12号的路灯坏了三天了"
WATER = "幸福路8号停水两天了，一滴水都没有"
NOISE = "幸福路20号工地半夜施工，噪音吵得睡不着"
QUIET_S = 2.5                  # how long "nothing arrives" is watched


class DeputyWords(PhoneTalk, StackCase):
    PARTIES = (RESIDENT, WANG, LI, ZHANG)

    timers = {"session_s": 30}
    overrides = {"outbox": {"backoff_ms": 200}}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client


    def quiet(self, to, marks, seconds=QUIET_S):
        """Nothing (more) reached `to` since `marks` within `seconds`."""
        time.sleep(seconds)
        self.assertEqual(self.since(to, marks), [])

    def case(self, cid):
        return self.r.hgetall("{mashang}:case:%s" % cid)

    def open_case(self, text, cid):
        m = self.say(RESIDENT, text)
        self.expect(RESIDENT, m, cid)
        self.expect(WANG, m, cid)

    def open_three(self):
        self.open_case(LAMP, "M1001")
        self.open_case(WATER, "M1002")
        self.open_case(NOISE, "M1003")
        for cid in ("M1001", "M1002", "M1003"):
            self.assertEqual(self.case(cid)["deputy"], "D0412")


class TestRelayAsWritten(DeputyWords):

    def test_progress_and_result_keep_the_deputys_characters(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "进展 M1001 已联系ABC物业，LED灯明天到！！")
        pushed = self.expect(RESIDENT, m, "M1001进展")
        self.assertIn("M1001进展：已联系ABC物业，LED灯明天到！！", pushed)
        self.assertEqual(self.case("M1001")["latest"], "已联系ABC物业，LED灯明天到！！")
        # Traditional stays Traditional, full-width ids still work
        m = self.say(WANG, "進展 Ｍ１００１ 已聯繫路燈所，等回覆")
        self.assertIn("已聯繫路燈所，等回覆", self.expect(RESIDENT, m, "M1001进展"))
        m = self.say(WANG, "办结 M1001 已更换LED灯泡（飞利浦）")
        self.assertIn("已更换LED灯泡（飞利浦）", self.expect(RESIDENT, m, "请回复1-5评价"))

    def test_reply_is_a_statement_unless_it_asks(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "回复 M1001 明天有人去")
        told = self.expect(RESIDENT, m, "明天有人去")
        self.assertIn("王丽代表就M1001回复您：明天有人去", told)
        self.assertNotIn("问您", told)
        m = self.say(WANG, "回复 M1001 请问是哪一盏灯？")
        asked = self.expect(RESIDENT, m, "请问是哪一盏灯？")
        self.assertIn("问您", asked)
        m = self.say(WANG, "回复 M1001 门口那盏修了吗")
        self.assertIn("问您", self.expect(RESIDENT, m, "门口那盏修了吗"))


class TestChineseOnly(DeputyWords):

    def assert_no_english(self, text):
        # ids (M1001, D0412), the masked number and digits are allowed
        rest = re.sub(r"[MD]\d+|\d+\*+\d+|\d+", "", text)
        self.assertIsNone(re.search(r"[A-Za-z]", rest), text)

    def test_detail_speaks_chinese(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "接单 M1001")
        self.expect(RESIDENT, m, "受理")
        m = self.say(WANG, "详情 M1001")
        detail = self.expect(WANG, m, "M1001", "幸福路12号")
        self.assertIn("按片区分派给王丽代表", detail)
        self.assertIn("已接单", detail)
        self.assert_no_english(detail)
        m = self.say(WANG, "转 M1001 D0007 属于光明村")
        self.expect(LI, m, "M1001")
        m = self.say(LI, "详情 M1001")
        detail = self.expect(LI, m, "M1001")
        self.assertIn("由王丽代表转给李建国代表", detail)
        self.assert_no_english(detail)


class TestWordless(DeputyWords):

    def test_emoji_alone_is_no_thanks_and_no_rating(self):
        m = self.say(RESIDENT, "😡😡😡")
        help_text = self.expect(RESIDENT, m, "码上说")
        self.assertNotIn("不客气", help_text)
        self.assertIn("直接发送您遇到的问题", help_text)
        self.open_case(LAMP, "M1001")
        m = self.say(RESIDENT, "👍👍")
        self.assertIn("请用文字", self.expect(RESIDENT, m, "M1001"))
        self.quiet(WANG, m, 1)   # nothing to forward
        m = self.say(WANG, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "评价")
        m = self.say(RESIDENT, "😡")
        self.assertIn("1-5", self.expect(RESIDENT, m, "评价"))
        c = self.case("M1001")
        self.assertEqual(c["state"], "resolved")
        self.assertNotIn("rating", c)


    def test_a_deputys_thanks_needs_no_answer(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "好的 谢谢")
        self.quiet(WANG, m)
        self.quiet(RESIDENT, m, 0)
        self.assertEqual(self.case("M1001")["state"], "assigned")
        self.assertIn("action=deputy_thanks", self.stack.daemon.log)
        # a greeting still gets the commands
        m = self.say(WANG, "你好")
        self.expect(WANG, m, "接单")


class TestNumberedQuestions(DeputyWords):

    def test_several_open_cases_are_asked_and_a_digit_completes(self):
        self.open_three()
        m = self.say(WANG, "接单")
        q = self.expect(WANG, m, "您有3件待办")
        self.assertRegex(q, r"您有3件待办：1 M1001 \S+ 2 M1002 \S+ 3 M1003 \S+。请回复数字选择")
        self.assertEqual(self.case("M1002")["state"], "assigned")
        m = self.say(WANG, "2")
        self.expect(RESIDENT, m, "M1002", "受理")
        self.assertEqual(self.case("M1002")["state"], "accepted")
        self.assertEqual(self.case("M1001")["state"], "assigned")
        # the text of a command held by the question is the deputy's own
        m = self.say(WANG, "进展 已联系ABC水务，今晚恢复！")
        self.expect(WANG, m, "请回复数字选择")
        m = self.say(WANG, "2")
        self.assertIn("已联系ABC水务，今晚恢复！", self.expect(RESIDENT, m, "M1002进展"))
        self.assertEqual(self.case("M1002")["state"], "in_progress")

    def test_a_digit_out_of_range_asks_again(self):
        self.open_three()
        m = self.say(WANG, "接单")
        self.expect(WANG, m, "您有3件待办")
        m = self.say(WANG, "7")
        self.expect(WANG, m, "您有3件待办")
        m = self.say(WANG, "3")
        self.expect(RESIDENT, m, "M1003", "受理")

    def test_any_other_message_cancels_the_question(self):
        self.open_three()
        m = self.say(WANG, "接单")
        self.expect(WANG, m, "请回复数字选择")
        m = self.say(WANG, "详情 M1001")
        self.expect(WANG, m, "M1001", "幸福路12号")
        m = self.say(WANG, "1")
        time.sleep(QUIET_S)
        self.assertEqual([self.case(c)["state"] for c in ("M1001", "M1002", "M1003")], ["assigned"] * 3)
        self.assertEqual([t for t in self.since(RESIDENT, m) if "受理" in t], [])
        self.assertFalse(self.r.hexists("{mashang}:res:sms:%s" % WANG, "session"))


class TestQuestionExpires(DeputyWords):
    timers = {"session_s": 2}

    def test_an_unanswered_question_lapses_quietly(self):
        self.open_case(LAMP, "M1001")
        self.open_case(WATER, "M1002")
        m = self.say(WANG, "办结 问题已处理")
        self.expect(WANG, m, "您有2件待办")
        time.sleep(4)
        self.assertEqual(self.since(WANG, m)[1:], [])      # expired without a word
        self.assertFalse(self.r.hexists("{mashang}:res:sms:%s" % WANG, "session"))
        self.assertEqual(self.r.zcard("{mashang}:sessions"), 0)
        m = self.say(WANG, "1")
        time.sleep(QUIET_S)
        self.assertEqual([self.case(c)["state"] for c in ("M1001", "M1002")], ["assigned"] * 2)
        self.assertEqual(self.since(RESIDENT, m), [])


class TestTransferByName(DeputyWords):

    def test_names_with_and_without_title(self):
        self.open_case(LAMP, "M1001")
        self.open_case(WATER, "M1002")
        m = self.say(WANG, "转 M1001 李建国")
        self.expect(LI, m, "M1001")
        self.expect(RESIDENT, m, "M1001", "李建国")
        self.assertEqual(self.case("M1001")["deputy"], "D0007")
        m = self.say(WANG, "转给张伟代表 M1002")
        self.expect(ZHANG, m, "M1002")
        self.assertEqual(self.case("M1002")["deputy"], "D0201")

    def test_unknown_name_is_explained(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "转 M1001 李强")
        answer = self.expect(WANG, m, "没有找到代表")
        self.assertIn("李强", answer)
        self.assertIn("姓名或编号", answer)
        self.assertEqual(self.case("M1001")["deputy"], "D0412")
        self.quiet(RESIDENT, m, 1)


def reading(text):
    """How the shipped intents read `text` from a deputy (mashangctl)."""
    out = subprocess.run([MASHANGCTL, "intents", "test", "--as", "deputy", "--json", text],
                         cwd=REPO, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out.splitlines()[0])


class TestUnsureCommand(DeputyWords):
    """model: needs a phrasing the learned model is unsure of."""

    CANDIDATES = ("M1001 那边已经去看过了", "M1001 明天", "M1001 路面已经补平", "M1001 好")

    def test_an_unsure_command_is_asked_and_never_relayed_on_a_guess(self):
        text = next((t for t in self.CANDIDATES
                     if not reading(t).get("certain", True)
                     and reading(t)["label"] not in ("cmd.detail", "cmd.list")), None)
        if text is None:
            self.skipTest("the model is sure of every candidate phrasing")
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, text)
        q = self.expect(WANG, m, "M1001：", "回复数字")
        self.assertRegex(q, r"^M1001：1 \S+ 2 \S+ 3 \S+ 4 \S+？回复数字$")
        self.quiet(RESIDENT, m, 1)
        self.assertEqual(self.case("M1001")["state"], "assigned")
        digit = re.search(r"(\d) 进展", q).group(1)
        m = self.say(WANG, digit)
        self.assertIn(text.split(" ", 1)[1], self.expect(RESIDENT, m, "M1001进展"))
        self.assertEqual(self.case("M1001")["state"], "in_progress")


class TestModelPhrasings(DeputyWords):
    """model: these phrasings are read right by the learned model only."""

    def test_asking_about_a_case_is_detail_and_reaches_no_one(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "M1001 具体什么情况")
        self.expect(WANG, m, "M1001", "幸福路12号")
        self.quiet(RESIDENT, m)
        self.assertEqual(self.case("M1001")["state"], "assigned")
        m = self.say(WANG, "接单 M1001")
        self.expect(RESIDENT, m, "M1001", "受理")

    def test_a_question_is_no_report(self):
        # however the model reads it, a question never reaches the resident
        # as progress or result without the deputy confirming it
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "M1001 修好了吗")
        self.expect(WANG, m, "M1001")
        self.quiet(RESIDENT, m)
        self.assertEqual(self.case("M1001")["state"], "assigned")

    def resolves(self, text):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, text)
        self.expect(RESIDENT, m, "M1001已办结", "请回复1-5评价")
        self.assertEqual(self.case("M1001")["state"], "resolved")

    def test_fixed(self):
        self.resolves("M1001 修好了")

    def test_done_with_result(self):
        self.resolves("M1001 完成，路面已经补平")

    def test_solved(self):
        self.resolves("M1001 问题解决了")

    def test_ok_accepts(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "OK M1001")
        self.expect(RESIDENT, m, "M1001", "受理")
        self.assertEqual(self.case("M1001")["state"], "accepted")

    def test_tell_the_resident(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "跟群众说一下 M1001 明天有人去")
        told = self.expect(RESIDENT, m, "明天有人去")
        self.assertIn("回复您：明天有人去", told)

    def test_my_list(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "查一下我的待办")
        self.expect(WANG, m, "待办1件", "M1001")

    def test_transfer_glued_to_the_name(self):
        self.open_case(LAMP, "M1001")
        m = self.say(WANG, "M1001转李建国")
        self.expect(LI, m, "M1001")
        self.assertEqual(self.case("M1001")["deputy"], "D0007")


if __name__ == "__main__":
    unittest.main()
