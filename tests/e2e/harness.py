"""End-to-end harness: real Redis, real Kannel (bearerbox + smsbox + fakesmsc)
and the real mashangd, all on 127.0.0.1 with free ports in a temp dir.

    with Redis() as r, Kannel(app_url="http://127.0.0.1:%d" % port) as k:
        k.send_mo("+8613800138000", "10690001", "幸福路12号的路灯坏了三天了")
        text = k.wait_mt("+8613800138000", lambda t: "编号" in t)

Every process started here is registered and killed at interpreter exit even
if a test forgets to stop it (or dies half-way through set-up).
Facts about Kannel this relies on: shared/notes/kannel.md.
Python 3 standard library plus python3-redis only.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# `make BUILD=dir e2e` (several engineers building in one tree): binaries
# come from $BUILD (relative to the repo), default build/.
BUILD_DIR = os.path.join(REPO, os.environ.get("BUILD") or "build")
MASHANGCTL = os.path.join(BUILD_DIR, "mashangctl")
KANNEL_CONF = os.path.join(REPO, "config", "kannel", "kannel.conf")
BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
KEEP_TMP = bool(os.environ.get("E2E_KEEP_TMP"))  # keep temp dirs for post-mortems

# fakesmsc reads stdin with fgets(buf, 256): a line (with its newline) must
# stay below that or it is cut into two bogus messages.
FAKESMSC_LINE_MAX = 250


# --------------------------------------------------------------------------
# processes

_live = []  # every Proc not yet reaped; killed at exit


class Proc:
    """A child process in its own process group, output to a log file."""

    def __init__(self, name, argv, log_path, cwd=None, env=None, stdin=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.expected_exit = False
        _live.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal, wait up to timeout, then SIGKILL.  Returns the exit code."""
        self.expected_exit = True
        self.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.popen.wait(5)
        self._reap()
        return self.popen.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def _reap(self):
        if self in _live:
            _live.remove(self)
        if not self._log.closed:
            self._log.close()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=30):
        return "\n".join(self.log_text().splitlines()[-lines:])


@atexit.register
def _kill_leftovers():
    for p in list(_live):
        try:
            p.kill()
        except Exception:  # best effort at exit
            pass


# --------------------------------------------------------------------------
# small helpers

# E2E_SLOW=1 when the daemon runs under valgrind: start and stop take longer.
SLOW = 4 if os.environ.get("E2E_SLOW") else 1


def _port_range():
    """Ports below the kernel's ephemeral range: bind(0) would hand out a port
    that the next outgoing connection (a Redis client, curl) may take as its
    source port before the server we picked it for binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    high = max(low - 1, 12000)
    return 10000, high


_PORTS_GIVEN = set()
_PORT_CURSOR = [None]


def free_port():
    """A loopback TCP port free now, outside the ephemeral range, and never
    handed out twice by this process.  Each process starts at a different
    place in the range, so concurrent test processes rarely meet."""
    low, high = _port_range()
    span = high - low + 1
    if _PORT_CURSOR[0] is None:
        _PORT_CURSOR[0] = (os.getpid() * 7919) % span
    for _ in range(span):
        port = low + _PORT_CURSOR[0] % span
        _PORT_CURSOR[0] += 1
        if port in _PORTS_GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free loopback port in %d-%d" % (low, high))


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(cond, timeout, what, procs=(), interval=0.05):
    """Poll cond() until truthy; fail early if one of procs died."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        for p in procs:
            if not p.alive():
                raise RuntimeError("%s: %s exited with %s while waiting for %s\n%s"
                                   % (p.name, " ".join(p.argv), p.popen.returncode, what,
                                      p.log_tail()))
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def http_get(url, timeout=5):
    """(status, body-bytes) — never raises on HTTP error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def norm_phone(n):
    """Digits only, without a +86/86 prefix: '+8613800138000' == '13800138000'."""
    d = re.sub(r"\D", "", n or "")
    if d.startswith("0086"):
        d = d[4:]
    elif d.startswith("86") and len(d) == 13:
        d = d[2:]
    return d


def _mkdtemp(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    if not KEEP_TMP:
        atexit.register(shutil.rmtree, d, True)
    return d


_intents_cache = None


def intents_cache():
    """One model cache for the whole run: daemons of later tests read the
    models the first one trained instead of training again."""
    global _intents_cache
    if _intents_cache is None:
        # E2E_INTENTS_CACHE: a cache warmed beforehand (make valgrind warms
        # it natively, so no daemon trains under valgrind)
        _intents_cache = (os.environ.get("E2E_INTENTS_CACHE") or
                          os.path.join(_mkdtemp("e2e-intents-cache-"), "cache"))
    return _intents_cache


# --------------------------------------------------------------------------
# Redis

class Redis:
    """redis-server on a free loopback port with AOF (everysec) in a temp dir.
    stop()/kill() keep the directory, so start() again reloads the AOF."""

    def __init__(self, tmpdir=None, port=None):
        self.dir = tmpdir or _mkdtemp("e2e-redis-")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.proc = None
        self._client = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--daemonize", "no", "--protected-mode", "yes",
                "--logfile", ""]
        self.proc = Proc("redis", argv, os.path.join(self.dir, "redis.log"), cwd=self.dir)
        wait_until(self._ping, timeout, "redis PING on %d" % self.port, [self.proc])
        return self

    def _ping(self):
        try:
            return self.client.ping()
        except Exception:
            return False

    @property
    def client(self):
        import redis  # python3-redis
        if self._client is None:
            self._client = redis.Redis(host="127.0.0.1", port=self.port,
                                       decode_responses=True, socket_timeout=5)
        return self._client

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM)
        self._drop_client()

    def kill(self):
        if self.proc:
            self.proc.kill()
        self._drop_client()

    def restart(self):
        self.stop()
        return self.start()

    def _drop_client(self):
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


# --------------------------------------------------------------------------
# Kannel

class MT:
    """One message as the fake SMSC received it (parts already reassembled)."""

    def __init__(self, sender, receiver, text, parts=1):
        self.sender, self.receiver, self.text, self.parts = sender, receiver, text, parts

    def __repr__(self):
        return "MT(%s -> %s, %d part(s): %r)" % (self.sender, self.receiver, self.parts, self.text)


def _url_bytes(s):
    """Kannel's octstr_url_encode: %XX escapes, 0x20 as '+'."""
    return urllib.parse.unquote_to_bytes(s.replace("+", " "))


def _decode_payload(data, hint):
    """MT payload bytes → str.  hint: 'ucs-2', 'text' or 'data' (udh parts
    carry no coding: UTF-16BE unless it is plainly printable ASCII)."""
    if hint == "ucs-2":
        return data.decode("utf-16-be", "replace")
    if hint == "text":
        return data.decode("utf-8", "replace")
    if len(data) % 2 == 0 and not all(0x20 <= b < 0x7f or b in (9, 10, 13) for b in data):
        try:
            return data.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8", "replace")


def _concat_info(udh):
    """(ref, total, seq) from a UDH with a concatenation IE, else None."""
    i = 1
    while i + 1 < len(udh):
        iei, iel = udh[i], udh[i + 1]
        ie = udh[i + 2:i + 2 + iel]
        if iei == 0x00 and iel == 3:
            return ie[0], ie[1], ie[2]
        if iei == 0x08 and iel == 4:
            return (ie[0] << 8) | ie[1], ie[2], ie[3]
        i += 2 + iel
    return None


def parse_fakesmsc_log(text):
    """All MTs in a fakesmsc log, concatenated parts reassembled, in order of
    completion.  Lines look like `Got message 3: <FROM TO ucs-2 %4E%0A...>`."""
    out, pending = [], {}
    for m in re.finditer(r"Got message \d+: <(.*)>$", text, re.M):
        line = m.group(1)
        fields = line.split(" ", 3)
        if len(fields) < 4:
            continue
        sender, receiver, kind, rest = fields
        if kind == "udh":
            udh_enc, _, data_part = rest.partition(" ")
            # "<udh> data <payload>" (1.4.5) or "<udh> <payload>" (older)
            if data_part.startswith("data "):
                data_part = data_part[5:]
            udh, data = _url_bytes(udh_enc), _url_bytes(data_part)
            ci = _concat_info(udh)
            if ci is None or ci[1] <= 1:
                out.append(MT(sender, receiver, _decode_payload(data, "udh")))
                continue
            ref, total, seq = ci
            key = (sender, receiver, ref, total)
            parts = pending.setdefault(key, {})
            parts[seq] = data
            if len(parts) == total and all(s in parts for s in range(1, total + 1)):
                del pending[key]
                whole = b"".join(parts[s] for s in range(1, total + 1))
                out.append(MT(sender, receiver, _decode_payload(whole, "udh"), total))
        elif kind == "text":
            out.append(MT(sender, receiver, rest))
        else:  # "ucs-2", "data"
            out.append(MT(sender, receiver, _decode_payload(_url_bytes(rest), kind)))
    return out


def mo_lines(sender, receiver, text, ref=None):
    """fakesmsc stdin lines for one MO.

    Short texts go as a phone sends them: ASCII as `text` (GSM 7-bit),
    anything else as `ucs2` (percent-encoded UTF-16BE), which smsbox with
    mo-recode turns into UTF-8.  fakesmsc cuts stdin lines at 256 bytes, and
    a concatenated `udh-data` MO reaches the application as coding=1/8-BIT
    (fakesmsc cannot mark udh parts UCS-2), so longer texts go as raw UTF-8
    `text` (up to 70 characters, one SMS) or as concatenated `udh-text` parts
    of at most 67 characters: bearerbox reassembles them and the application
    sees exactly what a recoded concatenated UCS-2 MO looks like
    (coding=0, charset=UTF-8)."""
    if "\n" in text or "\r" in text:
        raise ValueError("fakesmsc cannot carry line breaks in a long/ASCII MO")
    head = "%s %s " % (sender, receiver)
    fits = lambda line: len(line.encode("utf-8")) <= FAKESMSC_LINE_MAX
    if all(0x20 <= ord(c) < 0x7f for c in text):
        if fits(head + "text " + text):
            return [head + "text " + text]
    else:
        line = head + "ucs2 " + urllib.parse.quote_from_bytes(text.encode("utf-16-be"), safe="")
        if fits(line):
            return [line]
        if len(text) <= 70 and fits(head + "text " + text):
            return [head + "text " + text]
    if ref is None:
        ref = int.from_bytes(os.urandom(2), "big")
    prefix_len = len((head + "udh-text %05%08%04%00%00%00%00 ").encode())
    chunks, cur = [], ""
    for c in text:
        if len(cur) >= 67 or prefix_len + len((cur + c).encode()) > FAKESMSC_LINE_MAX:
            chunks.append(cur)
            cur = ""
        cur += c
    chunks.append(cur)
    lines = []
    for seq, chunk in enumerate(chunks, 1):
        udh = bytes([5, 0x08, 4, ref >> 8, ref & 0xff, len(chunks), seq])
        lines.append(head + "udh-text %s %s" % (urllib.parse.quote_from_bytes(udh, safe=""), chunk))
    return lines


class Kannel:
    """bearerbox + smsbox + fakesmsc from a config derived from
    config/kannel/kannel.conf with free ports, app_url as the get-url's
    scheme://host:port and the temp dir for logs and store."""

    def __init__(self, app_url="http://127.0.0.1:8080", tmpdir=None, mo_recode=True,
                 template=KANNEL_CONF):
        self.app_url = app_url.rstrip("/")
        self.dir = tmpdir or _mkdtemp("e2e-kannel-")
        os.makedirs(self.dir, exist_ok=True)
        self.mo_recode = mo_recode
        self.template = template
        self.admin_port = free_port()
        self.box_port = free_port()
        self.smsc_port = free_port()
        self.sendsms_port = free_port()
        self.conf_path = os.path.join(self.dir, "kannel.conf")
        self.fifo_path = os.path.join(self.dir, "mo.fifo")
        self.fakesmsc_log = os.path.join(self.dir, "fakesmsc.log")
        self.procs = {}
        self._fifo_fd = None
        self.settings = {}

    # -- configuration ----------------------------------------------------
    def render(self):
        """Write kannel.conf; every substitution must hit exactly once, so a
        drifting template fails loudly instead of silently using 13013."""
        with open(self.template, encoding="utf-8") as f:
            text = f.read()

        def sub(pattern, repl, count=1):
            nonlocal text
            text, n = re.subn(pattern, repl, text, flags=re.M)
            if n != count:
                raise ValueError("%s: expected %d match(es) for %r, got %d"
                                 % (self.template, count, pattern, n))

        sub(r"^(admin-port\s*=\s*)\d+", r"\g<1>%d" % self.admin_port)
        sub(r"^(smsbox-port\s*=\s*)\d+", r"\g<1>%d" % self.box_port)
        sub(r"^(bearerbox-port\s*=\s*)\d+", r"\g<1>%d" % self.box_port)
        sub(r"^(port\s*=\s*)\d+", r"\g<1>%d" % self.smsc_port)
        sub(r"^(sendsms-port\s*=\s*)\d+", r"\g<1>%d" % self.sendsms_port)
        sub(r"^(mo-recode\s*=\s*)\S+", r"\g<1>%s" % ("true" if self.mo_recode else "false"))
        sub(r'^(get-url\s*=\s*"?)https?://[^/"]+', lambda m: m.group(1) + self.app_url)
        text, n = re.subn(r'"var/kannel/', '"' + self.dir + "/", text)
        if n == 0:
            raise ValueError("%s: no var/kannel/ paths to relocate" % self.template)
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(text)
        for key in ("admin-password", "username", "password", "default-sender", "get-url"):
            m = re.search(r'^%s\s*=\s*"?([^"\n]*)"?\s*$' % key, text, re.M)
            if m:
                self.settings[key] = m.group(1).strip()
        return self.conf_path

    @property
    def sendsms_url(self):
        return "http://127.0.0.1:%d/cgi-bin/sendsms" % self.sendsms_port

    @property
    def username(self):
        return self.settings.get("username", "mashang")

    @property
    def password(self):
        return self.settings.get("password", "mashang-dev")

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout=20, attempts=3):
        """Start the three boxes.  A port taken between choosing it and
        bearerbox binding it is retried with fresh ports; anything else fails."""
        for attempt in range(attempts):
            self.render()
            try:
                self._start(timeout)
                return self
            except BaseException:
                taken = self._port_taken()
                self.stop(check=False)
                if not taken or attempt + 1 == attempts:
                    raise
                self.procs = {}
                for path in (self.fifo_path, self.fakesmsc_log):
                    if os.path.exists(path):
                        os.unlink(path)
                self.admin_port, self.box_port = free_port(), free_port()
                self.smsc_port, self.sendsms_port = free_port(), free_port()
        return self

    def _port_taken(self):
        return any("Address already in use" in p.log_tail()
                   for p in self.procs.values())

    def _start(self, timeout):
        bb = self.procs["bearerbox"] = Proc(
            "bearerbox", [BEARERBOX, "-v", "1", self.conf_path],
            os.path.join(self.dir, "bearerbox.out"), cwd=self.dir)
        wait_until(lambda: port_open(self.admin_port) and port_open(self.smsc_port),
                   timeout, "bearerbox admin and fake-SMSC ports", [bb])
        sb = self.procs["smsbox"] = Proc(
            "smsbox", [SMSBOX, "-v", "1", self.conf_path],
            os.path.join(self.dir, "smsbox.out"), cwd=self.dir)
        wait_until(lambda: port_open(self.sendsms_port), timeout, "smsbox sendsms port", [bb, sb])
        # stdin opened read-write: fakesmsc is itself a writer of its FIFO,
        # so it never sees EOF when a writer goes away.
        os.mkfifo(self.fifo_path)
        fifo_in = os.open(self.fifo_path, os.O_RDWR)
        try:
            fs = self.procs["fakesmsc"] = Proc(
                "fakesmsc",
                ["stdbuf", "-i0", FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port),
                 "-i", "0", "-v", "0"],
                self.fakesmsc_log, cwd=self.dir, stdin=fifo_in)
        finally:
            os.close(fifo_in)
        self._fifo_fd = os.open(self.fifo_path, os.O_WRONLY | os.O_NONBLOCK)
        wait_until(self._ready, timeout, "bearerbox status: smsbox and fake SMSC online",
                   [bb, sb, fs], interval=0.1)

    def status(self):
        code, body = http_get("http://127.0.0.1:%d/status.txt?password=%s" % (
            self.admin_port, urllib.parse.quote(self.settings.get("admin-password", ""))))
        return body.decode("utf-8", "replace") if code == 200 else ""

    def _ready(self):
        st = self.status()
        smsc_online = re.search(r"^\s*fake\b.*\(online", st, re.M)
        box_online = re.search(r"^\s*smsbox:.*\(on-line", st, re.M)
        return bool(smsc_online and box_online)

    def died(self):
        """Names of Kannel processes that exited without being asked to."""
        return ["%s (exit %s)" % (n, p.popen.returncode)
                for n, p in self.procs.items() if not p.alive() and not p.expected_exit]

    def stop(self, check=True):
        """Kill everything.  With check, raise if a process had died on its own."""
        dead = self.died()
        report = "\n".join("%s died unexpectedly; log tail:\n%s" % (d, self.procs[d.split()[0]].log_tail())
                           for d in dead)
        for p in reversed(list(self.procs.values())):
            p.kill()
        if self._fifo_fd is not None:
            os.close(self._fifo_fd)
            self._fifo_fd = None
        if check and dead:
            raise RuntimeError("Kannel: " + report)
        return dead

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop(check=exc_type is None)

    # -- messages ---------------------------------------------------------
    def send_mo(self, sender, receiver, text):
        """Inject one MO (what a phone sends) through the fake SMSC."""
        if not self.procs.get("fakesmsc") or not self.procs["fakesmsc"].alive():
            raise RuntimeError("fakesmsc is not running")
        data = "".join(l + "\n" for l in mo_lines(sender, receiver, text)).encode()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fifo_fd, view)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            view = view[n:]

    def mt_records(self, to=None):
        try:
            with open(self.fakesmsc_log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        mts = parse_fakesmsc_log(text)
        if to is not None:
            mts = [m for m in mts if norm_phone(m.receiver) == norm_phone(to)]
        return mts

    def mts(self, to=None):
        """Decoded texts of all MTs received so far (optionally for one number)."""
        return [m.text for m in self.mt_records(to)]

    def wait_mt(self, to, predicate=None, timeout=10, after=0):
        """First MT to `to` (index >= after among that number's MTs) whose text
        satisfies predicate (a callable, or a substring); returns its text."""
        timeout *= SLOW
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda t: needle in t
        pred = predicate or (lambda t: True)

        def find():
            for t in self.mts(to)[after:]:
                if pred(t):
                    return t
            return None

        try:
            return wait_until(find, timeout, "an MT to %s" % to,
                              list(self.procs.values()), interval=0.1)
        except TimeoutError:
            raise AssertionError("no matching MT to %s within %ss; MTs to it so far: %r"
                                 % (to, timeout, self.mts(to)))

    def sendsms(self, to, text, sender=None, **extra):
        """Send an MT through smsbox's sendsms as the application would
        (UTF-8, coding=2).  Returns (status, body)."""
        q = {"username": self.username, "password": self.password,
             "from": sender or self.settings.get("default-sender", "10690001"),
             "to": to, "text": text, "charset": "UTF-8", "coding": "2"}
        q.update(extra)
        return http_get(self.sendsms_url + "?" + urllib.parse.urlencode(q))


# --------------------------------------------------------------------------
# mashangd

def _deep_merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = v
    return base


class Daemon:
    """build/mashangd with a config pointing at the given Redis and Kannel.
    The repo's config/mashang.json (if present) is the base, so its reply
    templates apply; overrides (a dict, deep-merged) come last."""

    ENV_OVERRIDES = ("MASHANG_LISTEN", "REDIS_URL", "MASHANG_ADMIN_TOKEN", "MASHANG_LOG_LEVEL")

    def __init__(self, redis, kannel, tmpdir=None, port=None, timers=None, overrides=None,
                 binary=None, log_level="debug"):
        self.redis, self.kannel = redis, kannel
        self.dir = tmpdir or _mkdtemp("e2e-mashangd-")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.binary = binary or os.environ.get("E2E_MASHANGD") or os.path.join(BUILD_DIR, "mashangd")
        self.config_path = os.path.join(self.dir, "mashang.json")
        self.log_path = os.path.join(self.dir, "mashangd.log")
        self.admin_token = "e2e-admin-token"
        self.log_level = log_level
        self.proc = None
        self.config = self._build_config(timers or {}, overrides or {})

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _build_config(self, timers, overrides):
        base = {}
        repo_conf = os.path.join(REPO, "config", "mashang.json")
        if os.path.exists(repo_conf):
            with open(repo_conf, encoding="utf-8") as f:
                base = json.load(f)
        k = self.kannel
        _deep_merge(base, {
            "listen": "127.0.0.1:%d" % self.port,
            "redis": self.redis.url,
            "roster": os.path.join(REPO, "config", "deputies.json"),
            "intents": os.path.join(REPO, "intents"),
            "intents_cache": intents_cache(),
            "admin_token": self.admin_token,
            "spool": os.path.join(self.dir, "spool"),
            "console": {"dir": os.path.join(REPO, "console")},
            "channels": {"sms": {
                "type": "kannel",
                "sendsms_url": k.sendsms_url,
                "username": k.username,
                "password": k.password,
                "from": k.settings.get("default-sender", "10690001"),
                "dlr_url": self.url + "/sms/kannel/dlr",
                # Tests stand in for Kannel with plain GETs; the key
                # (channels.sms.secret) is tested in test_gateway_auth.py,
                # which sets it.  Kannel's get-url carries it either way.
                "secret": None,
            }},
        })
        if timers:
            base.setdefault("timers", {}).update(timers)
        return _deep_merge(base, overrides)

    def write_config(self):
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(self.config, f, ensure_ascii=False, indent=2)

    def start(self, timeout=15):
        timeout *= SLOW
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError("%s not built (make all)" % self.binary)
        self.write_config()
        # Each worker answers 503 until its own Redis connection and scripts
        # are ready; one 200 says only that one worker is.  Count the
        # workers' redis_ready lines written by this start.
        self.mark_log()
        env = {k: v for k, v in os.environ.items() if k not in self.ENV_OVERRIDES}
        env["MASHANG_LOG_LEVEL"] = self.log_level
        self.proc = Proc("mashangd", [self.binary, "-c", self.config_path], self.log_path,
                         cwd=self.dir, env=env)
        try:
            wait_until(self.healthy, timeout, "mashangd GET /healthz -> 200", [self.proc],
                       interval=0.05)
        except BaseException:
            self.kill()
            raise
        return self

    def healthy(self):
        try:
            if http_get(self.url + "/healthz", timeout=1)[0] != 200:
                return False
        except OSError:
            return False
        if self.log_level in ("warn", "error"):
            return True       # redis_ready is an info line
        return self.workers_ready() >= self.workers()

    def mark_log(self):
        """From here on, workers_ready() counts only new redis_ready lines
        (call before restarting Redis, then wait_reconnected())."""
        try:
            self._log_mark = os.path.getsize(self.log_path)
        except OSError:
            self._log_mark = 0

    def wait_reconnected(self, timeout=15):
        """Every worker has its Redis connection and scripts back."""
        wait_until(self.healthy, timeout * SLOW, "every worker reconnected to Redis", [self.proc])

    def workers(self):
        return int(self.config.get("workers") or 0) or os.cpu_count() or 1

    def workers_ready(self):
        """redis_ready lines logged since the last start()."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_log_mark", 0))
                return f.read().count(b"event=redis_ready")
        except OSError:
            return 0

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit status (0 = graceful)."""
        timeout *= SLOW
        return self.proc.stop(signal.SIGTERM, timeout) if self.proc else None

    def kill(self):
        return self.proc.kill() if self.proc else None

    def restart(self, kill=False):
        self.kill() if kill else self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.alive()

    @property
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def admin(self, path, method="GET", body=None, token=None):
        """(status, parsed JSON or text) from the admin API, with the
        top-level token unless another is given."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Bearer " + (token or self.admin_token),
            "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def dump_logs(*things, lines=40, stream=sys.stderr):
    """Print the tail of each component's log (for failing tests)."""
    for t in things:
        procs = []
        if isinstance(t, Kannel):
            procs = list(t.procs.values())
        elif getattr(t, "proc", None):
            procs = [t.proc]
        for p in procs:
            stream.write("---- %s (%s) ----\n%s\n" % (p.name, p.log_path, p.log_tail(lines)))


class Stack:
    """Redis + Kannel + mashangd wired together, each fresh (own temp dirs).

        with Stack() as s:
            s.send_mo(RESIDENT, "幸福路12号的路灯坏了三天了")
            s.kannel.wait_mt(RESIDENT, "编号")
    """

    def __init__(self, timers=None, overrides=None, mo_recode=True, service="10690001"):
        self.service = service
        self.redis = Redis()
        self.port = free_port()
        self.kannel = Kannel(app_url="http://127.0.0.1:%d" % self.port, mo_recode=mo_recode)
        self.daemon = None
        self._timers, self._overrides = timers, overrides

    def start(self):
        try:
            self.redis.start()
            self.kannel.start()
            self.daemon = Daemon(self.redis, self.kannel, port=self.port,
                                 timers=self._timers, overrides=self._overrides)
            self.daemon.start()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def stop(self, check=True):
        """Kannel first, then the daemon (SIGTERM, graceful), then Redis.
        Kannel goes first because its smsbox may still be posting a
        delivery report to the daemon: a daemon that stops under it makes
        smsbox panic (conn_unregister), which would read as Kannel dying on
        its own.  With check, raise if a Kannel process died on its own."""
        try:
            self.kannel.stop(check=check)
        finally:
            try:
                if self.daemon:
                    self.daemon.stop(timeout=5)
            finally:
                self.redis.kill()

    def send_mo(self, sender, text, to=None):
        self.kannel.send_mo(sender, to or self.service, text)

    def mt_count(self, to):
        return len(self.kannel.mts(to))

    def dump_logs(self, lines=60):
        dump_logs(self.daemon, self.kannel, self.redis, lines=lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.dump_logs()
        self.stop(check=exc_type is None)


def case_failed(case):
    """True in tearDown when this unittest.TestCase has failed or errored."""
    result = getattr(getattr(case, "_outcome", None), "result", None)
    if result is None:
        return False
    return any(t is case for t, _ in result.failures + result.errors)


class SharedStackCase(unittest.TestCase):
    """One Redis, Kannel and mashangd (`cls.stack`, started by the subclass's
    setUpClass) shared by the tests of a class; its logs are printed when a
    test fails.  `cleanup_class()` runs after the stack has stopped."""

    stack = None

    @classmethod
    def cleanup_class(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.stack:
                cls.stack.stop(check=False)
        finally:
            cls.cleanup_class()

    def tearDown(self):
        if case_failed(self):
            self.stack.dump_logs()

    @property
    def redis(self):
        return self.stack.redis.client


class PhoneTalk:
    """Conversations by SMS in a StackCase: `PARTIES` are the numbers whose
    messages a test follows.  say() sends an MO and returns how many MTs
    each party had before it, so expect() and since() look only at what
    came after."""

    PARTIES = ()
    MT_TIMEOUT = 15

    def marks(self):
        return {n: self.stack.mt_count(n) for n in self.PARTIES}

    def say(self, sender, text):
        m = self.marks()
        self.stack.send_mo(sender, text)
        return m

    def expect(self, to, marks, *needles, timeout=None):
        """The first MT to `to` after `marks` holding every needle."""
        return self.stack.kannel.wait_mt(to, lambda t: all(n in t for n in needles),
                                         timeout=timeout or self.MT_TIMEOUT, after=marks[to])

    def since(self, to, marks):
        return self.stack.kannel.mts(to)[marks[to]:]


class StackCase(unittest.TestCase):
    """A fresh Redis, Kannel and mashangd for every test (case ids start at
    M1001, nothing leaks between tests); their logs are printed when the
    test fails.  Subclasses set `timers` / `overrides` for the daemon."""

    timers = None
    overrides = None

    def setUp(self):
        self.stack = Stack(timers=self.timers, overrides=self.overrides).start()

    def tearDown(self):
        failed = case_failed(self)
        if failed:
            self.stack.dump_logs()
        self.stack.stop(check=not failed)
