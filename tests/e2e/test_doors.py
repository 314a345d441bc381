"""Doors and HTTP framing (issue 13, "Hardening"): per-request deadlines a
trickle cannot extend, the connection cap with accept paused (never
spinning, also on EMFILE), rate-limited warnings, the internal listener,
and HEAD / CONNECT / duplicate Content-Length / header folding on raw
sockets.  Every attack targets 127.0.0.1 only, is bounded in count and
time and stops by itself."""

import os
import resource
import select
import socket
import time
import unittest

from harness import StackCase, free_port, wait_until

WORKERS = 2


def raw(port, data, timeout=3):
    """Sends `data` on a fresh connection; returns (everything read until the
    peer closed or `timeout` passed, whether the peer closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got, closed, end = b"", False, time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([s], [], [], end - time.time())
            if not r:
                break
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
        return got, closed
    finally:
        s.close()


def responses(data):
    """The raw HTTP/1.1 answers in `data`, each without its "HTTP/1.1 "."""
    return data.split(b"HTTP/1.1 ")[1:]


def head_of(blob):
    top, _, rest = blob.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split()[1]), headers, rest


def healthz_time(port):
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return time.time() - t0, data


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warn_lines(log, event):
    return [ln for ln in log.splitlines() if "event=" + event in ln or " %s " % event in ln]


class Framing(StackCase):

    def setUp(self):
        super().setUp()
        self.port = self.stack.daemon.port

    def test_head_has_length_and_no_body_so_a_pipelined_get_stays_in_step(self):
        data, _ = raw(self.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first, second = responses(data)
        status, headers, rest = head_of(b"HTTP/1.1 " + first)
        self.assertEqual(status, 200)
        self.assertEqual(rest, b"", "HEAD answer carried a body")
        status2, headers2, body2 = head_of(b"HTTP/1.1 " + second)
        self.assertEqual(status2, 200)
        self.assertEqual(headers["content-length"], headers2["content-length"])
        self.assertEqual(int(headers2["content-length"][0]), len(body2))
        # HEAD elsewhere: refused, and still bodiless
        data, _ = raw(self.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, rest = head_of(data)
        self.assertEqual(status, 405)
        self.assertEqual(rest, b"")
        self.assertGreater(int(headers["content-length"][0]), 0)

    def test_connect_is_refused_and_the_connection_really_closed(self):
        t0 = time.time()
        data, closed = raw(self.port, b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"
                                      b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        self.assertTrue(closed, "socket left open after CONNECT")
        self.assertLess(time.time() - t0, 3)
        self.assertEqual(len(responses(data)), 1, "a request after CONNECT was served")
        self.assertEqual(head_of(data)[0], 405)

    def test_two_content_lengths_are_refused(self):
        for lengths in ((b"5", b"5"), (b"5", b"40")):
            data, closed = raw(self.port, b"POST /chat/x HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Length: " + lengths[0] + b"\r\n"
                                          b"Content-Length: " + lengths[1] + b"\r\n\r\nhello")
            self.assertEqual(head_of(data)[0], 400, lengths)
            self.assertIn(b"Content-Length", data)
            self.assertTrue(closed)
        data, closed = raw(self.port, b"POST /chat/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertEqual(head_of(data)[0], 400)
        self.assertTrue(closed)

    def test_folded_header_lines_are_refused(self):
        for fold in (b" ", b"\t"):
            data, closed = raw(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n" + fold +
                                          b"two\r\n\r\n")
            self.assertEqual(head_of(data)[0], 400, fold)
            self.assertIn(b"folding", data)
            self.assertTrue(closed)
        # a folded line in a pipelined second request is caught too, after
        # the first (clean) one is answered
        data, closed = raw(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")
        answers = responses(data)
        self.assertEqual([head_of(b"HTTP/1.1 " + a)[0] for a in answers], [200, 400])
        self.assertTrue(closed)
        # spaces in a body are not folding
        body = b'{"a":\r\n 1}'
        data, _ = raw(self.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(head_of(data)[0], 200)


class InternalListener(StackCase):

    def setUp(self):
        self.internal = free_port()
        self.overrides = {"listen_internal": "127.0.0.1:%d" % self.internal}
        super().setUp()
        self.port = self.stack.daemon.port

    def status(self, port, path):
        data, _ = raw(port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                                      b"Connection: close\r\n\r\n")
        return head_of(data)[0]

    def test_internal_endpoints_only_on_the_internal_listener(self):
        for path in ("/metrics", "/admin/cases", "/sms/kannel?from=13800138000&text=x",
                     "/sms/kannel/dlr?ref=1&type=1"):
            self.assertEqual(self.status(self.port, path), 404, path)
        self.assertEqual(self.status(self.internal, "/metrics"), 200)
        self.assertEqual(self.status(self.internal, "/admin/cases"), 401)
        self.assertEqual(self.status(self.internal, "/chat/x"), 404)
        self.assertEqual(self.status(self.internal, "/wechat/x"), 404)
        self.assertEqual(self.status(self.port, "/healthz"), 200)
        self.assertEqual(self.status(self.internal, "/healthz"), 200)
        self.assertEqual(self.status(self.port, "/chat/nosuch"), 405)


class DoorFaults(StackCase):
    """The descriptor-holding client of issue 13: thousands of idle and
    trickling connections.  The daemon stays responsive, its log small, and
    the trickling sockets are closed by the deadline."""

    TIMEOUT_S = 3
    IDLE = 2500
    TRICKLE = 300

    def setUp(self):
        self.internal = free_port()
        self.overrides = {"workers": WORKERS, "log_level": "info",
                          "listen_internal": "127.0.0.1:%d" % self.internal,
                          "limits": {"header_timeout_s": self.TIMEOUT_S,
                                     "body_timeout_s": self.TIMEOUT_S}}
        super().setUp()
        self.port = self.stack.daemon.port
        self.held = []

    def tearDown(self):
        for s in self.held:
            s.close()
        super().tearDown()

    def hold(self, n, port=None):
        out = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port or self.port))
            out.append(s)
        self.held += out
        return out

    def closed_by_peer(self, socks):
        n = 0
        for s in socks:
            try:
                if s.recv(1) == b"":
                    n += 1
            except BlockingIOError:
                pass
            except OSError:
                n += 1
        return n

    def test_idle_and_trickling_connections_are_cut_by_the_deadline(self):
        d = self.stack.daemon
        log_before = len(d.log)
        idle = self.hold(self.IDLE)
        trickle = self.hold(self.TRICKLE)
        time.sleep(0.3)
        # a third trickles its request line, a third its headers, a third its body
        starts = (b"GET /sms/kannel?from=1",
                  b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
                  b"POST /chat/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        for i, s in enumerate(trickle):
            try:
                s.send(starts[i % 3])
            except OSError:
                pass
        cpu0, t0 = cpu_seconds(d.proc.pid), time.time()
        worst = 0
        deadline = t0 + self.TIMEOUT_S + 3
        while time.time() < deadline:
            for s in trickle:          # one byte per socket and second
                try:
                    s.send(b"3")
                except OSError:
                    pass
            took, data = healthz_time(self.port)
            self.assertIn(b" 200 ", data.split(b"\r\n")[0] + b" ")
            worst = max(worst, took)
            time.sleep(1)
        cpu = cpu_seconds(d.proc.pid) - cpu0
        cut_trickle = self.closed_by_peer(trickle)
        cut_idle = self.closed_by_peer(idle)
        grown = d.log[log_before:]
        print("\nfaults: held_doors idle=%d trickle=%d cut_idle=%d cut_trickle=%d "
              "worst_healthz_ms=%d cpu_ms=%d log_bytes=%d"
              % (self.IDLE, self.TRICKLE, cut_idle, cut_trickle, worst * 1000, cpu * 1000,
                 len(grown)), flush=True)
        self.assertLess(worst, 1.0)
        self.assertEqual(cut_trickle, self.TRICKLE, "trickling sockets outlived the deadline")
        self.assertEqual(cut_idle, self.IDLE)
        lines = [ln for ln in grown.splitlines() if ln.strip()]
        self.assertLessEqual(len(lines), 12, "\n".join(lines[:20]))
        self.assertTrue(warn_lines(grown, "request_deadline"))
        self.assertLess(cpu, 0.5 * (time.time() - t0))

    def test_headers_and_body_have_deadlines_of_their_own(self):
        d = self.stack.daemon
        d.stop()
        d.config["limits"] = {"header_timeout_s": 2, "body_timeout_s": 5}
        d.start()
        head = b"POST /chat/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
        slow_head, slow_body, long_body = (socket.create_connection(("127.0.0.1", self.port))
                                           for _ in range(3))
        self.held += [slow_head, slow_body, long_body]
        slow_body.sendall(head % 4)       # done after ~3.5 s: past the header deadline
        long_body.sendall(head % 20)      # not done by the body deadline
        t0 = time.time()
        cut = {}
        for i in range(8):        # a byte a second on each, for at most 8 s
            for name, s, data in (("head", slow_head, (head % 4)[i:i + 1]),
                                  ("body", slow_body, b"x" if i < 4 else b""),
                                  ("long", long_body, b"x")):
                if name in cut or not data:
                    continue
                try:
                    s.send(data)
                    if select.select([s], [], [], 0)[0] and s.recv(4096, socket.MSG_PEEK) == b"":
                        cut[name] = time.time() - t0
                except OSError:
                    cut[name] = time.time() - t0
            time.sleep(0.45 if i == 0 else 1)
        # the head trickle dies at its header deadline
        self.assertIn("head", cut)
        self.assertLess(cut["head"], 3.5)
        # a body sent within body_timeout_s after quick headers is answered,
        # though it took longer than header_timeout_s
        slow_body.settimeout(3)
        answer = slow_body.recv(4096)
        self.assertTrue(answer.startswith(b"HTTP/1.1 "), answer)
        # a body still trickling past body_timeout_s is cut
        long_body.settimeout(3)
        try:
            rest = long_body.recv(4096)
        except OSError:
            rest = b""
        self.assertEqual(rest, b"")

    def test_at_the_cap_accept_pauses_and_resumes(self):
        d = self.stack.daemon
        d.stop()
        d.config["limits"] = {"max_connections": 64, "header_timeout_s": 30}
        d.start()
        log_before = len(d.log)
        held = self.hold(400)
        time.sleep(1)
        cpu0 = cpu_seconds(d.proc.pid)
        time.sleep(2)
        cpu = cpu_seconds(d.proc.pid) - cpu0
        self.assertLess(cpu, 0.5, "daemon spins at the cap")
        took, data = healthz_time(self.internal)   # the internal door has headroom
        self.assertLess(took, 1.0)
        self.assertIn(b"200", data.split(b"\r\n")[0])
        # the public door is full: a new client waits in the backlog...
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(select.select([s], [], [], 1.0)[0], [])
        # ...and is served once the held connections go
        for h in held:
            h.close()
        self.held = [s]
        s.settimeout(5)
        self.assertIn(b" 200 ", s.recv(4096))
        lines = warn_lines(d.log[log_before:], "connections_at_cap")
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), 2 * WORKERS * 2)

    def test_out_of_descriptors_accept_rests_instead_of_spinning(self):
        d = self.stack.daemon
        log_before = len(d.log)
        # lower the daemon's descriptor limit below its connection cap, as
        # a host with a small limit would
        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (300, 300))
        held = self.hold(700)
        time.sleep(1)
        cpu0 = cpu_seconds(d.proc.pid)
        time.sleep(2)
        cpu = cpu_seconds(d.proc.pid) - cpu0
        grown = d.log[log_before:]
        self.assertLess(cpu, 0.5, "daemon spins on EMFILE")
        self.assertLess(len(grown.splitlines()), 12, grown[:3000])
        self.assertTrue(warn_lines(grown, "accept_failed"), grown[:3000])
        for h in held:
            h.close()
        self.held = []
        wait_until(lambda: healthz_time(self.port)[0] < 1.0, 3 * self.TIMEOUT_S,
                   "healthz after the held connections went")


if __name__ == "__main__":
    unittest.main()
