#!/bin/sh
# `make install`: binaries, intents, a configuration (kept if present) and
# a hardened systemd unit.  DESTDIR and PREFIX as usual; the service user
# is created only when installing into the running system.
set -eu
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN="$DESTDIR$PREFIX/bin"
SHARE="$DESTDIR$PREFIX/share/mashang"
DOC="$DESTDIR$PREFIX/share/doc/mashang"
ETC="$DESTDIR/etc/mashang"
UNIT="$DESTDIR/etc/systemd/system"

install -d "$BIN" "$SHARE/intents" "$SHARE/console/vendor" "$DOC" "$ETC" "$UNIT"
install -m 0755 build/mashangd build/mashangctl "$BIN/"
install -m 0644 intents/*.intents "$SHARE/intents/"
# The web console's pages, with ECharts from npm (scripts/console-deps.sh).
[ -f console/vendor/echarts.min.js ] || scripts/console-deps.sh
install -m 0644 console/*.html console/*.js console/*.css console/*.svg "$SHARE/console/"
install -m 0644 console/vendor/echarts.min.js "$SHARE/console/vendor/"
install -m 0644 node_modules/echarts/LICENSE "$SHARE/console/vendor/echarts.LICENSE"
install -m 0644 README.md docs/*.md "$DOC/"
if [ ! -e "$ETC/mashang.json" ]; then
    # The shipped config with absolute paths for an installed system.
    sed -e "s|\"intents\": \"../intents\"|\"intents\": \"$PREFIX/share/mashang/intents\"|" \
        -e "s|\"spool\": \"../var/spool\"|\"spool\": \"/var/lib/mashang/spool\"|" \
        -e "s|\"dir\": \"../console\"|\"dir\": \"$PREFIX/share/mashang/console\"|" \
        config/mashang.json > "$ETC/mashang.json"
    chmod 0640 "$ETC/mashang.json"
fi
[ -e "$ETC/deputies.json" ] || install -m 0640 config/deputies.json "$ETC/deputies.json"
sed -e "s|/usr/local|$PREFIX|g" scripts/systemd/mashangd.service > "$UNIT/mashangd.service"
chmod 0644 "$UNIT/mashangd.service"

if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
    getent group mashang >/dev/null || groupadd --system mashang
    getent passwd mashang >/dev/null ||
        useradd --system --gid mashang --home-dir /var/lib/mashang --shell /usr/sbin/nologin mashang
    chgrp mashang "$ETC/mashang.json" "$ETC/deputies.json"
    command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true
fi
echo "installed: $BIN/mashangd, $BIN/mashangctl, $ETC/, $UNIT/mashangd.service"
echo "next: edit $ETC/mashang.json (secrets may be env:NAME or file:PATH), then"
echo "      systemctl enable --now mashangd"
