#!/bin/sh
# Joins the Redis scripts of SRCDIR (src/store/lua) into OUTDIR, one file a
# script, as Redis loads them (docs/lua.md):
#   SRCDIR/NAME.lua       a script of one file
#   SRCDIR/NAME/*.lua     a script of modules, joined in file-name order
#   SRCDIR/lib/LIB.lua    a module shared by scripts; GENDIR/LIB.lua a
#                         generated one (schema.lua)
# A script names the shared modules it needs with lines "--@use LIB" (in
# any of its files); they go first, in the order named, each once.
#   lua-join.sh SRCDIR GENDIR OUTDIR
set -eu
src=$1 gen=$2 out=$3
mkdir -p "$out"
rm -f "$out"/*.lua
for entry in "$src"/*.lua "$src"/*/; do
    [ -e "$entry" ] || continue
    case $entry in
        */lib/) continue ;;
        */) name=$(basename "$entry"); parts=$(ls "$entry"*.lua | LC_ALL=C sort) ;;
        *) name=$(basename "$entry" .lua); parts=$entry ;;
    esac
    tmp="$out/$name.lua.tmp"
    {
        echo "-- $name: joined by scripts/lua-join.sh from $entry — do not edit"
        # shellcheck disable=SC2086
        for lib in $(sed -n 's/^--@use[[:space:]]*\([a-z_][a-z0-9_]*\)[[:space:]]*$/\1/p' $parts | awk '!seen[$0]++'); do
            if [ -f "$src/lib/$lib.lua" ]; then f="$src/lib/$lib.lua"
            elif [ -f "$gen/$lib.lua" ]; then f="$gen/$lib.lua"
            else echo "lua-join.sh: $name uses unknown module $lib" >&2; exit 1
            fi
            echo "-- [lib/$lib]"
            cat "$f"
        done
        for f in $parts; do
            echo "-- [$f]"
            cat "$f"
        done
    } > "$tmp"
    mv "$tmp" "$out/$name.lua"
done
