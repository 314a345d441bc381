#!/bin/sh
# Runs each cmocka unit-test binary, optionally under valgrind, and prints
# one closing summary line.
set -u
pass=0; fail=0
for t in "$@"; do
    if [ -n "${VALGRIND:-}" ]; then
        valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$t" >"$t.log" 2>&1
    else
        "$t" >"$t.log" 2>&1
    fi
    rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAILED: $t (exit $rc)"; cat "$t.log"
    fi
done
echo "unit${VALGRIND:+ (valgrind)}: $pass passed, $fail failed"
[ $fail -eq 0 ]
