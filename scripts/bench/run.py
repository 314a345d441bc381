#!/usr/bin/python3
"""`make bench`: mashangd's figures against the ceilings of nginx and Redis.

Everything runs on 127.0.0.1 in a temporary directory and is stopped on
exit (also on Ctrl-C / SIGTERM):

  redis-server  AOF on, appendfsync everysec, free port
  nginx         two server blocks: `return 200` (the HTTP ceiling) and the
                fake Kannel sendsms sink answering 202 (so the outbox drains);
                worker_processes = WORKERS
  mashangd      generated config: workers = WORKERS, log_level warn
  node peer     scripts/bench/peer (express + ioredis, one regex intent and
                a four-write Lua script), installed with npm ci under
                BUILD/bench/peer

Environment: QUICK=1 (short runs, < 2 min), WORKERS (default nproc),
MESSAGES (RSS run; default 1,000,000, QUICK 50,000), DURATION (seconds per
wrk run; default 20, QUICK 6), CONNECTIONS (64), THREADS (2), BUILD (build).
Results: build/bench/results.md and results.json.  See docs/performance.md.
"""
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "scripts", "bench")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("QUICK", "") not in ("", "0")
# CORE=1: the rates, latencies, CPU and RSS only (no closed-case memory, no
# WAIT stage): what an older tree's daemon can be run through, for a
# before/after on one machine.
CORE = os.environ.get("CORE", "") not in ("", "0")
WORKERS = env_int("WORKERS", os.cpu_count() or 1)
MESSAGES = env_int("MESSAGES", 50_000 if QUICK else 1_000_000)
DURATION = env_int("DURATION", 6 if QUICK else 20)
CONNECTIONS = env_int("CONNECTIONS", 64)
THREADS = env_int("THREADS", 2)
COUNT_MESSAGES = 1000 if QUICK else 5000   # Redis command counts
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
OUT = os.path.join(BUILD, "bench")

OWN_COMMANDS = {"CONFIG", "INFO", "ZCARD", "MONITOR", "PING"}
TARGET_RATIO = 0.50        # mashangd >= 50 % of nginx's requests/s
TARGET_PEER = 1.5          # mashangd >= 1.5x the Node peer's requests/s
TARGET_CPU_US = 40         # <= 40 us CPU per message in mashangd, and in Redis
TARGET_CLOSED_CASE_B = 1536  # Redis memory per closed case, windows passed
TARGET_P99_US = 5000       # p99 < 5 ms at half of mashangd's max rate
TARGET_RSS_KB = 30 * 1024  # < 30 MB per worker
TARGET_INTENTS_US = 30     # intents median < 30 us, learned model included


def say(msg=""):
    print(msg, flush=True)


def die(msg):
    raise SystemExit("bench: " + msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Procs:
    """Processes this run started; each in its own session so that the
    whole group (e.g. nginx or mashangd workers) is stopped with it."""

    def __init__(self):
        self.items = []

    def start(self, name, argv, log, **kw):
        f = open(log, "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        f.close()
        self.items.append((name, p))
        return p

    def stop_all(self):
        for name, p in reversed(self.items):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 15
        for name, p in reversed(self.items):
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.items = []


def wait_until(what, fn, proc=None, secs=20):
    deadline = time.time() + secs
    while not fn():
        if proc is not None and proc.poll() is not None:
            die(f"{what}: process exited (code {proc.returncode})")
        if time.time() > deadline:
            die(f"timed out waiting for {what}")
        time.sleep(0.05)


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


# ---- redis ------------------------------------------------------------------

class Redis:
    def __init__(self, port):
        self.port = port

    def cli(self, *args):
        return run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *map(str, args)])

    def info(self, section):
        out = {}
        for line in self.cli("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.strip().split(":", 1)
                out[k] = v
        return out

    def commandstats(self):
        stats = {}
        for k, v in self.info("commandstats").items():
            if k.startswith("cmdstat_"):
                calls = int(re.search(r"calls=(\d+)", v).group(1))
                stats[k[len("cmdstat_"):]] = calls
        return stats

    def script_usec(self):
        """Microseconds Redis spent running scripts (EVALSHA, their inner
        commands included) since the last CONFIG RESETSTAT."""
        total = 0
        for k, v in self.info("commandstats").items():
            if k in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall"):
                total += int(re.search(r"usec=(\d+)", v).group(1))
        return total


# ---- parsing ------------------------------------------------------------------

UNITS = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000}


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(out):
    r = {"rps": 0.0, "p50_us": None, "p99_us": None, "non2xx": 0, "socket_errors": 0, "requests": 0}
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("Requests/sec:"):
            r["rps"] = float(s.split()[1])
        elif re.match(r"^50(\.0+)?%", s):
            r["p50_us"] = to_us(s.split()[1])
        elif re.match(r"^99(\.0+)?%", s):
            r["p99_us"] = to_us(s.split()[1])
        elif s.startswith("Non-2xx or 3xx responses:"):
            r["non2xx"] = int(s.split(":")[1])
        elif s.startswith("Socket errors:"):
            r["socket_errors"] = sum(int(x) for x in re.findall(r"\d+", s))
        elif re.match(r"^\d+ requests in", s):
            r["requests"] = int(s.split()[0])
    return r


def fmt_us(us):
    if us is None:
        return "-"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


# ---- processes of mashangd ------------------------------------------------------

def descendants(pid):
    """pid and every process below it (workers are forked children)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_s(pid):
    """User + system CPU seconds of pid and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rss_kb(pid):
    total, per = 0, []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        total += kb
                        per.append(kb)
        except OSError:
            pass
    return total, per


# ---- the run ----------------------------------------------------------------------

def main():
    for tool in ("wrk", "nginx", "redis-server", "redis-cli", "redis-benchmark", "cc"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            die(f"{tool} not found (scripts/bench.sh installs it)")
    daemon = os.path.join(BUILD, "mashangd")
    ctl = os.path.join(BUILD, "mashangctl")
    if not os.access(daemon, os.X_OK):
        die(f"{daemon} missing: run `make bench` (it builds first)")
    os.makedirs(OUT, exist_ok=True)
    openloop = os.path.join(OUT, "openloop")
    src = os.path.join(HERE, "openloop.c")
    if not os.path.exists(openloop) or os.path.getmtime(openloop) < os.path.getmtime(src):
        run(["cc", "-O2", "-Wall", "-o", openloop, src])

    peer = install_peer()
    tmp = tempfile.mkdtemp(prefix="mashang-bench-")
    procs = Procs()

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        results = bench(tmp, procs, daemon, ctl, openloop, peer)
    except KeyboardInterrupt:
        say("bench: interrupted")
        return 130
    finally:
        procs.stop_all()
        if os.environ.get("KEEP_TMP"):
            say(f"bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if results else 1


def install_peer():
    """The Node peer under BUILD/bench/peer, its packages from the lock file
    (npm ci); reinstalled when the lock file changes."""
    src, dst = os.path.join(HERE, "peer"), os.path.join(OUT, "peer")
    if not shutil.which("node") or not shutil.which("npm"):
        die("node and npm not found (scripts/bench.sh installs them)")
    os.makedirs(dst, exist_ok=True)
    stale = False
    for name in ("package.json", "package-lock.json", "server.js"):
        a, b = os.path.join(src, name), os.path.join(dst, name)
        if not os.path.exists(b) or open(a, "rb").read() != open(b, "rb").read():
            shutil.copyfile(a, b)
            stale = stale or name != "server.js"
    if stale or not os.path.isdir(os.path.join(dst, "node_modules")):
        say("bench: npm ci for the Node peer")
        run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=dst)
    return os.path.join(dst, "server.js")


def closed_case_memory():
    """Bytes per closed case once its windows have passed, from
    scripts/bench/redis_memory.py (its own scratch Redis)."""
    n = 500 if QUICK else 2000
    out = run([sys.executable, os.path.join(HERE, "redis_memory.py"), str(n)],
              env=dict(os.environ, BUILD=os.path.relpath(BUILD, ROOT)), cwd=ROOT)
    rows = re.findall(r"^(.*?)\s+([\d.]+) B/case\s+([\d.]+) keys/case", out, re.M)
    if not rows:
        die("redis_memory.py printed no figures:\n" + out)
    label, b, keys = rows[-1]
    return {"cases": n, "bytes": float(b), "keys": float(keys), "label": label.strip(),
            "output": out.strip()}


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"cpus": os.cpu_count(), "cpu": model, "mem_mb": mem,
            "kernel": os.uname().release}


def bench(tmp, procs, daemon, ctl, openloop, peer):
    t_start = time.time()
    res = {"loadavg_start": loadavg(), "mode": "quick" if QUICK else "full", "workers": WORKERS, "duration_s": DURATION,
           "connections": CONNECTIONS, "threads": THREADS, "machine": machine(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    say(f"bench: {res['mode']} run, workers={WORKERS}, {DURATION} s per wrk run, "
        f"{CONNECTIONS} connections, {THREADS} threads; "
        f"{res['machine']['cpus']} CPUs ({res['machine']['cpu']})")

    # -- redis
    rport, ceil_port, sink_port, mport = free_port(), free_port(), free_port(), free_port()
    peer_port = free_port()
    rdir = os.path.join(tmp, "redis")
    os.makedirs(rdir)
    rp = procs.start("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(rport),
                               "--dir", rdir, "--appendonly", "yes", "--appendfsync", "everysec",
                               "--save", "", "--protected-mode", "no"],
                     os.path.join(tmp, "redis.log"))
    redis = Redis(rport)
    wait_until("redis", lambda: port_open(rport), rp)

    # -- nginx: ceiling + sendsms sink
    ndir = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(ndir, "tmp"))
    with open(os.path.join(HERE, "nginx.conf.in")) as f:
        conf = f.read()
    for k, v in {"@PREFIX@": ndir, "@WORKERS@": str(WORKERS), "@CEILING_PORT@": str(ceil_port),
                 "@SINK_PORT@": str(sink_port)}.items():
        conf = conf.replace(k, v)
    with open(os.path.join(ndir, "nginx.conf"), "w") as f:
        f.write(conf)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    np_ = procs.start("nginx", [nginx_bin, "-p", ndir, "-c", os.path.join(ndir, "nginx.conf")],
                      os.path.join(tmp, "nginx.log"))
    wait_until("nginx", lambda: port_open(ceil_port) and port_open(sink_port), np_)

    # -- mashangd
    cfg = {
        "_comment": "generated by scripts/bench/run.py",
        "listen": f"127.0.0.1:{mport}",
        "redis": f"redis://127.0.0.1:{rport}",
        "namespace": "bench",
        "roster": os.path.join(ROOT, "config", "deputies.json"),
        "intents": os.path.join(ROOT, "intents"),
        "log_level": "warn",
        "workers": WORKERS,
        "channels": {"sms": {
            "type": "kannel",
            "sendsms_url": f"http://127.0.0.1:{sink_port}/cgi-bin/sendsms",
            "username": "bench", "password": "bench", "from": "10690001"}},
    }
    cfg_path = os.path.join(tmp, "mashang.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)
    mp = procs.start("mashangd", [daemon, "-c", cfg_path], os.path.join(tmp, "mashangd.log"))

    def healthy():
        try:
            with socket.create_connection(("127.0.0.1", mport), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False
    wait_until("mashangd /healthz", healthy, mp, 30)
    time.sleep(1.0)
    idle_total, idle_per = rss_kb(mp.pid)
    nprocs = len(idle_per)
    res["processes"] = nprocs
    say(f"mashangd pid {mp.pid}: {nprocs} process(es) for workers={WORKERS}; idle RSS "
        f"{idle_total / 1024:.1f} MB")
    if nprocs != WORKERS and WORKERS > 1:
        say(f"  note: asked for {WORKERS} workers, {nprocs} process(es) run "
            "(the daemon does not fork workers yet?)")

    messages = os.path.join(HERE, "messages.txt")
    wrk_env = dict(os.environ, BENCH_MESSAGES=messages)

    def wrk(url, script=None, tag="w"):
        argv = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{DURATION}s",
                "--latency", "--timeout", "5s"]
        if script:
            argv += ["-s", script]
        env = dict(wrk_env, BENCH_TAG=f"{tag}{int(time.time())}")
        out = run(argv + [url], env=env)
        with open(os.path.join(OUT, f"wrk-{tag}.txt"), "w") as f:
            f.write(out)
        return parse_wrk(out)

    def openloop_run(rate, count=0, seconds=0, progress=0, on_progress=None, tag="o", port=None):
        argv = [openloop, "-h", "127.0.0.1", "-P", str(port or mport), "-m", messages,
                "-R", str(rate), "-c", str(CONNECTIONS), "-t", f"{tag}{int(time.time())}"]
        if count:
            argv += ["-n", str(count)]
        if seconds:
            argv += ["-d", str(seconds)]
        if progress:
            argv += ["-p", str(progress)]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if line.startswith("progress ") and on_progress:
                on_progress(int(line.split()[1]))
            elif line.strip():
                sys.stderr.write(line)
        out = p.stdout.read()
        if p.wait() != 0:
            die("openloop failed")
        return json.loads(out)

    def outbox_backlog():
        return int(redis.cli("ZCARD", "{bench}:outbox:ready").strip() or 0) + \
            int(redis.cli("ZCARD", "{bench}:outbox:inflight").strip() or 0)

    def drain(secs=120):
        deadline = time.time() + secs
        while outbox_backlog() and time.time() < deadline:
            time.sleep(0.2)
        return outbox_backlog()

    # -- warm-up (intents compiled, connections, Redis scripts cached)
    openloop_run(0, count=2000, tag="warm")
    drain()

    # -- 2. throughput: nginx ceiling, then mashangd
    say(f"\n[1/6] nginx `return 200` ceiling: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s")
    ng = wrk(f"http://127.0.0.1:{ceil_port}/", tag="nginx")
    say(f"  {ng['rps']:.0f} req/s, p50 {fmt_us(ng['p50_us'])}, p99 {fmt_us(ng['p99_us'])}, "
        f"non-2xx {ng['non2xx']}, socket errors {ng['socket_errors']}")
    say(f"[2/6] mashangd GET /sms/kannel (varied texts, random senders, unique ids)")
    ms = wrk(f"http://127.0.0.1:{mport}/sms/kannel", os.path.join(HERE, "mo.lua"), tag="mashangd")
    ms["outbox_backlog_after"] = outbox_backlog()
    # Replies queued in the outbox during the run, still unsent: the run measured
    # inbound work mostly; they are sent (and cost CPU) after it.
    say(f"  {ms['rps']:.0f} req/s, p50 {fmt_us(ms['p50_us'])}, p99 {fmt_us(ms['p99_us'])}, "
        f"non-2xx {ms['non2xx']}, socket errors {ms['socket_errors']}; "
        f"outbox backlog {ms['outbox_backlog_after']}")
    ratio = ms["rps"] / ng["rps"] if ng["rps"] else 0
    say(f"  mashangd / nginx = {ratio * 100:.1f} %")
    res["nginx"], res["mashangd"], res["ratio"] = ng, ms, ratio
    t0 = time.time()
    left = drain(300)
    say(f"  outbox drained in {time.time() - t0:.1f} s (left {left})")
    # The peer runs only now, alone with Redis and wrk, so neither disturbs
    # the other; it writes under its own keys (peer:*) in the same Redis.
    say("[2/6] Node peer (express + ioredis): the same wrk, the same requests")
    pp = procs.start("peer", ["node", peer, str(peer_port), str(rport)],
                     os.path.join(tmp, "peer.log"))
    wait_until("node peer", lambda: port_open(peer_port), pp)
    wrk(f"http://127.0.0.1:{peer_port}/sms/kannel", os.path.join(HERE, "mo.lua"), tag="peerwarm")
    c0 = (cpu_s(pp.pid), cpu_s(rp.pid))
    pe = wrk(f"http://127.0.0.1:{peer_port}/sms/kannel", os.path.join(HERE, "mo.lua"), tag="peer")
    c1 = (cpu_s(pp.pid), cpu_s(rp.pid))
    pe["cpu_us_per_message"] = {"node": (c1[0] - c0[0]) / max(1, pe["requests"]) * 1e6,
                                "redis": (c1[1] - c0[1]) / max(1, pe["requests"]) * 1e6}
    pp.terminate()
    pp.wait()
    res["peer"] = pe
    res["peer_ratio"] = ms["rps"] / pe["rps"] if pe["rps"] else 0
    say(f"  {pe['rps']:.0f} req/s, p50 {fmt_us(pe['p50_us'])}, p99 {fmt_us(pe['p99_us'])}, "
        f"non-2xx {pe['non2xx']}; CPU per request node "
        f"{pe['cpu_us_per_message']['node']:.0f} µs, redis {pe['cpu_us_per_message']['redis']:.0f} µs; "
        f"mashangd / peer = {res['peer_ratio']:.2f}x")

    # -- 3a. latency when nearly idle, for reference (what contention adds)
    lo = openloop_run(100, seconds=min(5, DURATION), tag="low")
    say(f"[3/6] open loop at 100 req/s: p50 {fmt_us(lo['p50_us'])}, p99 {fmt_us(lo['p99_us'])}")
    res["low_rate"] = lo
    # -- 3. latency at half the maximum rate, open loop
    half = max(1, int(ms["rps"] / 2))
    say(f"[3/6] open loop at {half} req/s (half of max) for {DURATION} s")
    hl = openloop_run(half, seconds=DURATION, tag="half")
    say(f"  achieved {hl['rate']:.0f} req/s, p50 {fmt_us(hl['p50_us'])}, p99 "
        f"{fmt_us(hl['p99_us'])}, p99.9 {fmt_us(hl['p999_us'])}, max {fmt_us(hl['max_us'])}, "
        f"non-2xx {hl['non2xx']}, errors {hl['errors']}")
    hl["outbox_backlog_after"] = outbox_backlog()
    t0 = time.time()
    drain(300)
    hl["outbox_drain_s"] = round(time.time() - t0, 1)
    say(f"  outbox backlog at the end {hl['outbox_backlog_after']}, drained in "
        f"{hl['outbox_drain_s']} s")
    res["half_rate"] = hl

    # -- 4. Redis: commands per message, then the ceiling
    say(f"[4/6] Redis commands per message ({COUNT_MESSAGES} messages, outbox drained)")
    mon_path = os.path.join(tmp, "monitor.txt")

    def monitored(fn, secs=None):
        with open(mon_path, "w") as f:
            mon = subprocess.Popen(["redis-cli", "-p", str(rport), "MONITOR"], stdout=f,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.3)
        redis.cli("CONFIG", "RESETSTAT")
        t = time.time()
        fn()
        elapsed = time.time() - t
        stats = redis.commandstats()
        time.sleep(0.3)
        mon.terminate()
        mon.wait()
        rt = lua = 0
        own = {}
        with open(mon_path, errors="replace") as f:
            for line in f:
                m = re.match(r'[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"', line)
                if not m:
                    continue
                if m.group(1) == "lua":
                    lua += 1
                elif m.group(2).upper() in OWN_COMMANDS:
                    own[m.group(2).lower()] = own.get(m.group(2).lower(), 0) + 1
                else:
                    rt += 1
        # This script's own RESETSTAT, INFO and ZCARD (drain polls) are not the daemon's.
        for k in list(stats):
            base = k.split("|")[0]
            if base in ("config", "info", "monitor"):
                stats.pop(k)
            elif base in own:
                stats[k] = max(0, stats[k] - own[base])
        return elapsed, stats, rt, lua

    # background: what an idle daemon sends (timer ticks, outbox polls)
    bg_secs, bg_stats, bg_rt, bg_lua = monitored(lambda: time.sleep(3))
    run_secs, stats, rt, lua = monitored(
        lambda: (openloop_run(0, count=COUNT_MESSAGES, tag="count"), drain(120)))
    bg_rate_rt = bg_rt / bg_secs
    bg_rate_lua = bg_lua / bg_secs
    bg_rate_total = sum(bg_stats.values()) / bg_secs
    rt_per = max(0.0, rt - bg_rate_rt * run_secs) / COUNT_MESSAGES
    lua_per = max(0.0, lua - bg_rate_lua * run_secs) / COUNT_MESSAGES
    total_per = max(0.0, sum(stats.values()) - bg_rate_total * run_secs) / COUNT_MESSAGES
    top = sorted(stats.items(), key=lambda kv: -kv[1])[:12]
    res["redis_commands"] = {"messages": COUNT_MESSAGES, "round_trips_per_message": rt_per,
                             "commands_in_scripts_per_message": lua_per,
                             "commands_per_message": total_per,
                             "background_per_s": bg_rate_total,
                             "top": {k: round(v / COUNT_MESSAGES, 2) for k, v in top}}
    say(f"  round trips per message {rt_per:.2f}, commands inside scripts {lua_per:.1f}, "
        f"commands executed per message {total_per:.1f} (idle background "
        f"{bg_rate_total:.1f}/s subtracted)")
    say("  per message: " + ", ".join(f"{k} {v / COUNT_MESSAGES:.2f}" for k, v in top))

    # One script doing as many commands as one message causes in all (its step,
    # outbox claims and results): EVALSHA of it per second ≈ Redis's ceiling in
    # messages per second, were the round trips free.
    cmds_per_script = max(1, round(lua_per))
    say(f"[5/6] redis-benchmark ceiling (same Redis, -P 1, 50 clients) and a Lua script "
        f"of {cmds_per_script} commands (all of one message's)")
    rb_n = 100_000 if QUICK else 400_000
    out = run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(rport), "-t", "set,get,incr,lpush",
               "-n", str(rb_n), "-c", "50", "-P", "1", "-r", "100000", "--csv"])
    rb = {}
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split('","')]
        if len(cols) >= 2 and cols[0] not in ("test",):
            try:
                rb[cols[0].strip('"')] = float(cols[1].strip('"'))
            except ValueError:
                pass
    with open(os.path.join(HERE, "step_like.lua")) as f:
        script = f.read()
    sha = redis.cli("SCRIPT", "LOAD", script).strip()
    out = run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(rport), "-n", str(rb_n // 10),
               "-c", "50", "-r", "100000", "--csv", "evalsha", sha, "1",
               "benchkey:__rand_int__", str(cmds_per_script)])
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split('","')]
        if len(cols) >= 2 and cols[0].lower().startswith("evalsha"):
            rb[f"EVALSHA ({cmds_per_script} cmds)"] = float(cols[1].strip('"'))
    res["redis_benchmark"] = rb
    for k, v in rb.items():
        say(f"  {k}: {v:.0f} /s")
    step_ceiling = rb.get(f"EVALSHA ({cmds_per_script} cmds)", 0)
    if step_ceiling:
        say(f"  → Redis alone would take ≈ {step_ceiling:.0f} messages/s; mashangd reached "
            f"{ms['rps']:.0f} messages/s ({ms['rps'] / step_ceiling * 100:.0f} %)")
    res["redis_step_ceiling"] = step_ceiling

    # -- 5. RSS over MESSAGES messages
    say(f"[6/6] RSS over {MESSAGES} messages (closed loop, {CONNECTIONS} connections)")
    before_total, before_per = rss_kb(mp.pid)
    points = [(0, before_total, max(before_per or [0]))]
    say(f"  {0:>9} msgs  RSS {before_total / 1024:7.1f} MB total, "
        f"max {max(before_per or [0]) / 1024:.1f} MB per process")

    def sample(n):
        total, per = rss_kb(mp.pid)
        points.append((n, total, max(per or [0])))
        say(f"  {n:>9} msgs  RSS {total / 1024:7.1f} MB total, max {max(per or [0]) / 1024:.1f} MB "
            f"per process")
    mem0 = int(redis.info("memory").get("used_memory", 0))
    redis.cli("CONFIG", "RESETSTAT")
    t0 = time.time()
    cpu0 = {"mashangd": cpu_s(mp.pid), "redis": cpu_s(rp.pid), "nginx (sink)": cpu_s(np_.pid)}
    rr = openloop_run(0, count=MESSAGES, progress=max(1, MESSAGES // 10), on_progress=sample,
                      tag="rss")
    say(f"  {rr['completed']} messages in {rr['seconds']:.1f} s ({rr['rate']:.0f}/s), non-2xx "
        f"{rr['non2xx']}, errors {rr['errors']}")
    drain(300)
    cpu1 = {"mashangd": cpu_s(mp.pid), "redis": cpu_s(rp.pid), "nginx (sink)": cpu_s(np_.pid)}
    cpu_per = {k: (cpu1[k] - cpu0[k]) / max(1, rr["completed"]) * 1e6 for k in cpu0}
    res["cpu_us_per_message"] = cpu_per
    # Of Redis's CPU, what ran inside the scripts (Redis's own timing), and
    # the rest: reading requests, writing replies and the AOF, expiry and
    # its other housekeeping.
    res["redis_script_us_per_message"] = redis.script_usec() / max(1, rr["completed"])
    # commandstats times are wall clock: on a loaded box a script descheduled
    # midway counts its wait too, and the figure can exceed the CPU.
    say(f"  of Redis's {cpu_per['redis']:.0f} µs: {res['redis_script_us_per_message']:.0f} µs "
        "inside the scripts (commandstats, wall clock), the rest I/O, AOF and housekeeping")
    say("  CPU per message (incl. sending its replies): " +
        ", ".join(f"{k} {v:.0f} µs" for k, v in cpu_per.items()) +
        f" → one core of mashangd alone ≈ {1e6 / max(1, cpu_per['mashangd']):.0f} msgs/s, "
        f"Redis alone ≈ {1e6 / max(1, cpu_per['redis']):.0f} msgs/s")
    time.sleep(1)
    after_total, after_per = rss_kb(mp.pid)
    points.append(("drained", after_total, max(after_per or [0])))
    say(f"  after drain  RSS {after_total / 1024:7.1f} MB total")
    # Flat: from the 20 % checkpoint on, growth within 2 MB or 5 %.
    ref = next((p for p in points if isinstance(p[0], int) and p[0] >= MESSAGES // 5), points[-1])
    growth_kb = max(p[2] for p in points[points.index(ref):]) - ref[2]
    flat = growth_kb <= max(2048, ref[2] * 0.05)
    per_worker_max = max(p[2] for p in points)
    mem = redis.info("memory")
    grown = int(mem.get("used_memory", 0)) - mem0
    res["redis_after_run"] = {"messages": rr["completed"], "grown": grown,
                              "used_memory": int(mem.get("used_memory", 0)),
                              "human": mem.get("used_memory_human")}
    say(f"  Redis used_memory after the run: {mem.get('used_memory_human')}, grown by "
        f"{grown / 1048576:.1f} MB over its {rr['completed']} messages "
        f"({grown / max(1, rr['completed']):.0f} B/message, windows not yet passed)")
    res["rss"] = {"idle_kb": idle_total, "idle_per_process_kb": idle_per,
                  "points": [{"messages": p[0], "total_kb": p[1], "max_per_process_kb": p[2]}
                             for p in points],
                  "processes": len(after_per), "max_per_process_kb": per_worker_max,
                  "growth_after_20pct_kb": growth_kb, "flat": flat, "run": rr,
                  "redis_used_memory": redis.info("memory").get("used_memory_human")}
    try:
        with open(os.path.join(tmp, "mashangd.log"), errors="replace") as f:
            res["daemon_log_tail"] = f.read()[-2000:]
    except OSError:
        pass

    # -- 6. intents engine
    out = run([ctl, "intents", "bench", os.path.join(HERE, "corpus.tsv"), "--dir",
               os.path.join(ROOT, "intents")])
    m = re.search(r"median ([\d.]+) us, p99 ([\d.]+) us", out)
    res["intents"] = {"median_us": float(m.group(1)) if m else None,
                      "p99_us": float(m.group(2)) if m else None, "output": out.strip()}
    mm = re.search(r"models: (.*)", out)
    res["intents"]["models"] = mm.group(1) if mm else None
    say(f"intents bench: {out.strip().splitlines()[-1]}")
    if CORE:
        return finish(res, t_start)
    say("Redis memory per closed case (scripts/bench/redis_memory.py)")
    res["closed_case"] = closed_case_memory()
    say("  " + res["closed_case"]["output"].replace("\n", "\n  "))

    # -- what redis_wait_replicas 1 costs (docs/scaling.md): a replica of
    # the same Redis and a second daemon that waits for it (its own
    # namespace), the same wrk and the same low-rate latency run.  Last,
    # because feeding a replica costs the primary CPU from then on.
    say("[+] redis_wait_replicas 1: a replica, and a daemon that WAITs for it")
    wport, wdport = free_port(), free_port()
    wdir = os.path.join(tmp, "replica")
    os.makedirs(wdir)
    wp = procs.start("replica", ["redis-server", "--bind", "127.0.0.1", "--port", str(wport),
                                 "--dir", wdir, "--appendonly", "no", "--save", "",
                                 "--replicaof", "127.0.0.1", str(rport)],
                     os.path.join(tmp, "replica.log"))
    replica = Redis(wport)
    wait_until("replica in sync", lambda: port_open(wport) and
               replica.info("replication").get("master_link_status") == "up", wp, 60)
    wcfg = dict(cfg, listen=f"127.0.0.1:{wdport}", namespace="benchwait", redis_wait_replicas=1)
    wcfg_path = os.path.join(tmp, "mashang-wait.json")
    with open(wcfg_path, "w") as f:
        json.dump(wcfg, f, ensure_ascii=False, indent=1)
    wd = procs.start("mashangd-wait", [daemon, "-c", wcfg_path], os.path.join(tmp, "mashangd-wait.log"))
    wait_until("mashangd (wait) ready", lambda: port_open(wdport), wd, 30)
    time.sleep(1.0)
    openloop_run(0, count=500, tag="wwarm", port=wdport)
    ww = wrk(f"http://127.0.0.1:{wdport}/sms/kannel", os.path.join(HERE, "mo.lua"), tag="wait")
    wlo = openloop_run(100, seconds=min(5, DURATION), tag="wlow", port=wdport)
    res["wait_replicas"] = {"wrk": ww, "low_rate": wlo,
                            "ratio": ww["rps"] / ms["rps"] if ms["rps"] else 0}
    say(f"  {ww['rps']:.0f} req/s ({res['wait_replicas']['ratio'] * 100:.0f} % of without), "
        f"at 100 req/s p50 {fmt_us(wlo['p50_us'])} p99 {fmt_us(wlo['p99_us'])} "
        f"(without: p50 {fmt_us(res['low_rate']['p50_us'])} p99 {fmt_us(res['low_rate']['p99_us'])})")
    for p in (wd, wp):
        p.terminate()
        p.wait()
    return finish(res, t_start)


def finish(res, t_start):
    res["elapsed_s"] = round(time.time() - t_start, 1)
    res["loadavg_end"] = loadavg()
    summary(res)
    return res


def summary(res):
    ng, ms, hl, rss, it = res["nginx"], res["mashangd"], res["half_rate"], res["rss"], res["intents"]
    rc = res["redis_commands"]
    # Workers are threads: a process's RSS is shared by the workers it runs
    # (one copy of the intents models, OpenCC's dictionaries and the roster).
    per_worker = rss["max_per_process_kb"] / max(1, res["workers"] // max(1, rss["processes"]))
    rows = [
        ("nginx `return 200`", f"{ng['rps']:.0f} req/s", f"p50 {fmt_us(ng['p50_us'])}, p99 "
         f"{fmt_us(ng['p99_us'])}, non-2xx {ng['non2xx']}", ""),
        ("mashangd /sms/kannel", f"{ms['rps']:.0f} req/s", f"p50 {fmt_us(ms['p50_us'])}, p99 "
         f"{fmt_us(ms['p99_us'])}, non-2xx {ms['non2xx']}", ""),
        ("mashangd / nginx", f"{res['ratio'] * 100:.1f} %", "target ≥ 50 %",
         "PASS" if res["ratio"] >= TARGET_RATIO else "MISS"),
        ("Node peer /sms/kannel", f"{res['peer']['rps']:.0f} req/s",
         f"p50 {fmt_us(res['peer']['p50_us'])}, p99 {fmt_us(res['peer']['p99_us'])}, "
         f"CPU per request node {res['peer']['cpu_us_per_message']['node']:.0f} µs, "
         f"redis {res['peer']['cpu_us_per_message']['redis']:.0f} µs (no replies sent)", ""),
        ("mashangd / Node peer", f"{res['peer_ratio']:.2f}×", "target ≥ 1.5×",
         "PASS" if res["peer_ratio"] >= TARGET_PEER else "MISS"),
        (f"latency at {hl['target_rate']:.0f} req/s (half)", f"p99 {fmt_us(hl['p99_us'])}",
         f"p50 {fmt_us(hl['p50_us'])}, achieved {hl['rate']:.0f}/s, non-2xx {hl['non2xx']}; "
         "target p99 < 5 ms", "PASS" if hl["p99_us"] < TARGET_P99_US and hl["errors"] == 0 else "MISS"),
        ("latency at 100 req/s", f"p99 {fmt_us(res['low_rate']['p99_us'])}",
         f"p50 {fmt_us(res['low_rate']['p50_us'])} (reference: nearly idle)", ""),
        ("CPU per message, mashangd", f"{res['cpu_us_per_message']['mashangd']:.0f} µs",
         f"redis {res['cpu_us_per_message']['redis']:.0f} µs, nginx sink "
         f"{res['cpu_us_per_message']['nginx (sink)']:.0f} µs (inbound + its replies sent); "
         f"target ≤ {TARGET_CPU_US} µs", "PASS" if res['cpu_us_per_message']['mashangd']
         <= TARGET_CPU_US else "MISS"),
        ("CPU per message, Redis", f"{res['cpu_us_per_message']['redis']:.0f} µs",
         f"scripts {res['redis_script_us_per_message']:.0f} µs by Redis's wall clock (over the CPU "
         f"figure only when the box is overloaded), the rest requests, replies, AOF; "
         f"target ≤ {TARGET_CPU_US} µs",
         "PASS" if res['cpu_us_per_message']['redis'] <= TARGET_CPU_US else "MISS"),
        ("Redis round trips / message", f"{rc['round_trips_per_message']:.2f}",
         f"{rc['commands_per_message']:.1f} commands executed / message "
         f"({rc['commands_in_scripts_per_message']:.1f} inside scripts)", ""),
        ("Redis ceiling", ", ".join(f"{k.split()[0]} {v / 1000:.0f}k/s"
                                    for k, v in res["redis_benchmark"].items()),
         f"≈ {res['redis_step_ceiling']:.0f} messages/s (a script with one message's "
         "commands)", ""),
        ("mashangd RSS", f"{per_worker / 1024:.1f} MB / worker",
         f"{rss['processes']} process(es) of {rss['max_per_process_kb'] / 1024:.1f} MB for "
         f"{res['workers']} workers; idle {rss['idle_kb'] / 1024:.1f} MB total; "
         f"+{rss['growth_after_20pct_kb'] / 1024:.1f} MB after 20 % of "
         f"{rss['run']['completed']} msgs; target < 30 MB and flat",
         "PASS" if per_worker < TARGET_RSS_KB and rss["flat"] else "MISS"),
        ("Redis memory, closed case", f"{res['closed_case']['bytes']:.0f} B / case",
         f"{res['closed_case']['keys']:.2f} keys / case once its windows have passed "
         f"({res['closed_case']['cases']} case lives); target ≤ {TARGET_CLOSED_CASE_B} B",
         "PASS" if res['closed_case']['bytes'] <= TARGET_CLOSED_CASE_B else "MISS")
        if "closed_case" in res else None,
        (f"Redis memory after {res['redis_after_run']['messages']} messages",
         f"+{res['redis_after_run']['grown'] / 1048576:.0f} MB",
         f"{res['redis_after_run']['grown'] / max(1, res['redis_after_run']['messages']):.0f}"
         f" B / message while the cases are open and their windows run "
         f"(Redis holds {res['redis_after_run']['human']} in all)", ""),
        ("with redis_wait_replicas 1", f"{res['wait_replicas']['wrk']['rps']:.0f} req/s",
         f"{res['wait_replicas']['ratio'] * 100:.0f} % of the rate without; at 100 req/s p50 "
         f"{fmt_us(res['wait_replicas']['low_rate']['p50_us'])}, p99 "
         f"{fmt_us(res['wait_replicas']['low_rate']['p99_us'])} (a local replica)", "")
        if "wait_replicas" in res else None,
        ("intents engine", f"median {it['median_us']} µs", f"p99 {it['p99_us']} µs; models {it.get('models')}; "
         "target median < 30 µs", "PASS" if it["median_us"] is not None and
         it["median_us"] < TARGET_INTENTS_US else "MISS"),
    ]
    m = res["machine"]
    head = (f"mashang bench ({res['mode']}), {res['date']}: {m['cpus']} CPUs ({m['cpu']}), "
            f"{m['mem_mb']} MB, Linux {m['kernel']}, load average {res['loadavg_start']} at start, "
            f"{res['loadavg_end']} at end; workers={res['workers']} "
            f"({res['processes']} process(es)), wrk -t{res['threads']} -c{res['connections']} "
            f"-d{res['duration_s']}s; run took {res['elapsed_s']} s")
    lines = [head, "", "| figure | value | detail | target |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in filter(None, rows)]
    lines += ["", "RSS checkpoints (messages: total / max per process, MB): " +
              ", ".join(f"{p['messages']}: {p['total_kb'] / 1024:.1f} / "
                        f"{p['max_per_process_kb'] / 1024:.1f}" for p in rss["points"]),
              "", "Redis commands per message (all, incl. inside scripts and outbox): " +
              ", ".join(f"{k} {v}" for k, v in rc["top"].items())]
    text = "\n".join(lines)
    say("\n" + "=" * 72 + "\n" + text + "\n" + "=" * 72)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, ensure_ascii=False, indent=1)
    say(f"written: {os.path.relpath(OUT, ROOT)}/results.md, results.json")


if __name__ == "__main__":
    sys.exit(main())
