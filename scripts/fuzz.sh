#!/bin/sh
# libFuzzer targets for every parser of outside input (tests/fuzz/).
#
#   scripts/fuzz.sh SECONDS     run each target for SECONDS (make fuzz)
#   scripts/fuzz.sh smoke       each target over its seeds plus a few
#                               thousand runs (make fuzz-smoke, CI)
#   scripts/fuzz.sh build       only check that build/fuzz/fuzz_* exist
#
# `make fuzz` / `make fuzz-smoke` build the targets first (make fuzz-build).
# FUZZ_TARGETS="form util" limits the targets; FUZZ_JOBS (default: number
# of CPUs) targets run at once.  A crash, leak, timeout or sanitizer
# report fails the run; its input is kept in build/fuzz/crashes/<target>/.
# See docs/fuzzing.md.
set -eu

cd "$(dirname "$0")/.."

MODE=${1:-60}
OUT=${FUZZ_OUT:-build/fuzz}
SMOKE_RUNS=${FUZZ_SMOKE_RUNS:-3000}

case "$MODE" in
    smoke|build) ;;
    *[!0-9]*|"") echo "usage: $0 SECONDS|smoke|build" >&2; exit 2 ;;
esac

# The targets are built by `make fuzz-build` (the Makefile's fuzz rules);
# this script only runs them.
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
    [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz: no target tests/fuzz/fuzz_$t.c" >&2; exit 2; }
    [ -x "$OUT/fuzz_$t" ] || { echo "fuzz: $OUT/fuzz_$t is not built (make fuzz-build)" >&2; exit 1; }
done
mkdir -p "$OUT/crashes" "$OUT/corpus" "$OUT/logs"
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
