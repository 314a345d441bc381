#!/bin/sh
# `make valgrind`: unit tests under valgrind, then end-to-end conversations
# with mashangd itself under valgrind; fails on any invalid access or leak.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logs="$top/build/valgrind"
rm -rf "$logs"
mkdir -p "$logs"
# Train the intents once natively: the daemons under valgrind read the
# cached models instead of training at valgrind's pace.
cache="$top/build/valgrind-intents-cache"
"$top/build/mashangctl" intents check "$top/intents" --cache "$cache" >/dev/null || exit 1
export VALGRIND_LOGS="$logs" E2E_MASHANGD="$top/scripts/valgrind-mashangd" E2E_SLOW=1
export E2E_INTENTS_CACHE="$cache"
/usr/bin/python3 "$top/tests/e2e/run.py" ${VALGRIND_TESTS:-conversation slots privacy tenants}
rc=$?
bad=0
for f in "$logs"/mashangd.*.log; do
    [ -e "$f" ] || continue
    if [ -s "$f" ]; then
        echo "valgrind: problems in $f"; cat "$f"; bad=$((bad + 1))
    fi
done
n=$(ls "$logs" | wc -l)
echo "valgrind: $((n - bad)) passed, $bad failed"
[ $rc -eq 0 ] && [ $bad -eq 0 ]
