"""mashangd on a real Redis Cluster: six redis-server nodes with
--cluster-enabled (3 masters, 3 replicas, built by redis-cli --cluster
create).  The daemon is given two seed nodes, finds the master of its
namespace's slot, follows the slot when it moves (MOVED), waits out a
migration in the spool (ASK), and survives the master's kill -9 with
redis_wait_replicas 1: every message answered 200 has exactly one case and
its resident exactly one acknowledgement.  docs/scaling.md."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import (REPO, Daemon, Kannel, Proc, REDIS_SERVER, _mkdtemp, dump_logs, free_port,
                     http_get, wait_until, case_failed)

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
NS = "county7"
DEPUTY = "+8613900000001"
LAMP = "幸福路12号的路灯坏了三天了"
ACK = re.compile(r"编号[A-Z]+\d+")


def cluster_port():
    """A free port p whose cluster bus port p + 10000 is free too, both
    below the kernel's ephemeral range."""
    while True:
        p = free_port()
        if p + 10000 >= 32768:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 10000))
            except OSError:
                continue
        return p


class Cluster:
    """Six local nodes; `client(port)` a plain client of one node,
    `cluster` a cluster-aware one (redis-py)."""

    def __init__(self):
        self.dir = _mkdtemp("e2e-cluster-")
        self.ports = [cluster_port() for _ in range(6)]
        self.procs = {}

    def start_node(self, port):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d, exist_ok=True)
        argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", "--appendonly", "yes",
                "--appendfsync", "everysec", "--save", "", "--protected-mode", "no",
                "--logfile", ""]
        self.procs[port] = Proc("redis-%d" % port, argv, os.path.join(d, "redis.log"), cwd=d)

    def start(self):
        for p in self.ports:
            self.start_node(p)
        for p in self.ports:
            wait_until(lambda: self.cli(p, "PING").strip() == "PONG", 10, "node %d" % p)
        subprocess.run([REDIS_CLI, "--cluster", "create"] +
                       ["127.0.0.1:%d" % p for p in self.ports] +
                       ["--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        wait_until(self.ok, 30, "cluster_state:ok on every node")
        wait_until(self.replicas_synced, 30, "every replica in sync with its master")
        return self

    def replicas_synced(self):
        roles = [self.cli(p, "INFO", "replication") for p in self.ports]
        replicas = [r for r in roles if "role:slave" in r]
        return len(replicas) == 3 and all("master_link_status:up" in r for r in replicas)

    def ok(self):
        return all("cluster_state:ok" in self.cli(p, "CLUSTER", "INFO")
                   for p in self.ports if self.procs[p].alive())

    def cli(self, port, *args):
        r = subprocess.run([REDIS_CLI, "-p", str(port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def slot(self, key):
        return int(self.cli(self.ports[0], "CLUSTER", "KEYSLOT", key).strip())

    def nodes(self):
        """{port: (id, role, slots-text)} from CLUSTER NODES of a live node."""
        live = next(p for p in self.ports if self.procs[p].alive())
        out = {}
        for line in self.cli(live, "CLUSTER", "NODES").splitlines():
            f = line.split()
            port = int(f[1].split("@")[0].rsplit(":", 1)[1])
            role = "master" if "master" in f[2] and "fail" not in f[2] else (
                "failed" if "fail" in f[2] else "replica")
            out[port] = (f[0], role, f[8:])
        return out

    def master_of(self, slot):
        for port, (nid, role, ranges) in self.nodes().items():
            if role != "master":
                continue
            for r in ranges:
                if r.startswith("["):
                    continue
                lo, _, hi = r.partition("-")
                if int(lo) <= slot <= int(hi or lo):
                    return port
        return None

    @property
    def url(self):
        return "redis://127.0.0.1:%d,127.0.0.1:%d" % (self.ports[0], self.ports[1])

    @property
    def cluster(self):
        from redis.cluster import ClusterNode, RedisCluster
        if getattr(self, "_cluster", None) is None:
            live = [ClusterNode("127.0.0.1", p) for p in self.ports if self.procs[p].alive()]
            self._cluster = RedisCluster(startup_nodes=live, decode_responses=True)
        return self._cluster

    def forget_client(self):
        """After a failover: a new client reads the new slot map."""
        if getattr(self, "_cluster", None) is not None:
            self._cluster.close()
            self._cluster = None

    def stop(self):
        for p in self.procs.values():
            p.kill()


class ClusterStack(unittest.TestCase):
    """Six nodes, Kannel and a daemon given two seeds; configure() shapes
    the daemon's config before it starts."""
    start_timeout = 15

    def configure(self, config):
        pass

    def setUp(self):
        self.cl = Cluster().start()
        self.port = free_port()
        self.kannel = Kannel(app_url="http://127.0.0.1:%d" % self.port).start()

        class Seeds:   # what Daemon needs of a Redis: its URL
            url = self.cl.url
        self.daemon = Daemon(Seeds, self.kannel, port=self.port, log_level="info")
        self.configure(self.daemon.config)
        self.daemon.start(timeout=self.start_timeout)

    def tearDown(self):
        if case_failed(self):
            dump_logs(self.daemon, self.kannel, None)
        try:
            self.kannel.stop(check=False)
            self.daemon.stop(timeout=10)
        finally:
            self.cl.stop()


class ClusterCase(ClusterStack):
    """One county, `county7`."""
    wait_replicas = 0

    def configure(self, config):
        config.update({"namespace": NS, "redis_wait_replicas": self.wait_replicas,
                       "redis_wait_ms": 2000})

    def setUp(self):
        super().setUp()
        self.slot = self.cl.slot("{%s}:" % NS)

    # -- helpers -------------------------------------------------------------
    def mo(self, sender, text, msg_id):
        """One MO as Kannel's get-url delivers it; returns the HTTP status."""
        q = urllib.parse.urlencode({"from": sender, "to": "10690001", "text": text, "id": msg_id})
        code, _ = http_get("%s/sms/kannel?%s" % (self.daemon.url, q), timeout=15)
        return code

    def cases_of(self, sender):
        """Case ids of a resident, read through the cluster."""
        c = self.cl.cluster
        ids = c.zrange("{%s}:rcases:sms:%s" % (NS, sender), 0, -1)
        return ids

    class Residents:
        """A thread of residents writing one new concern each, every
        `interval` s, until stopped; `sent` holds (resident, HTTP status)."""

        def __init__(self, case, series, text, interval):
            self.case, self.series, self.text, self.interval = case, series, text, interval
            self.sent, self.stop = [], threading.Event()
            self.thread = threading.Thread(target=self.run)

        def run(self):
            i = 0
            while not self.stop.is_set():
                i += 1
                who = "+8613800%d%05d" % (self.series, i)
                self.sent.append((who, self.case.mo(who, self.text % i, "%d-%d" % (self.series, i))))
                time.sleep(self.interval)

        def __enter__(self):
            self.thread.start()
            return self

        def __exit__(self, *exc):
            self.stop.set()
            self.thread.join()

    def acks(self, sender):
        return [m for m in self.kannel.mts(sender) if ACK.search(m)]

    def kill_master_under_load(self, series, text, interval, then):
        """kill -9 of the slot's master while residents write; `then(old
        master's port)` runs once a replica is promoted, still under load.
        Returns the residents whose message was answered 200."""
        owner = self.cl.master_of(self.slot)
        with self.Residents(self, series, text, interval) as writers:
            time.sleep(1.0)
            self.cl.procs[owner].kill()
            wait_until(lambda: self.cl.master_of(self.slot) not in (None, owner), 30,
                       "a replica promoted for slot %d" % self.slot)
            time.sleep(1.0)
            then(owner)
        self.cl.forget_client()
        accepted = [who for who, code in writers.sent if code == 200]
        self.assertGreater(len(accepted), 20)
        return accepted


class TestCluster(ClusterCase):
    def test_conversation_and_a_moved_slot(self):
        owner = self.cl.master_of(self.slot)
        self.assertIsNotNone(owner)
        # The daemon found the master of its slot, not (only) the seeds.
        wait_until(lambda: "slot=%d node=127.0.0.1:%d" % (self.slot, owner) in self.daemon.log,
                   10, "redis_ready on the slot's master")
        resident = "+8613800138000"
        self.assertEqual(self.mo(resident, LAMP, "c-1"), 200)
        ack = self.kannel.wait_mt(resident, lambda t: "编号" in t, timeout=15)
        case = re.search(r"编号([A-Z]+\d+)", ack).group(1)
        self.kannel.wait_mt(DEPUTY, lambda t: case in t, timeout=15)
        self.assertEqual(self.cl.cluster.hget("{%s}:case:%s" % (NS, case), "state"), "assigned")

        # Move the slot to another master while residents keep writing:
        # during the migration the messages wait in the spool (-ASK is not
        # followed); once it is over -MOVED sends the daemon to the new owner.
        nodes = self.cl.nodes()
        target = next(p for p, (nid, role, _) in nodes.items() if role == "master" and p != owner)
        src_id, dst_id = nodes[owner][0], nodes[target][0]
        with self.Residents(self, 1, "解放路%d号门口的下水道堵了", 0.05) as writers:
            time.sleep(0.5)
            self.cl.cli(target, "CLUSTER", "SETSLOT", self.slot, "IMPORTING", src_id)
            self.cl.cli(owner, "CLUSTER", "SETSLOT", self.slot, "MIGRATING", dst_id)
            while True:
                # A few keys at a time, slowly, so that messages arrive
                # while the slot is half moved.
                keys = self.cl.cli(owner, "CLUSTER", "GETKEYSINSLOT", self.slot, 5).split()
                if not keys:
                    break
                self.cl.cli(owner, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
                time.sleep(0.1)
            for p, (nid, role, _) in self.cl.nodes().items():
                if role == "master":
                    self.cl.cli(p, "CLUSTER", "SETSLOT", self.slot, "NODE", dst_id)
            time.sleep(1.5)
        sent = writers.sent
        wait_until(lambda: self.cl.master_of(self.slot) == target, 10, "slot moved")
        self.cl.forget_client()
        self.assertTrue(sent)
        self.assertTrue(all(code == 200 for _, code in sent), sent)
        # Every message answered 200: one case, one acknowledgement.
        for who, _ in sent:
            wait_until(lambda: len(self.cases_of(who)) == 1, 30, "one case for %s" % who)
            wait_until(lambda: len(self.acks(who)) >= 1, 30, "an ack to %s" % who)
            self.assertEqual(len(self.acks(who)), 1, who)
        log = self.daemon.log
        # Messages that came mid-migration were answered -ASK and spooled
        # (not run against half of the keys), then the slot's new owner
        # answered -MOVED and the store followed it.
        self.assertRegex(log, r"event=step_failed error=\S*ASK %d" % self.slot)
        self.assertIn("action=spooled", log)
        self.assertIn("event=redis_moved slot=%d" % self.slot, log)
        # The first case is still there and workable on the new owner.
        marks = len(self.kannel.mts(resident))
        self.assertEqual(self.mo(DEPUTY, "接单 " + case, "c-2"), 200)
        self.kannel.wait_mt(resident, lambda t: case in t, timeout=15, after=marks)


class TestClusterFailover(ClusterCase):
    wait_replicas = 1

    def test_master_killed_under_load_loses_nothing(self):
        def old_master_back(owner):
            # The promoted master has no replica: WAIT 1 cannot succeed and
            # every message waits in the spool until the old master is back
            # (it rejoins as the new master's replica).
            self.cl.start_node(owner)
            wait_until(self.cl.replicas_synced, 30, "the old master back as a replica")
            time.sleep(1.0)
        accepted = self.kill_master_under_load(2, "建设路%d号的路灯不亮了", 0.03, old_master_back)
        for who in accepted:
            wait_until(lambda: len(self.cases_of(who)) >= 1, 60, "a case for %s" % who)
            self.assertEqual(len(self.cases_of(who)), 1, who)
            wait_until(lambda: len(self.acks(who)) >= 1, 60, "an ack to %s" % who)
        log = self.daemon.log
        # While the master was gone (and while its successor had no replica
        # for WAIT), messages waited in the spool instead of failing.
        self.assertIn("action=spooled", log)
        twice = [who for who in accepted if len(self.acks(who)) > 1]
        print("\n  failover: %d messages answered 200, each with one case; %d spooled, "
              "%d WAIT short of a replica, %d residents acknowledged twice"
              % (len(accepted), log.count("action=spooled"), log.count("event=replicas_short"),
                 len(twice)))
        # No acknowledgement missing (above), none sent twice.
        self.assertEqual(twice, [])


class TestClusterFailoverNoWait(ClusterCase):
    """The same kill -9 with redis_wait_replicas 0: what the master had
    answered and not yet passed to its replica can be gone.  Reported, not
    asserted: it shows the trade-off docs/scaling.md describes."""
    wait_replicas = 0

    def test_what_a_failover_loses_without_wait(self):
        accepted = self.kill_master_under_load(3, "和平路%d号的路灯不亮了", 0.02,
                                               lambda owner: time.sleep(0.5))
        time.sleep(3)
        lost = [who for who in accepted if not self.cases_of(who)]
        print("\n  failover without WAIT: %d messages answered 200, %d of them without a case "
              "after the replica took over" % (len(accepted), len(lost)))


COUNTY_ROSTER = os.path.join(REPO, "config", "deputies.json")


def county(i):
    return {"id": "c%03d" % i, "name": "县%03d" % i, "namespace": "county%03d" % i,
            "roster": COUNTY_ROSTER, "numbers": ["10691%03d" % i],
            "admin_token": "county-%03d-admin-token" % i}


class TestClusterCounties(ClusterStack):
    """A province on one cluster: every county's keys in its own slot, the
    slots spread over the masters, each county carried by the master of
    its slot, and a county's administrator blind to the others."""

    COUNTIES = 100
    start_timeout = 60

    def configure(self, config):
        for per_tenant in ("namespace", "roster"):
            config.pop(per_tenant, None)
        config["workers"] = 1
        config["tenants"] = [county(i) for i in range(1, self.COUNTIES + 1)]

    def mo(self, to, sender, text, msg_id):
        q = urllib.parse.urlencode({"from": sender, "to": to, "text": text, "id": msg_id})
        return http_get("%s/sms/kannel?%s" % (self.daemon.url, q), timeout=15)[0]

    def test_a_province_spreads_over_the_masters(self):
        d = self.daemon
        code, body = d.admin("/admin/tenants")
        self.assertEqual(code, 200)
        self.assertEqual(len(body["tenants"]), self.COUNTIES)
        self.assertTrue(all(t["redis"] for t in body["tenants"]))
        slots = {t["id"]: self.cl.slot("{%s}:" % t["namespace"]) for t in body["tenants"]}
        self.assertEqual(len(set(slots.values())), self.COUNTIES, "one slot per county")
        masters = {cid: self.cl.master_of(slot) for cid, slot in slots.items()}
        per_master = {}
        for cid, port in masters.items():
            per_master.setdefault(port, []).append(cid)
        print("\n  %d counties over %d masters: %s" % (
            self.COUNTIES, len(per_master), ", ".join("%d" % len(v) for v in per_master.values())))
        self.assertEqual(len(per_master), 3, "every master holds counties")
        # One connection to each master (one worker), whatever its counties.
        for port in per_master:
            clients = self.cl.cli(port, "CLIENT", "LIST").count("name=mashangd ")
            self.assertEqual(clients, 1, "connections of the daemon to %d" % port)
        # Each county went to the master of its slot.
        for t in body["tenants"]:
            self.assertIn("ns=%s slot=%d node=127.0.0.1:%d" % (t["namespace"], slots[t["id"]],
                                                                masters[t["id"]]), d.log)

        # One county per master carries the README conversation.
        picks = [v[0] for v in per_master.values()]
        for n, cid in enumerate(picks):
            i = int(cid[1:])
            number, ns = "10691%03d" % i, "county%03d" % i
            resident = "+86138001%05d" % i
            self.assertEqual(self.mo(number, resident, LAMP, "p-%d" % n), 200)
            ack = self.kannel.wait_mt(resident, lambda t: "编号M1001" in t, timeout=15)
            self.assertIn("王丽", ack)
            self.assertEqual(self.mo(number, DEPUTY, "接单 M1001", "a-%d" % n), 200)
            self.kannel.wait_mt(resident, lambda t: "M1001" in t and "编号" not in t, timeout=15)
            self.assertEqual(self.mo(number, DEPUTY, "办结 M1001 已修好", "r-%d" % n), 200)
            self.kannel.wait_mt(resident, lambda t: "已修好" in t, timeout=15)
            self.assertEqual(self.mo(number, resident, "5", "s-%d" % n), 200)
            c = self.cl.cluster
            wait_until(lambda: c.hget("{%s}:case:M1001" % ns, "state") == "closed", 15,
                       "county %s closed" % cid)
            self.assertEqual({m.sender for m in self.kannel.mt_records(resident)}, {number})
        # A county's token reaches its own county only.
        a, b = picks[0], picks[1]
        token_a = "county-%s-admin-token" % a[1:]
        code, body = d.admin("/admin/tenants/%s/cases/M1001" % a, token=token_a)
        self.assertEqual((code, body["tenant"]), (200, a))
        self.assertEqual(d.admin("/admin/tenants/%s/cases/M1001" % b, token=token_a)[0], 404)
        code, body = d.admin("/admin/tenants/%s/cases/M1001" % b)
        self.assertEqual((code, body["tenant"]), (200, b))


if __name__ == "__main__":
    unittest.main()
