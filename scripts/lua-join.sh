#!/bin/sh
# Joins the Redis scripts of SRCDIR (src/store/lua) into one Redis 7
# function library, OUTDIR/mashang.lua, exactly what the daemon loads with
# FUNCTION LOAD (docs/lua.md):
#   SRCDIR/lib/LIB.lua    a module shared by scripts; GENDIR/LIB.lua a
#                         generated one (schema.lua).  Every lib any script
#                         names ("--@use LIB") goes first, once, at the
#                         library's top level, in the order named.
#   SRCDIR/NAME.lua       a script of one file, joined in a do ... end block;
#                         it registers its function with register('NAME', fn).
#   SRCDIR/NAME/*.lua     a script of modules, joined in file-name order in
#                         one do ... end block, each module in a do ... end
#                         block of its own.  The top-level locals of a module
#                         (column 0: "local function f", "local X =") are
#                         exported; a later module gets those it names as
#                         locals of its block.  A module with the line
#                         "--@state" is not wrapped: its locals (the call's
#                         state, set at each call's start) are in scope for
#                         every later module of the script.
# The library is named mashang_<first 12 hex of the SHA-1 of its code>, and
# its functions <library>_NAME: two builds never replace each other's code.
#   lua-join.sh SRCDIR GENDIR OUTDIR
set -eu
exec /usr/bin/python3 - "$@" <<'EOF'
import hashlib
import os
import re
import sys

src, gen, out = sys.argv[1:4]


def die(msg):
    sys.exit("lua-join.sh: " + msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def uses(texts):
    names = []
    for t in texts:
        for m in re.finditer(r"^--@use[ \t]*([a-z_][a-z0-9_]*)[ \t]*$", t, re.M):
            if m.group(1) not in names:
                names.append(m.group(1))
    return names


def code_words(text):
    """The names a module's code mentions (comments and strings dropped;
    not after '.' or ':', a field)."""
    text = re.sub(r"--\[(=*)\[.*?\]\1\]", " ", text, flags=re.S)
    text = re.sub(r"--[^\n]*", " ", text)
    text = re.sub(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"", " '' ", text)
    return set(re.findall(r"(?<![.:\w])([A-Za-z_]\w*)", text)), text


def top_locals(text):
    names = []
    for line in text.split("\n"):
        m = re.match(r"local function (\w+)", line)
        if m:
            names.append(m.group(1))
            continue
        m = re.match(r"local ((?:\w+\s*,\s*)*\w+)\s*(?:=|$)", line)
        if m:
            names += [n.strip() for n in m.group(1).split(",")]
    return names


def declared_anywhere(code):
    """Every name a module declares at any depth (locals, parameters, loop
    variables): an assignment to one of these may be to that local."""
    names = set()
    for m in re.finditer(r"\blocal\s+function\s+(\w+)", code):
        names.add(m.group(1))
    for m in re.finditer(r"\blocal\s+((?:\w+\s*,\s*)*\w+)", code):
        names.update(n.strip() for n in m.group(1).split(","))
    for m in re.finditer(r"\bfunction\b[^(\n]*\(([^)]*)\)", code):
        names.update(n.strip() for n in m.group(1).split(",") if n.strip())
    for m in re.finditer(r"\bfor\s+((?:\w+\s*,\s*)*\w+)\s*(?:=|in)", code):
        names.update(n.strip() for n in m.group(1).split(","))
    return names


def assignment_lines(code):
    """The lines of `code` that start outside any bracket: where a
    statement may start (a field of a table constructor may not)."""
    out, depth = [], 0
    for line in code.split("\n"):
        if depth == 0:
            out.append(line)
        depth = max(0, depth + sum(line.count(c) for c in "({[") - sum(line.count(c) for c in ")}]"))
    return "\n".join(out)


def join_modules(name, parts):
    """A script of modules: one block, each module a block of its own that
    imports what it names of earlier modules' exports."""
    lines = ["do -- [%s/]" % name, "local _M = {}"]
    exported = {}           # name -> module
    for path in parts:
        text = read(path)
        if re.search(r"^--@state[ \t]*$", text, re.M):
            lines += ["-- [%s]" % path, text.rstrip("\n")]
            continue
        words, code = code_words(text)
        own = top_locals(text)
        imports = [n for n in exported if n in words and n not in own]
        shadowed = declared_anywhere(code)
        statements = assignment_lines(code)
        for n in imports:
            if n not in shadowed and re.search(r"^[ \t]*(?:\w+[ \t]*,[ \t]*)*%s[ \t]*(?:,[ \t]*\w+[ \t]*)*=(?!=)"
                                               % re.escape(n), statements, re.M):
                die("%s assigns %s of %s: a module's exports are fixed at load; "
                    "state of a call goes in the --@state module" % (path, n, exported[n]))
        lines.append("do -- [%s]" % path)
        if imports:
            lines.append("local %s = %s" % (", ".join(imports), ", ".join("_M." + n for n in imports)))
        lines.append(text.rstrip("\n"))
        if own:
            lines.append("%s = %s" % (", ".join("_M." + n for n in own), ", ".join(own)))
        lines.append("end")
        for n in own:
            exported[n] = path
    lines.append("end")
    return "\n".join(lines)


scripts = []
for entry in sorted(os.listdir(src)):
    path = os.path.join(src, entry)
    if entry == "lib":
        continue
    if os.path.isdir(path):
        parts = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".lua"))
        if parts:
            scripts.append((entry, parts, True))
    elif entry.endswith(".lua"):
        scripts.append((entry[:-4], [path], False))

libs = uses(read(p) for _, parts, _ in scripts for p in parts)
body = []
for lib in libs:
    f = os.path.join(src, "lib", lib + ".lua")
    if not os.path.isfile(f):
        f = os.path.join(gen, lib + ".lua")
    if not os.path.isfile(f):
        die("unknown module " + lib)
    body += ["-- [lib/%s]" % lib, read(f).rstrip("\n")]
for name, parts, folder in scripts:
    if folder:
        body.append(join_modules(name, parts))
    else:
        body += ["do -- [%s]" % parts[0], read(parts[0]).rstrip("\n"), "end"]
code = "\n".join(body) + "\n"
lib = "mashang_" + hashlib.sha1(code.encode()).hexdigest()[:12]
head = "\n".join([
    "#!lua name=" + lib,
    "-- joined by scripts/lua-join.sh from %s — do not edit (docs/lua.md)" % src,
    "local LIB = '%s'" % lib,
    "-- Registers the script NAME's function <library>_NAME.",
    "local function register(name, fn, flags)",
    "  redis.register_function { function_name = LIB .. '_' .. name, callback = fn, flags = flags }",
    "end",
]) + "\n"
os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    if f.endswith(".lua"):
        os.remove(os.path.join(out, f))
tmp = os.path.join(out, "mashang.lua.tmp")
with open(tmp, "w", encoding="utf-8") as f:
    f.write(head + code)
os.rename(tmp, os.path.join(out, "mashang.lua"))
EOF
