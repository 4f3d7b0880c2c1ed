#!/usr/bin/env python3
"""incgraph.py — the include graph of server/src by layer (tests/layers.txt).

Prints every include arrow between two files of server/src ("a -> b  [la->lb]",
"UP" when it runs from a lower layer to a higher one), then the counts. Files
missing from the map are shown with layer "?".

usage: tests/tools/incgraph.py [ROOT] [--up-only] [--quiet]
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..")
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "layers.txt")
src = os.path.join(root, "server", "src")

layer = {}
with open(here) as f:
    for line in f:
        line = line.split("#", 1)[0].split()
        if len(line) == 2:
            layer[line[0]] = int(line[1])

inc = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
files = sorted(n for n in os.listdir(src) if n.endswith((".c", ".h")))
edges = []
for name in files:
    with open(os.path.join(src, name)) as f:
        for line in f:
            m = inc.match(line)
            if m and m.group(1) in files:
                edges.append((name, m.group(1)))

up = 0
for a, b in edges:
    la, lb = layer.get(a, "?"), layer.get(b, "?")
    is_up = isinstance(la, int) and isinstance(lb, int) and lb > la
    up += is_up
    if "--quiet" not in sys.argv and (is_up or "--up-only" not in sys.argv):
        print(f"{a} -> {b}  [{la}->{lb}]{'  UP' if is_up else ''}")
unmapped = [n for n in files if n not in layer]
print(f"files {len(files)}, include arrows {len(edges)}, upward {up}"
      + (f", unmapped: {' '.join(unmapped)}" if unmapped else ""))
