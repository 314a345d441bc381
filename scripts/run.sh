#!/usr/bin/env bash
# Runs mashang locally: Redis (AOF), Kannel (bearerbox + smsbox + fakesmsc as
# the phone network) and build/mashangd, everything on 127.0.0.1, state under var/.
#
#   scripts/run.sh [start]   start what is not running yet (called by `make run`)
#   scripts/run.sh stop      stop what this script started (`make stop`)
#   scripts/run.sh restart   stop, then start
#   scripts/run.sh status    show what runs
#
# REDIS_URL set → no local Redis is started; mashangd uses that URL.
# Talk to it with scripts/phone.  Kannel facts: shared/notes/kannel.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=var
RUN=$VAR/run
KANNEL_CONF=config/kannel/kannel.conf
CONFIG=config/mashang.json
FAKESMSC=/usr/lib/kannel/test/fakesmsc
FIFO=$VAR/kannel/mo.fifo
REDIS_PORT=6379

say()  { printf '%s\n' "$*"; }
die()  { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# value of "key = value" in kannel.conf (first occurrence)
kconf() { sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$KANNEL_CONF" | head -n1; }

ADMIN_PORT=$(kconf admin-port)
ADMIN_PASSWORD=$(kconf admin-password)
SMSC_PORT=$(kconf port)
SENDSMS_PORT=$(kconf sendsms-port)

running() {   # running NAME → true if var/run/NAME.pid names a live process
    local f=$RUN/$1.pid
    [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION NAME-OF-PROCESS COMMAND...
    local secs=$1 what=$2 name=$3; shift 3
    local deadline=$((SECONDS + secs))
    until "$@"; do
        if [ -n "$name" ] && ! running "$name"; then
            die "$name exited while waiting for $what; see its log under $VAR/"
        fi
        [ $SECONDS -ge $deadline ] && die "timed out waiting for $what"
        sleep 0.1
    done
}

spawn() {     # spawn NAME LOGFILE COMMAND... — background, own session, pidfile
    local name=$1 log=$2; shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

listen_addr() {
    if [ -n "${MASHANG_LISTEN:-}" ]; then echo "$MASHANG_LISTEN"; return; fi
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("listen","127.0.0.1:8080"))' "$CONFIG" 2>/dev/null \
        || echo 127.0.0.1:8080
}

redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

kannel_ready() {
    local st
    st=$(curl -fsS "http://127.0.0.1:$ADMIN_PORT/status.txt?password=$ADMIN_PASSWORD" 2>/dev/null) || return 1
    grep -Eq '^[[:space:]]*fake\b.*\(online' <<<"$st" && grep -Eq '^[[:space:]]*smsbox:.*\(on-line' <<<"$st"
}

healthz() { curl -fsS -o /dev/null "http://$1/healthz" 2>/dev/null; }

start() {
    [ -x build/mashangd ] || die "build/mashangd missing: run 'make run' (it builds first)"
    [ -f "$CONFIG" ] || die "$CONFIG missing"
    mkdir -p "$RUN" "$VAR/log" "$VAR/redis" "$VAR/kannel"

    # -- Redis ---------------------------------------------------------------
    local redis_note
    if [ -n "${REDIS_URL:-}" ]; then
        redis_note="REDIS_URL (not started here)"
    elif running redis; then
        redis_note="redis://127.0.0.1:$REDIS_PORT (already running, AOF in $VAR/redis)"
    elif redis_ping; then
        redis_note="redis://127.0.0.1:$REDIS_PORT (someone else's; not managed here)"
    else
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$ROOT/$VAR/redis" \
            --appendonly yes --appendfsync everysec --auto-aof-rewrite-min-size 256mb \
            --maxmemory-policy noeviction --hash-max-listpack-value 512 --daemonize yes \
            --pidfile "$ROOT/$RUN/redis.pid" --logfile "$ROOT/$VAR/log/redis.log" >/dev/null
        wait_for 10 "Redis on port $REDIS_PORT" "" redis_ping
        redis_note="redis://127.0.0.1:$REDIS_PORT (AOF in $VAR/redis)"
    fi

    # -- Kannel ----------------------------------------------------------------
    if ! running bearerbox; then
        port_open "$ADMIN_PORT" && die "port $ADMIN_PORT busy: another bearerbox? (scripts/run.sh stop)"
        spawn bearerbox "$VAR/kannel/bearerbox.out" /usr/sbin/bearerbox -v 1 "$KANNEL_CONF"
        wait_for 15 "bearerbox (admin port $ADMIN_PORT)" bearerbox port_open "$ADMIN_PORT"
    fi
    if ! running smsbox; then
        spawn smsbox "$VAR/kannel/smsbox.out" /usr/sbin/smsbox -v 1 "$KANNEL_CONF"
        wait_for 15 "smsbox (sendsms port $SENDSMS_PORT)" smsbox port_open "$SENDSMS_PORT"
    fi
    if ! running fakesmsc; then
        [ -p "$FIFO" ] || { rm -f "$FIFO"; mkfifo "$FIFO"; }
        # stdin opened read-write: fakesmsc holds a writer itself, so it never
        # sees EOF between two scripts/phone calls; stdbuf -i0 so lines do not
        # sit in stdio's buffer.
        setsid stdbuf -i0 "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -i 0 -v 0 \
            <>"$FIFO" >>"$VAR/kannel/fakesmsc.log" 2>&1 &
        echo $! >"$RUN/fakesmsc.pid"
    fi
    wait_for 15 "Kannel: smsbox and fake SMSC online" fakesmsc kannel_ready

    # -- mashangd --------------------------------------------------------------
    local addr geturl
    addr=$(listen_addr)
    geturl=$(kconf get-url)
    case "$geturl" in
        "http://$addr/"*) ;;
        *) say "warning: mashangd listens on $addr but $KANNEL_CONF get-url is $geturl" >&2 ;;
    esac
    if ! running mashangd; then
        spawn mashangd "$VAR/log/mashangd.log" build/mashangd -c "$CONFIG"
        wait_for 20 "mashangd GET http://$addr/healthz" mashangd healthz "$addr"
    fi

    cat <<EOF
mashang is running.
  mashangd   http://$addr  (pid $(cat "$RUN/mashangd.pid"), health: http://$addr/healthz)
  console    http://$addr/console/  (sign in with admin_token of $CONFIG)
  redis      $redis_note
  kannel     sendsms http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms, admin http://127.0.0.1:$ADMIN_PORT/status
  logs       $VAR/log/mashangd.log  $VAR/kannel/{bearerbox,smsbox,fakesmsc}.log
Talk to it as a phone:
  scripts/phone +8613800138000 "幸福路12号的路灯坏了三天了"
  scripts/phone +8613900000001 "接单 M1001"         # as deputy 王丽
  scripts/phone --inbox +8613800138000             # everything sent to that number
Stop everything: make stop
EOF
}

stop_one() {  # stop_one NAME [SIGNAL] — signal, wait up to 10 s, then SIGKILL
    local name=$1 sig=${2:-TERM} pid i
    running "$name" || { rm -f "$RUN/$name.pid"; return 0; }
    pid=$(cat "$RUN/$name.pid")
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "  $name (pid $pid) did not stop, killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
    say "  stopped $name"
}

stop() {
    if ! ls "$RUN"/*.pid >/dev/null 2>&1; then say "nothing to stop"; return 0; fi
    stop_one mashangd TERM
    stop_one fakesmsc INT
    stop_one smsbox TERM
    stop_one bearerbox TERM
    stop_one redis TERM
}

status() {
    local n
    for n in redis bearerbox smsbox fakesmsc mashangd; do
        if running "$n"; then say "  $n: running (pid $(cat "$RUN/$n.pid"))"
        else say "  $n: not running"; fi
    done
}

case "${1:-start}" in
    start)   start ;;
    stop)    stop ;;
    restart) stop; start ;;
    status)  status ;;
    *)       die "usage: scripts/run.sh [start|stop|restart|status]" ;;
esac
