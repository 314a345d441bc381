#!/bin/sh
# `make bench`: mashangd's throughput, latency, Redis cost, memory and intents
# speed, each against its ceiling (nginx `return 200`, redis-benchmark).
# Not part of `make test`.  Everything runs on 127.0.0.1 and is stopped on exit.
#
#   make bench                 full run (< 10 min on 2 cores)
#   QUICK=1 make bench         short run (< 2 min)
#   WORKERS=n make bench       mashangd and nginx workers (default: nproc)
#   MESSAGES=n DURATION=s CONNECTIONS=n THREADS=n   see scripts/bench/run.py
#
# Results: build/bench/results.md and results.json; docs/performance.md.
set -eu
cd "$(dirname "$0")/.."

# The bench's own tools, installed here rather than in scripts/deps.sh
# (they are not needed by `make test`).  Binary -> Debian package.
need=""
for pair in wrk:wrk nginx:nginx-light redis-server:redis-server \
            redis-benchmark:redis-tools cc:gcc python3:python3 node:nodejs npm:npm; do
    bin=${pair%%:*} pkg=${pair#*:}
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "bench: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    # nginx-light's postinst would start a system nginx on :80; keep it from doing so.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq $need >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq $need >/dev/null; }
    if [ -n "$own_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
fi

exec /usr/bin/python3 scripts/bench/run.py "$@"
