"""Common issues (共性问题) and 小组商 through real Kannel and Redis: three
residents reporting one broken light become one common issue with one
notice to the deputy as it grows, 办结 R… reaches every resident and asks
each to rate, another place stays apart; 小组商 reaches the station's
group, 意见 the asking deputy, 议定 the resident (docs/lifecycle.md).
One stack for the whole scenario, to keep the suite short."""

import os
import re
import subprocess

from harness import PhoneTalk, MASHANGCTL as CTL, StackCase, wait_until

R1, R2, R3, R4, R5 = ("+861380013800%d" % i for i in range(1, 6))
WANG = "+8613900000001"        # 王丽 D0412, S01 (幸福路), its only deputy
LI = "+8613900000002"          # 李建国 D0007, S02 (光明村), liaison of S02
ZHAO = "+8613900000003"        # 赵秀英 D0008, S02
MT_TIMEOUT = 15


class TestCommonAndGroup(PhoneTalk, StackCase):
    PARTIES = (R1, R2, R3, R4, R5, WANG, LI, ZHAO)

    overrides = {"outbox": {"backoff_ms": 200}}

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client


    def case(self, cid):
        return self.r.hgetall("{mashang}:case:%s" % cid)

    def case_of(self, ack):
        return re.search(r"M\d+", ack).group(0)

    def test_common_issue_then_deliberation(self):
        # -- three residents, one light: one common issue ------------------
        m = self.say(R1, "幸福路12号的路灯坏了三天了")
        c1 = self.case_of(self.expect(R1, m, "编号"))
        self.expect(WANG, m, c1)
        # two more at the same moment: the join is atomic with the opening
        m = self.say(R2, "幸福路12号门口的路灯坏了好几天了")
        self.stack.send_mo(R3, "幸福路12号的路灯坏了，晚上很黑")
        c2 = self.case_of(self.expect(R2, m, "编号", "位居民反映"))
        c3 = self.case_of(self.expect(R3, m, "编号", "位居民反映"))
        wait_until(lambda: len([t for t in self.since(WANG, m) if "R1001" in t]) == 2, MT_TIMEOUT,
                   "two notices of R1001 to the deputy")
        notices = [t for t in self.since(WANG, m) if "R1001" in t]
        self.assertTrue(any("已有2位居民反映" in t for t in notices), notices)
        self.assertTrue(any("已有3位居民反映" in t for t in notices), notices)
        # no notice of a new case for the two that joined
        self.assertFalse([t for t in self.since(WANG, m) if "新事项" in t])
        for cid in (c1, c2, c3):
            self.assertEqual(self.case(cid)["common"], "R1001")
        self.assertEqual(self.r.zscore("{mashang}:commons", "R1001"), 3)

        # -- another place stays apart -------------------------------------
        m = self.say(R4, "幸福路30号的路灯坏了三天了")
        c4 = self.case_of(self.expect(R4, m, "编号"))
        self.expect(WANG, m, "新事项" + c4)
        self.assertNotIn("common", self.case(c4))

        # -- the station's 重点问题 list -----------------------------------
        status, doc = self.stack.daemon.admin("/admin/common")
        self.assertEqual(status, 200, doc)
        self.assertEqual([(i["id"], i["residents"], i["open"]) for i in doc["common"]], [("R1001", 3, 3)])
        self.assertEqual(doc["common"][0]["deputy_name"], "王丽")

        # -- split out and joined again by hand ----------------------------
        status, doc = self.stack.daemon.admin("/admin/common/split", "POST", {"case": c3})
        self.assertEqual((status, doc["action"], doc["common"]), (200, "split", "R1001"), doc)
        self.assertNotIn("common", self.case(c3))
        self.assertEqual(self.r.zscore("{mashang}:commons", "R1001"), 2)
        status, doc = self.stack.daemon.admin("/admin/common/join", "POST", {"case": c3, "into": "R1009"})
        self.assertEqual(status, 404, doc)
        m = self.marks()
        status, doc = self.stack.daemon.admin("/admin/common/join", "POST", {"case": c3, "into": "R1001"})
        self.assertEqual((status, doc["action"]), (200, "joined"), doc)
        self.expect(WANG, m, "R1001", "已有3位居民反映")
        # the same list through mashangctl
        env = dict(os.environ, MASHANG_URL=self.stack.daemon.url,
                   MASHANG_ADMIN_TOKEN=self.stack.daemon.admin_token)
        out = subprocess.run([CTL, "common"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"R1001\s+3\s+3\s+幸福路12号")

        # -- 办结 R1001 reaches all three, each asked to rate -------------
        m = self.say(WANG, "办结 R1001 已更换灯具")
        self.expect(WANG, m, "R1001", "3位居民")
        for who, cid in ((R1, c1), (R2, c2), (R3, c3)):
            self.expect(who, m, cid, "已更换灯具", "评价")
        self.assertEqual(self.case(c4)["state"], "assigned")
        # each rates their own case
        for who, cid, digit in ((R1, c1, "5"), (R2, c2, "4"), (R3, c3, "5")):
            m = self.say(who, digit)
            self.expect(who, m, cid)
            wait_until(lambda: self.case(cid).get("rating") == digit, MT_TIMEOUT, "rating of " + cid)
        status, doc = self.stack.daemon.admin("/admin/common")
        self.assertEqual(doc["common"], [])

        # -- 小组商: the station's group, the liaison's outcome -------------
        m = self.say(R5, "光明村东头的自来水管爆了，水流了一地")
        c5 = self.case_of(self.expect(R5, m, "编号"))
        handler = {"D0007": LI, "D0008": ZHAO}[self.case(c5)["deputy"]]
        other = ZHAO if handler == LI else LI
        m = self.say(handler, "小组商 %s 涉及两个村的管网" % c5)
        self.expect(other, m, c5, "涉及两个村的管网")
        self.expect(handler, m, c5, "小组商")
        m = self.say(other, "意见 %s 先请水务公司查明爆管原因" % c5)
        self.expect(handler, m, c5, "先请水务公司查明爆管原因")
        # 李建国 is the liaison of 光明村: he records the outcome
        m = self.say(LI, "议定 %s 水务公司三天内修复，村里配合" % c5)
        self.expect(R5, m, c5, "水务公司三天内修复")
        self.expect(LI, m, c5)
        c = self.case(c5)
        self.assertEqual(c["state"], "in_progress")
        events = [e for e in self.r.lrange("{mashang}:hist:%s" % c5, 0, -1)
                  if any(k in e for k in ("deliberation", "opinion", "decided"))]
        self.assertEqual(len(events), 3)
