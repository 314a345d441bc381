"""Case work beyond the first conversation (contract §4-§7), through real
Kannel and Redis: transfer, escalation, relayed questions and answers,
follow-ups, withdrawal, low ratings, opt-out, and the timers (reminders,
escalation of late cases, rating window) — also with two daemons sharing
one Redis, where every timer must fire exactly once."""

import re
import time
import unittest

from harness import PhoneTalk, REPO, Daemon, StackCase, wait_until

RESIDENT = "+8613800138000"
RESIDENT2 = "+8613800138111"
WANG = "+8613900000001"        # 王丽 D0412, S01 (幸福路), liaison of S01
LI = "+8613900000002"          # 李建国 D0007, S02 (光明村), liaison of S02
ZHAO = "+8613900000003"        # 赵秀英 D0008, S02
CHEN = "+8613900000004"        # 陈志强 D0103, S04 (青山镇), liaison of S04
COMMITTEE = "+8613900000099"
LAMP = "幸福路12号的路灯坏了三天了"
MT_TIMEOUT = 15


class CaseWork(PhoneTalk, StackCase):
    PARTIES = (RESIDENT, WANG, LI, ZHAO, COMMITTEE)

    overrides = {"outbox": {"backoff_ms": 200}}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client


    def case(self, cid):
        return self.r.hgetall("{mashang}:case:%s" % cid)

    def history(self, cid):
        return self.r.lrange("{mashang}:hist:%s" % cid, 0, -1)

    def open_lamp(self):
        m = self.say(RESIDENT, LAMP)
        self.expect(RESIDENT, m, "M1001")
        self.expect(WANG, m, "M1001")


class TestDeputyCommands(CaseWork):

    def test_transfer_moves_the_case_and_tells_everyone(self):
        self.open_lamp()
        m = self.say(WANG, "转 M1001 D0007 属于光明村")
        self.expect(LI, m, "M1001")
        self.expect(RESIDENT, m, "M1001", "李建国")
        self.expect(WANG, m, "M1001", "李建国")
        c = self.case("M1001")
        self.assertEqual(c["deputy"], "D0007")
        self.assertEqual(c["routed_by"], "transfer")
        self.assertEqual(c["state"], "assigned")
        self.assertEqual(self.r.zscore("{mashang}:dq:D0412", "M1001"), None)
        self.assertIsNotNone(self.r.zscore("{mashang}:dq:D0007", "M1001"))
        # the old deputy can no longer act on it
        m = self.say(WANG, "接单 M1001")
        self.expect(WANG, m, "M1001")
        self.assertEqual(self.case("M1001")["state"], "assigned")
        # the new one can
        m = self.say(LI, "接单 M1001")
        self.expect(RESIDENT, m, "M1001", "李建国")

    def test_transfer_to_unknown_deputy_is_refused(self):
        self.open_lamp()
        m = self.say(WANG, "转 M1001 D9999")
        reply = self.expect(WANG, m, "D9999")
        self.assertIn("没有找到", reply)
        self.assertEqual(self.case("M1001")["deputy"], "D0412")

    def test_escalate_goes_to_liaison_then_committee(self):
        # a 光明村 case handled by 赵秀英: her station's liaison is 李建国
        m = self.say(RESIDENT, "光明村东头的自来水管爆了，水流了一地")
        ack = self.expect(RESIDENT, m, "编号")
        cid = re.search(r"M\d+", ack).group(0)
        dep = self.case(cid)["deputy"]
        handler = {"D0007": LI, "D0008": ZHAO}[dep]
        m = self.say(handler, "上报 %s 需要县里协调资金" % cid)
        if dep == "D0008":
            self.expect(LI, m, cid, "需要县里协调资金")
        else:
            self.expect(COMMITTEE, m, cid)
        self.expect(RESIDENT, m, cid, "上报")
        m = self.say(handler, "上报 %s 还是没有进展" % cid)
        if dep == "D0008":
            self.expect(COMMITTEE, m, cid)
        self.assertEqual(self.case(cid)["escalated"], "2")
        self.assertIn(self.case(cid)["state"], ("assigned",))

    def test_relayed_question_and_answer(self):
        self.open_lamp()
        m = self.say(WANG, "回复 M1001 请问是哪一盏灯？")
        self.expect(RESIDENT, m, "请问是哪一盏灯")
        m = self.say(RESIDENT, "门口那盏")
        self.expect(WANG, m, "M1001", "门口那盏")
        self.expect(RESIDENT, m, "M1001")
        events = [h for h in self.history("M1001") if "followup" in h]
        self.assertEqual(len(events), 1)
        # the answer did not open a second case
        self.assertFalse(self.r.exists("{mashang}:case:M1002"))

    def test_follow_up_is_appended_and_forwarded(self):
        self.open_lamp()
        m = self.say(RESIDENT, "补充：就在小卖部旁边")
        self.expect(WANG, m, "M1001", "小卖部")
        self.assertFalse(self.r.exists("{mashang}:case:M1002"))
        # a new concern is a new case, not a follow-up
        m = self.say(RESIDENT, "光明街的垃圾好几天没人清运了，臭气熏天")
        self.expect(RESIDENT, m, "M1002")

    def test_id_may_be_omitted_with_one_open_case(self):
        self.open_lamp()
        m = self.say(WANG, "接单")
        self.expect(RESIDENT, m, "M1001", "受理")
        self.assertEqual(self.case("M1001")["state"], "accepted")

    def test_detail_and_list(self):
        self.open_lamp()
        m = self.say(WANG, "详情 M1001")
        detail = self.expect(WANG, m, "M1001", "幸福路12号")
        self.assertNotIn("13800138000", detail)   # resident masked
        self.assertIn("138****8000", detail)
        m = self.say(WANG, "待办")
        self.expect(WANG, m, "M1001")


class TestResidentSide(CaseWork):

    def test_withdraw(self):
        self.open_lamp()
        m = self.say(RESIDENT, "撤销M1001")
        self.expect(RESIDENT, m, "M1001", "撤销")
        self.expect(WANG, m, "M1001")
        self.assertEqual(self.case("M1001")["state"], "withdrawn")
        self.assertIsNone(self.r.zscore("{mashang}:dq:D0412", "M1001"))

    def test_low_rating_reopens_and_tells_committee(self):
        self.open_lamp()
        self.say(WANG, "接单 M1001")
        m = self.say(WANG, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "已更换灯泡")
        m = self.say(RESIDENT, "不满意，还是不亮")
        self.expect(COMMITTEE, m, "M1001")
        self.expect(RESIDENT, m, "M1001")
        c = self.case("M1001")
        self.assertEqual(c["state"], "assigned")
        self.assertEqual(c["rating"], "1")
        self.assertIsNotNone(self.r.zscore("{mashang}:dq:D0412", "M1001"))

    def test_rating_word(self):
        self.open_lamp()
        m = self.say(WANG, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "已更换灯泡")
        self.say(RESIDENT, "基本满意")
        wait_until(lambda: self.case("M1001").get("state") == "closed", 10, "closed")
        self.assertEqual(self.case("M1001")["rating"], "3")

    def test_optout_stops_pushes_but_not_answers(self):
        self.open_lamp()
        m = self.say(RESIDENT, "退订")
        self.expect(RESIDENT, m, "退订")
        m = self.say(WANG, "进展 M1001 已联系路灯所")
        self.expect(WANG, m, "M1001")
        m2 = self.say(RESIDENT, "查询")
        self.expect(RESIDENT, m2, "已联系路灯所")   # the answer to their own question
        pushed = [t for t in self.since(RESIDENT, m) if t.startswith("【码上说】M1001进展")]
        self.assertEqual(pushed, [])
        m = self.say(RESIDENT, "订阅")
        self.expect(RESIDENT, m, "恢复")
        m = self.say(WANG, "进展 M1001 明天上午更换")
        self.expect(RESIDENT, m, "明天上午更换")


class TestTimers(CaseWork):
    timers = {"accept_s": 4, "progress_s": 600, "resolve_s": 600, "rating_s": 3}

    def test_reminders_then_escalation_when_not_accepted(self):
        m = self.say(RESIDENT, LAMP)
        self.expect(RESIDENT, m, "M1001")
        self.expect(WANG, m, "时限过半", timeout=10)
        self.expect(WANG, m, "已到", timeout=10)
        # 王丽 is her station's liaison: escalation goes to the committee
        self.expect(COMMITTEE, m, "M1001", timeout=12)
        c = self.case("M1001")
        self.assertEqual(c["escalated"], "2")
        reminders = [t for t in self.since(WANG, m) if "时限过半" in t]
        self.assertEqual(len(reminders), 1)

    def test_accepting_in_time_stops_the_accept_timers(self):
        m = self.say(RESIDENT, LAMP)
        self.expect(WANG, m, "M1001")
        self.say(WANG, "接单 M1001")
        time.sleep(7)
        self.assertEqual([t for t in self.since(WANG, m) if "时限" in t], [])
        self.assertNotIn("escalated", self.case("M1001"))

    def test_rating_window_closes_unrated(self):
        self.open_lamp()
        m = self.say(WANG, "办结 M1001 已更换灯泡")
        self.expect(RESIDENT, m, "评价")
        self.expect(RESIDENT, m, "评价期已过", timeout=10)
        c = self.case("M1001")
        self.assertEqual(c["state"], "closed")
        self.assertNotIn("rating", c)


class TestTwoInstances(CaseWork):
    timers = {"accept_s": 4, "progress_s": 600, "resolve_s": 600}

    def test_timers_fire_once_with_two_daemons(self):
        second = Daemon(self.stack.redis, self.stack.kannel, timers=self.timers)
        second.start()
        try:
            m = self.say(RESIDENT, LAMP)
            self.expect(RESIDENT, m, "M1001")
            self.expect(COMMITTEE, m, "M1001", timeout=12)
            time.sleep(1.5)
            wang = self.since(WANG, m)
            self.assertEqual(len([t for t in wang if "时限过半" in t]), 1, wang)
            self.assertEqual(len([t for t in wang if "已到" in t]), 1, wang)
            self.assertEqual(len(self.since(COMMITTEE, m)), 1)
        finally:
            second.stop()


if __name__ == "__main__":
    unittest.main()


class TestRosterReload(StackCase):
    """SIGHUP reloads the roster: a broken file keeps the running one; a
    deputy who left has their open cases handed to their station's
    liaison, and the committee is told."""

    def setUp(self):
        import json, os, tempfile
        with open(os.path.join(REPO, "config", "deputies.json"), encoding="utf-8") as f:
            self.roster = json.load(f)
        self.tmp = tempfile.mkdtemp(prefix="e2e-roster-")
        self.path = os.path.join(self.tmp, "deputies.json")
        self.write(self.roster)
        self.overrides = {"roster": self.path}
        super().setUp()
        self.r = self.stack.redis.client

    def write(self, roster):
        import json
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(roster if isinstance(roster, str) else json.dumps(roster, ensure_ascii=False))

    def hup(self, expect):
        import signal
        n = self.stack.daemon.log.count(expect)
        self.stack.daemon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.stack.daemon.log.count(expect) > n, 10, "log %r" % expect)

    def test_removed_deputy_cases_go_to_liaison(self):
        m = {n: self.stack.mt_count(n) for n in (RESIDENT, LI, COMMITTEE)}
        # 光明街 is S02 (李建国 D0007 liaison, 赵秀英 D0008); route to 赵秀英 explicitly
        self.stack.send_mo(RESIDENT, "@D0008 光明街的垃圾好几天没人清运了")
        ack = self.stack.kannel.wait_mt(RESIDENT, "编号", timeout=MT_TIMEOUT, after=m[RESIDENT])
        cid = re.search(r"M\d+", ack).group(0)
        self.assertEqual(self.r.hget("{mashang}:case:%s" % cid, "deputy"), "D0008")

        self.write("{ not json")
        self.hup("event=reload_failed")
        self.assertTrue(self.stack.daemon.healthy())

        roster = dict(self.roster)
        roster["deputies"] = [d for d in self.roster["deputies"] if d["id"] != "D0008"]
        self.write(roster)
        self.hup("event=rerouted")
        self.stack.kannel.wait_mt(LI, cid, timeout=MT_TIMEOUT, after=m[LI])
        self.stack.kannel.wait_mt(COMMITTEE, "D0008", timeout=MT_TIMEOUT, after=m[COMMITTEE])
        c = self.r.hgetall("{mashang}:case:%s" % cid)
        self.assertEqual(c["deputy"], "D0007")
        self.assertEqual(self.r.zcard("{mashang}:dq:D0008"), 0)

    def test_two_quick_reloads_both_reroute(self):
        """Two reloads in quick succession, each removing a deputy with an
        open case: the second does not replace the first, so both
        deputies' cases go to their stations' liaisons."""
        import json, os, signal
        m = {n: self.stack.mt_count(n) for n in (RESIDENT, LI, CHEN)}
        cids = {}
        for dep, text in (("D0008", "@D0008 光明街的垃圾好几天没人清运了"),
                          ("D0104", "@D0104 青山大道的路灯坏了三天了")):
            n = self.stack.mt_count(RESIDENT)
            self.stack.send_mo(RESIDENT, text)
            ack = self.stack.kannel.wait_mt(RESIDENT, "编号", timeout=MT_TIMEOUT, after=n)
            cids[dep] = re.search(r"M\d+", ack).group(0)
            self.assertEqual(self.r.hget("{mashang}:case:%s" % cids[dep], "deputy"), dep)

        def publish(gone):
            roster = dict(self.roster)
            roster["deputies"] = [d for d in self.roster["deputies"] if d["id"] not in gone]
            tmp = self.path + ".new"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(roster, f, ensure_ascii=False)
            os.replace(tmp, self.path)   # a reload never reads half a file
            self.stack.daemon.proc.send_signal(signal.SIGHUP)

        publish({"D0008"})
        wait_until(lambda: "removed=1" in self.stack.daemon.log, 10, "first reload")
        publish({"D0008", "D0104"})   # while the workers may still be taking the first
        self.stack.kannel.wait_mt(LI, cids["D0008"], timeout=MT_TIMEOUT, after=m[LI])
        self.stack.kannel.wait_mt(CHEN, cids["D0104"], timeout=MT_TIMEOUT, after=m[CHEN])
        wait_until(lambda: self.stack.daemon.log.count("event=rerouted") >= 2, 10, "two reroutes")
        self.assertEqual(self.r.hget("{mashang}:case:%s" % cids["D0008"], "deputy"), "D0007")
        self.assertEqual(self.r.hget("{mashang}:case:%s" % cids["D0104"], "deputy"), "D0103")
        self.assertEqual(self.r.zcard("{mashang}:dq:D0008"), 0)
        self.assertEqual(self.r.zcard("{mashang}:dq:D0104"), 0)


class TestIntentsReload(StackCase):
    """SIGHUP and POST /admin/reload swap the intents whole: a broken file
    is reported as file:line and the running set stays; a good edit is
    picked up without a restart."""

    def setUp(self):
        import os, shutil, tempfile
        self.dir = os.path.join(tempfile.mkdtemp(prefix="e2e-intents-"), "intents")
        shutil.copytree(os.path.join(REPO, "intents"), self.dir)
        self.overrides = {"intents": self.dir}
        super().setUp()

    def reload(self, expect):
        n = self.stack.daemon.log.count(expect)
        status, _ = self.stack.daemon.admin("/admin/reload", method="POST")
        self.assertEqual(status, 202)
        wait_until(lambda: self.stack.daemon.log.count(expect) > n, 10, "log %r" % expect)

    def test_broken_file_keeps_running_set_and_good_edit_applies(self):
        import os
        bad = os.path.join(self.dir, "zz_bad.intents")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("[broken]\nkind = concern\nlabel = roads\npattern = (unclosed\n")
        self.reload("event=reload_failed")
        self.assertIn("zz_bad.intents:4", self.stack.daemon.log)
        m = self.stack.mt_count(RESIDENT)
        self.stack.send_mo(RESIDENT, LAMP)
        self.stack.kannel.wait_mt(RESIDENT, "M1001", timeout=MT_TIMEOUT, after=m)

        # a new fixed form, added by an administrator as a rule, works after reload
        with open(bad, "w", encoding="utf-8") as f:
            f.write("[greeting_extra]\nkind = chat\nlabel = chat.greeting\nrule = yes\n"
                    "pattern = ^芝麻开门$\nexample = 芝麻开门\n")
        self.reload("event=reloaded")
        m = self.stack.mt_count(RESIDENT)
        self.stack.send_mo(RESIDENT, "芝麻开门")
        self.stack.kannel.wait_mt(RESIDENT, "人大代表联络平台", timeout=MT_TIMEOUT, after=m)

    def test_broken_training_file_keeps_running_set_and_new_examples_retrain(self):
        import os
        extra = os.path.join(self.dir, "train", "zz_extra.tsv")
        with open(extra, "w", encoding="utf-8") as f:
            f.write("chat.greeting\t芝麻芝麻请开门\nno.such.label\t随便\n")
        self.reload("event=reload_failed")
        self.assertIn("zz_extra.tsv:2", self.stack.daemon.log)
        # the running set still works
        m = self.stack.mt_count(RESIDENT)
        self.stack.send_mo(RESIDENT, LAMP)
        self.stack.kannel.wait_mt(RESIDENT, "M1001", timeout=MT_TIMEOUT, after=m)
        # examples of a new way of greeting, added and reloaded, retrain the model
        with open(extra, "w", encoding="utf-8") as f:
            for line in ("芝麻芝麻请开门", "芝麻请开门", "芝麻开门吧", "开门芝麻", "芝麻芝麻开开门",
                         "喂 芝麻开门", "芝麻开门 你好"):
                f.write("chat.greeting\t%s\n" % line)
        self.reload("event=reloaded")
        m = self.stack.mt_count(RESIDENT2)
        self.stack.send_mo(RESIDENT2, "芝麻芝麻开门呀")
        self.stack.kannel.wait_mt(RESIDENT2, "人大代表联络平台", timeout=MT_TIMEOUT, after=m)
