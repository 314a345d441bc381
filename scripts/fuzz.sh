#!/bin/sh
# libFuzzer targets for every parser of outside input (tests/fuzz/).
#
#   scripts/fuzz.sh SECONDS     run each target for SECONDS (make fuzz)
#   scripts/fuzz.sh smoke       each target over its seeds plus a few
#                               thousand runs (make fuzz-smoke, CI)
#   scripts/fuzz.sh build       only build build/fuzz/fuzz_*
#
# FUZZ_TARGETS="form util" limits the targets; FUZZ_JOBS (default: number
# of CPUs) targets run at once.  A crash, leak, timeout or sanitizer
# report fails the run; its input is kept in build/fuzz/crashes/<target>/.
# See docs/fuzzing.md.
set -eu

cd "$(dirname "$0")/.."

MODE=${1:-60}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
PKGS="libevent hiredis libcurl libpcre2-8 opencc jansson expat libcrypto"
SMOKE_RUNS=${FUZZ_SMOKE_RUNS:-3000}

case "$MODE" in
    smoke|build) ;;
    *[!0-9]*|"") echo "usage: $0 SECONDS|smoke|build" >&2; exit 2 ;;
esac

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: $CC not found (scripts/deps.sh installs clang)" >&2
    exit 1
fi

# ---- build ---------------------------------------------------------------
# Objects are rebuilt only when their source or any header is newer, so a
# second smoke pass costs little more than the runs themselves.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# shellcheck disable=SC2086 # $PKGS is a word list on purpose
CFLAGS="-std=c11 -D_GNU_SOURCE -Iinclude -Ibuild/gen -g -O1 -Wall -Wextra $SAN
        $(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $PKGS) -llinear -lm"

mkdir -p "$OUT/obj" "$OUT/crashes" "$OUT/corpus" "$OUT/logs"
if [ ! -f build/gen/lua_scripts.c ] || [ -n "$(find src/lua -newer build/gen/lua_scripts.c 2>/dev/null)" ]; then
    make -s build/gen/lua_scripts.c
fi

# shellcheck disable=SC2012 # our own file names, no spaces
newest_header=$(ls -t include/mashang/*.h src/*.h tests/fuzz/*.h 2>/dev/null | head -n 1)

# needs_build OUTPUT INPUT...: true if OUTPUT is missing or older than an input.
needs_build() {
    out=$1; shift
    [ -f "$out" ] || return 0
    for f in "$@"; do
        [ -n "$(find "$f" -newer "$out")" ] && return 0
    done
    return 1
}

objs=""
for src in src/*.c build/gen/lua_scripts.c; do
    case "$src" in src/main.c|src/mashangctl.c) continue ;; esac
    obj="$OUT/obj/$(basename "$src" .c).o"
    if needs_build "$obj" "$src" "$newest_header"; then
        rm -f "$obj"   # a failed compile must not leave a stale object behind
        # shellcheck disable=SC2086
        $CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src" &
    fi
    objs="$objs $obj"
done
wait
for o in $objs; do
    [ -f "$o" ] || { echo "fuzz: failed to build $o" >&2; exit 1; }
done
rm -f "$OUT/libmashang-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libmashang-fuzz.a" $objs

if [ -n "${FUZZ_TARGETS:-}" ]; then
    targets=$FUZZ_TARGETS
else
    targets=""
    for f in tests/fuzz/fuzz_*.c; do
        f=${f#tests/fuzz/fuzz_}
        targets="$targets ${f%.c}"
    done
fi

for t in $targets; do
    src=tests/fuzz/fuzz_$t.c
    [ -f "$src" ] || { echo "fuzz: no target $src" >&2; exit 2; }
    if needs_build "$OUT/fuzz_$t" "$src" "$OUT/libmashang-fuzz.a" "$newest_header"; then
        rm -f "$OUT/fuzz_$t"
        # shellcheck disable=SC2086
        $CC $CFLAGS -Werror -fsanitize=fuzzer -o "$OUT/fuzz_$t" "$src" \
            "$OUT/libmashang-fuzz.a" $LIBS &
    fi
done
wait
for t in $targets; do
    [ -x "$OUT/fuzz_$t" ] || { echo "fuzz: failed to build fuzz_$t" >&2; exit 1; }
done
[ "$MODE" = build ] && exit 0

# ---- run -----------------------------------------------------------------
# Leaks are errors (detect_leaks is libFuzzer's default with ASan); UBSan
# stops at the first report so it counts as a crash.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

# run_target NAME: fuzzes one target; writes a one-line summary to
# $OUT/logs/NAME.summary and exits non-zero on a finding.
run_target() {
    t=$1
    seeds=tests/fuzz/corpus/$t
    [ -d "$seeds" ] || seeds=""   # libFuzzer refuses a missing directory
    corpus=$OUT/corpus/$t
    crashes=$OUT/crashes/$t
    log=$OUT/logs/$t.log
    mkdir -p "$corpus" "$crashes"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    maxlen=4096
    case "$t" in
        config|roster) dict="-dict=tests/fuzz/json.dict"; maxlen=16384 ;;
        intents_file) maxlen=16384 ;;
    esac
    common="-artifact_prefix=$crashes/ -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen -print_final_stats=1"
    started=$(date +%s)
    if [ "$MODE" = smoke ]; then
        # libFuzzer writes new inputs to its first directory: a scratch
        # one, so the seeds in tests/ are only read.
        rm -rf "$OUT/smoke/$t" && mkdir -p "$OUT/smoke/$t"
        # shellcheck disable=SC2086
        "$OUT/fuzz_$t" $common $dict -runs="$SMOKE_RUNS" -seed=1 "$OUT/smoke/$t" $seeds >"$log" 2>&1
    else
        if [ -n "$seeds" ]; then cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true; fi
        # shellcheck disable=SC2086
        "$OUT/fuzz_$t" $common $dict -max_total_time="$MODE" "$corpus" $seeds >"$log" 2>&1
    fi
    rc=$?
    secs=$(( $(date +%s) - started ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
    if [ "$rc" = 0 ]; then
        status=ok
    else
        status=FAIL
        what=$(grep -m 1 -o -e 'ERROR: [A-Za-z]*Sanitizer: [a-z-]*' -e 'runtime error: .*' \
               -e 'ERROR: libFuzzer: [a-z-]*' -e 'check failed: .*' "$log" || true)
        art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
        status="FAIL (${what:-exit $rc}) input: ${art:-none} log: $log"
    fi
    printf 'fuzz: %-14s %-4s runs %-8s %6s exec/s  cov %-5s ft %-5s %3ss\n' \
        "$t" "$([ "$rc" = 0 ] && echo ok || echo FAIL)" "${execs:-?}" "${speed:-?}" \
        "${cov:-?}" "${ft:-?}" "$secs" >"$OUT/logs/$t.summary"
    [ "$rc" = 0 ] || echo "      $status" >>"$OUT/logs/$t.summary"
    return "$rc"
}

start=$(date +%s)
rm -f "$OUT"/logs/*.summary "$OUT"/logs/*.rc
# $jobs lanes, each running every $jobs-th target in turn (POSIX sh has no
# `wait -n`, and the targets take similar times).
lane=0
while [ "$lane" -lt "$jobs" ]; do
    (
        i=0
        for t in $targets; do
            if [ $((i % jobs)) = "$lane" ]; then
                if run_target "$t"; then echo 0; else echo 1; fi >"$OUT/logs/$t.rc"
            fi
            i=$((i + 1))
        done
    ) &
    lane=$((lane + 1))
done
wait

passed=0
failed=0
for t in $targets; do
    cat "$OUT/logs/$t.summary" 2>/dev/null || echo "fuzz: $t: no result"
    if [ "$(cat "$OUT/logs/$t.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed ($(( $(date +%s) - start ))s)"
[ "$failed" = 0 ]
