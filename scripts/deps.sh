#!/bin/sh
# Installs the Debian packages mashang needs to build, run and test.
# Quiet and quick when everything is already present.
set -eu

PACKAGES="build-essential pkg-config
libevent-dev libhiredis-dev libcurl4-openssl-dev libpcre2-dev libopencc-dev libopencc-data
libjansson-dev libexpat1-dev libssl-dev libcmocka-dev liblinear-dev
redis-server redis-tools kannel kannel-extras valgrind curl
python3 python3-redis openssl clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# The web console's browser, font and npm packages: scripts/console-deps.sh.
[ -z "$missing" ] && exec "$(dirname "$0")/console-deps.sh"

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing (run as root or install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
exec "$(dirname "$0")/console-deps.sh"
