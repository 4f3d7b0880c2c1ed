#!/usr/bin/env bash
# tests/layering.sh — the layers of server/src (server/src/README.md) hold.
# tests/layers.txt gives every file of server/src its layer: 0 wire and tools,
# 1 connections, 2 roles and conversations, 3 the process (server.c, main.c).
# Fails when a file of server/src is not in that map (a new file gets its line),
# when the map names a file that is gone, when a file includes a header of a
# higher layer (server.h is layer 3: only server.c and main.c include it), and
# when proto/ includes anything from server/. Exit status 1 names every break.
set -uo pipefail

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
SRC=$ROOT/server/src
MAP=$ROOT/tests/layers.txt
FAILED=0

declare -A layer
while read -r name n _; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    layer[$name]=$n
done <"$MAP"

for path in "$SRC"/*.c "$SRC"/*.h; do
    f=${path##*/}
    if [[ -z "${layer[$f]:-}" ]]; then
        echo "layering: server/src/$f has no layer in tests/layers.txt"
        FAILED=1
    fi
done
for f in "${!layer[@]}"; do
    if [[ ! -e "$SRC/$f" ]]; then
        echo "layering: tests/layers.txt names server/src/$f, which is gone"
        FAILED=1
    fi
done

# Every include of a server/src header from a lower layer into a higher one.
for path in "$SRC"/*.c "$SRC"/*.h; do
    f=${path##*/}
    from=${layer[$f]:-}
    [[ -z "$from" ]] && continue
    while IFS=: read -r lineno h; do
        to=${layer[$h]:-}
        if [[ -n "$to" && "$to" -gt "$from" ]]; then
            echo "layering: server/src/$f:$lineno (layer $from) includes $h (layer $to)"
            FAILED=1
        fi
    done < <(grep -nE '^#[[:space:]]*include[[:space:]]*"[^"]+"' "$path" |
        sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done

# proto/ stands alone: no include of a server/src header or path.
server_headers=$(cd "$SRC" && ls -- *.h | sed 's/\./\\./g' | paste -sd'|')
while IFS= read -r line; do
    echo "layering: proto/ includes server code: $line"
    FAILED=1
done < <(grep -rnE "^#[[:space:]]*include[[:space:]]*[\"<](\.\./)*(server/|(${server_headers})[\">])" "$ROOT/proto")

[[ $FAILED -eq 0 ]] && echo "layering: ok ($(ls "$SRC"/*.[ch] | wc -l) files in 4 layers)"
exit $FAILED
