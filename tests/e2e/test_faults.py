"""Nothing lost under faults (contract §3 Durability, §8): Redis outages
(the spool answers 200 and replays in order), kill -9 of mashangd under
load and while it holds a spool, duplicate deliveries, and a gateway that
refuses sends (retries, dead letters, redelivery).  Each scenario prints a
summary line: sent, answered 200, stored, delivered, lost."""

import json
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import StackCase, wait_until

DEPUTY = "+8613900000001"
RESIDENT_O = "+8613800138777"


def mo(daemon, sender, text, msg_id, timeout=5):
    """One MO as Kannel's get-url would deliver it; returns the status."""
    q = urllib.parse.urlencode({"from": sender, "to": "10690001", "text": text, "id": msg_id,
                                "coding": "0", "charset": "UTF-8"})
    try:
        with urllib.request.urlopen("%s/sms/kannel?%s" % (daemon.url, q), timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError:
        return 0, {}


def summary(name, **counts):
    print("\nfaults: %s %s" % (name, " ".join("%s=%d" % kv for kv in counts.items())), flush=True)


class Faults(StackCase):

    # no per-sender limit here: the load comes from few senders on purpose
    overrides = {"outbox": {"backoff_ms": 200, "max_attempts": 3},
                 "limits": {"sender_per_minute": 0}, "workers": 2}

    @property
    def r(self):
        return self.stack.redis.client

    def stored_ids(self):
        return {k.rsplit(":", 1)[1] for k in self.r.scan_iter(match="{mashang}:seen:sms:*", count=1000)}

    def cases(self):
        return self.r.zcard("{mashang}:cases")

    def test_redis_outage_is_bridged_by_the_spool(self):
        """Redis stopped for OUTAGE_S (default 30) seconds under steady load:
        every message is answered 200 from the spool, replayed in order
        once Redis is back, and stored exactly once."""
        import os
        outage = float(os.environ.get("OUTAGE_S", "30"))
        d = self.stack.daemon
        answered, stop = {}, threading.Event()

        def load():
            i = 0
            while not stop.is_set():
                mid = "o%d" % i
                answered[mid] = mo(d, "+861380001%04d" % (i % 200), "幸福路%d号的路灯坏了" % i, mid)[0]
                i += 1
                time.sleep(0.05)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(1)
        self.stack.redis.stop()
        time.sleep(outage)
        # a resident's later message while the spool is still full keeps its order
        self.stack.redis.start()
        time.sleep(1)
        stop.set()
        t.join()
        sent = len(answered)
        ok = {k for k, v in answered.items() if v == 200}
        wait_until(lambda: self.cases() == sent, 60, "%d cases in Redis" % sent)
        stored = self.stored_ids()
        lost = ok - stored
        summary("redis_outage", sent=sent, answered_200=len(ok), stored=len(ok & stored),
                lost=len(lost), outage_s=int(outage))
        self.assertEqual(len(ok), sent)
        self.assertEqual(lost, set())
        self.assertEqual(self.cases(), sent)      # exactly once each

    def test_spool_keeps_a_residents_order(self):
        d = self.stack.daemon
        self.stack.redis.stop()
        self.assertEqual(mo(d, RESIDENT_O, "幸福路12号的路灯坏了三天了", "ord1")[0], 200)
        self.assertEqual(mo(d, RESIDENT_O, "查询", "ord2")[0], 200)
        self.stack.redis.start()
        # the status query was replayed after the concern: it names the case
        self.stack.kannel.wait_mt(RESIDENT_O, "（", timeout=20)
        wait_until(lambda: any("M1001" in t and "编号" not in t
                               for t in self.stack.kannel.mts(RESIDENT_O)), 20, "status answer")

    def test_kill_while_holding_a_spool(self):
        d = self.stack.daemon
        self.stack.redis.stop()
        codes = [mo(d, "+86138111%05d" % i, "光明街的垃圾没人清运%d" % i, "k%d" % i)[0] for i in range(5)]
        self.assertEqual(codes, [200] * 5)
        d.kill()
        self.stack.redis.start()
        d.start()
        wait_until(lambda: self.cases() == 5, 20, "5 spooled cases replayed after restart")
        summary("kill_with_spool", sent=5, answered_200=codes.count(200), stored=self.cases(),
                lost=5 - self.cases())

    def test_kill_under_load_loses_nothing_answered(self):
        d = self.stack.daemon
        results, stop = {}, threading.Event()

        def load(prefix):
            i = 0
            while not stop.is_set() and i < 400:
                mid = "%s%d" % (prefix, i)
                results[mid] = mo(d, "+861380000%04d" % (i % 50), "青山大道%d号路面塌陷" % i, mid, timeout=2)[0]
                i += 1

        threads = [threading.Thread(target=load, args=(p,)) for p in ("x", "y")]
        for t in threads:
            t.start()
        time.sleep(1.0)
        d.kill()
        time.sleep(0.3)
        d.start()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        ok = {k for k, v in results.items() if v == 200}
        stored = self.stored_ids()
        lost = ok - stored
        summary("kill_under_load", sent=len(results), answered_200=len(ok),
                stored=len(ok & stored), lost=len(lost))
        self.assertGreater(len(ok), 100)
        self.assertEqual(lost, set())
        # Kannel retries what was not answered 200 with the same id; a
        # retry of something that was in fact stored is deduped.
        for k, v in results.items():
            if v != 200:
                i = int(k[1:])
                self.assertEqual(mo(d, "+861380000%04d" % (i % 50), "青山大道%d号路面塌陷" % i, k)[0], 200)
        self.assertEqual(self.cases(), len(results))   # exactly one case per message

    def test_duplicate_delivery_is_one_case(self):
        d = self.stack.daemon
        codes = [mo(d, "+8613800138000", "幸福路12号的路灯坏了三天了", "dup-1")[0] for _ in range(3)]
        self.assertEqual(codes, [200, 200, 200])
        self.assertEqual(self.cases(), 1)
        summary("duplicates", sent=3, answered_200=codes.count(200), stored=self.cases(), lost=0)

    def test_refused_sends_go_dead_and_are_redelivered(self):
        d = self.stack.daemon
        k = self.stack.kannel
        # point the daemon at a sendsms URL that refuses: the wrong password (403 = permanent)
        d.stop()
        d.config["channels"]["sms"]["password"] = "wrong"
        d.start()
        self.assertEqual(mo(d, "+8613800138000", "幸福路12号的路灯坏了三天了", "dead-1")[0], 200)
        wait_until(lambda: self.r.llen("{mashang}:outbox:dead") == 2, 20, "2 dead messages")
        before = len(k.mts("+8613800138000"))
        d.stop()
        d.config["channels"]["sms"]["password"] = k.password
        d.start()
        status, _ = d.admin("/admin/outbox/retry", method="POST")
        self.assertEqual(status, 200)
        k.wait_mt("+8613800138000", "M1001", timeout=15, after=before)
        k.wait_mt(DEPUTY, "M1001", timeout=15)
        summary("dead_letter", sent=2, answered_200=1, stored=1,
                delivered=len(k.mts("+8613800138000")) - before, lost=0)

    def test_gateway_down_is_retried_with_backoff(self):
        d = self.stack.daemon
        k = self.stack.kannel
        from harness import free_port
        d.stop()
        good = d.config["channels"]["sms"]["sendsms_url"]
        d.config["channels"]["sms"]["sendsms_url"] = "http://127.0.0.1:%d/cgi-bin/sendsms" % free_port()
        d.config["outbox"] = {"backoff_ms": 1000, "max_attempts": 8}
        d.start()
        self.assertEqual(mo(d, "+8613800138000", "幸福路12号的路灯坏了三天了", "retry-1")[0], 200)
        wait_until(lambda: int(self.r.hget("{mashang}:out:1", "attempts") or 0) >= 2, 10,
                   "two failed attempts")
        self.assertEqual(self.r.hget("{mashang}:out:1", "state"), "ready")   # not dead: retrying
        d.stop()
        d.config["channels"]["sms"]["sendsms_url"] = good
        d.start()
        k.wait_mt("+8613800138000", "M1001", timeout=20)
        attempts = int(self.r.hget("{mashang}:out:1", "attempts"))
        summary("gateway_down", sent=2, answered_200=1, stored=1, delivered=1, lost=0)
        self.assertGreaterEqual(attempts, 3)
        self.assertEqual(self.r.hget("{mashang}:out:1", "state"), "sent")

    def test_dead_instance_leases_are_reclaimed_once(self):
        """What an instance killed mid-send leaves behind: messages it had
        only claimed are sent by the survivor, once; an SMS whose request had
        started is settled by Kannel's delivery report (a report: it was
        sent; none: it never reached Kannel, send it); on a channel without
        reports it is set aside as uncertain, never sent twice."""
        r, k = self.r, self.stack.kannel
        self.stack.daemon.stop()
        now_ms = int(time.time() * 1000)
        rows = ((901, "sms", "claimed", None), (902, "sms", "claimed", None),
                (903, "sms", "sending", "accepted"), (904, "sms", "sending", None),
                (905, "chat:relay", "sending", None))
        for oid, channel, state, dlr in rows:
            fields = {"channel": channel, "to": "+8613800138%03d" % oid, "text": "租约测试%d" % oid,
                      "case": "", "kind": "reply", "attempts": 0, "created": now_ms,
                      "state": state, "owner": "dead-host:1:0"}
            if dlr:
                fields["dlr"] = dlr
            r.hset("{mashang}:out:%d" % oid, mapping=fields)
            r.zadd("{mashang}:outbox:inflight", {str(oid): now_ms - 1000})
        self.stack.daemon.start()
        for oid in (901, 902, 904):
            k.wait_mt("+8613800138%03d" % oid, "租约测试%d" % oid, timeout=15)
        wait_until(lambda: r.hget("{mashang}:out:905", "state") == "uncertain", 10, "905 uncertain")
        time.sleep(2)
        for oid in (901, 902, 904):
            self.assertEqual(len([t for t in k.mts("+8613800138%03d" % oid) if "租约测试" in t]), 1)
        self.assertEqual(k.mts("+8613800138903"), [])
        self.assertEqual(r.hget("{mashang}:out:903", "state"), "sent")
        self.assertEqual(r.lrange("{mashang}:outbox:uncertain", 0, -1), ["905"])
        summary("reclaim", sent=5, answered_200=0, stored=5, delivered=3, lost=0)

if __name__ == "__main__":
    unittest.main()
