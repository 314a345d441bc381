#!/usr/bin/env python3
"""The include graph of src/: layers only look down, and modules form no cycle.

    scripts/check-layers.py src include

A module is a .c file and the .h beside it (src/core/step.c + step.h);
X_internal.h belongs to module X.  The
folder a module sits in is its layer; LAYERS ranks them.  A module may
include headers of its own folder and of layers with a lower rank, nothing
at its own rank in another folder (two channels never know each other) and
nothing above.  The module graph must have no cycle, even inside one folder.
Exits 1 naming every offending #include; make runs it before compiling.
"""
import os
import re
import sys

# rank: what a layer may build on (docs/architecture.md draws the same).
LAYERS = {
    "base": 0,            # utf8, text, log, json helpers, config, metrics
    "store": 1,           # the Redis connection and the scripts
    "http": 1,            # server, route table, replies, HTTP client
    "intents": 1,         # normalise, patterns, the learned model
    "core": 2,            # roster, routing, lifecycle, step, outbox, spool
    "channels": 3,        # what every channel shares, and the channel table
    "channels/*": 4,      # one folder a channel
    "admin": 4,           # the administrators' API
    "daemon": 5,          # main and the workers
    "cli": 5,             # mashangctl
}
PUBLIC = "include"        # headers other programs would include: below all

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """'channels/wechat/wechat.c' -> ('channels/wechat', 4)."""
    parts = rel.split("/")
    if parts[0] == PUBLIC:
        return PUBLIC, -1
    if len(parts) > 2 and parts[0] == "channels":
        return "channels/" + parts[1], LAYERS["channels/*"]
    folder = parts[0] if len(parts) > 1 else ""
    if folder not in LAYERS:
        return folder, None
    return folder, LAYERS[folder]


def module_of(rel):
    """A folder's private header (admin_internal.h) is part of its module."""
    m = os.path.splitext(rel)[0]
    return m[:-len("_internal")] if m.endswith("_internal") else m


def main(src, include):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(root, n)
                files[os.path.relpath(p, src)] = p
    for root, _, names in os.walk(include):
        for n in names:
            if n.endswith(".h"):
                p = os.path.join(root, n)
                files[os.path.join(PUBLIC, os.path.relpath(p, include))] = p

    problems = []
    edges = {}
    for rel, path in sorted(files.items()):
        layer, rank = layer_of(rel)
        if rank is None:
            problems.append(f"{path}: folder '{layer}' is not a layer (scripts/check-layers.py)")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line_no, inc in ((text.count("\n", 0, m.start()) + 1, m.group(1))
                             for m in INCLUDE.finditer(text)):
            target = inc if inc in files else os.path.join(PUBLIC, inc)
            if target not in files:
                if "/" not in inc:
                    problems.append(f"{path}:{line_no}: include \"{inc}\" by its path under src/ (\"layer/{inc}\")")
                continue          # generated (lua_scripts) or a system header
            tlayer, trank = layer_of(target)
            if trank is None:
                continue
            if tlayer != layer and trank >= rank:
                problems.append(f"{path}:{line_no}: {layer} (rank {rank}) must not include "
                                f"\"{inc}\" of {tlayer} (rank {trank})")
            a, b = module_of(rel), module_of(target)
            if a != b:
                edges.setdefault(a, set()).add(b)

    for cycle in cycles(edges):
        problems.append("module cycle: " + " -> ".join(cycle + [cycle[0]]))

    for p in problems:
        print("layers: " + p, file=sys.stderr)
    return 1 if problems else 0


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: check-layers.py SRC_DIR INCLUDE_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
