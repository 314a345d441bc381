"""A resident's data through the admin API: exported on request, erased on
request (contract §11 masking; issue: export and erase by address)."""

import json
import unittest
import urllib.parse

from harness import StackCase

RESIDENT = "+8613800138000"
OTHER = "+8613800138999"


class Privacy(StackCase):

    def setUp(self):
        super().setUp()
        self.r = self.stack.redis.client

    def test_export_then_erase(self):
        k = self.stack.kannel
        self.stack.send_mo(RESIDENT, "幸福路12号的路灯坏了三天了")
        k.wait_mt(RESIDENT, "M1001", timeout=15)
        self.stack.send_mo(OTHER, "光明街的垃圾好几天没人清运了")
        k.wait_mt(OTHER, "M1002", timeout=15)

        # the admin case view masks the number
        status, body = self.stack.daemon.admin("/admin/cases/M1001")
        self.assertEqual(status, 200)
        self.assertNotIn("13800138000", json.dumps(body, ensure_ascii=False))

        # export by address, in any phone form
        q = urllib.parse.urlencode({"channel": "sms", "addr": "13800138000"})
        status, doc = self.stack.daemon.admin("/admin/residents?" + q)
        self.assertEqual(status, 200)
        self.assertEqual(doc["addr"], RESIDENT)
        self.assertEqual([c["case"]["id"] for c in doc["cases"]], ["M1001"])
        self.assertIn("路灯", doc["cases"][0]["case"]["text"])
        self.assertTrue(doc["cases"][0]["history"])

        status, doc = self.stack.daemon.admin("/admin/residents/erase", method="POST",
                                               body={"channel": "sms", "addr": RESIDENT})
        self.assertEqual(status, 200)
        self.assertEqual(doc["cases"], 1)
        case = self.r.hgetall("{mashang}:case:M1001")
        self.assertEqual(case["addr"], "erased")
        self.assertEqual(case["text"], "[已删除]")
        self.assertEqual(case["state"], "withdrawn")
        self.assertFalse(self.r.exists("{mashang}:res:sms:%s" % RESIDENT))
        self.assertIsNone(self.r.zscore("{mashang}:dq:D0412", "M1001"))
        self.assertNotIn("幸福路12号", "".join(self.r.lrange("{mashang}:hist:M1001", 0, -1)))
        # the other resident is untouched
        self.assertIn("光明街", self.r.hget("{mashang}:case:M1002", "text"))
        status, doc = self.stack.daemon.admin("/admin/residents?" + q)
        self.assertEqual(doc["cases"], [])

    def test_bad_requests(self):
        status, _ = self.stack.daemon.admin("/admin/residents?channel=sms&addr=abc")
        self.assertEqual(status, 400)
        status, _ = self.stack.daemon.admin("/admin/residents?channel=sms&addr=1&x=1")
        self.assertEqual(status, 400)
        status, _ = self.stack.daemon.admin("/admin/residents/erase", method="POST", body={"channel": "sms"})
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
