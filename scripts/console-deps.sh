#!/bin/sh
# The web console's packages (called by scripts/deps.sh): Debian's
# chromium and a CJK font for the browser test and its screenshots, Node.js,
# then from npm (package.json, package-lock.json) Apache ECharts, which the
# console ships, and playwright-core + axe-core, which drive and check it in
# tests/console.  Finally copies ECharts into console/vendor/ (not in git).
# Quiet and quick when everything is already present.
set -eu
cd "$(dirname "$0")/.."

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing fonts-wqy-microhei"
# Debian's nodejs brings node; npm is its own package there (a nodejs from
# elsewhere may already carry both).
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "console-deps: missing packages:$missing (run as root or install them)" >&2
        exit 1
    fi
    echo "console-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci only when the lock file is newer than what node_modules holds.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "console-deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

src=node_modules/echarts/dist/echarts.min.js
dst=console/vendor/echarts.min.js
if [ ! -f "$dst" ] || ! cmp -s "$src" "$dst"; then
    mkdir -p console/vendor
    cp "$src" "$dst"
fi
