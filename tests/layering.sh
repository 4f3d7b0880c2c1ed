#!/usr/bin/env bash
# tests/layering.sh — the layers of server/src (server/src/README.md) hold:
# the connection layer (ws.c, conn.c, outmsg.c, rxbuf.c and headers) includes no
# header of a role, a conversation or the server above it, and proto/ includes
# nothing from server/. Exit status 1 names every include that breaks a rule.
set -uo pipefail

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
SRC=$ROOT/server/src
FAILED=0

# The connection layer may include proto/, the leaf utilities (log, mem,
# config, ratelimit, list) and itself; never these.
UPPER='auth|counsellor|counsellor_assign|feed|hold|http|messages|metrics|relay|session|stats|summary|waiting|young|queue|store|workers|main'
for f in ws.c conn.c conn.h outmsg.c outmsg.h rxbuf.c rxbuf.h; do
    while IFS= read -r line; do
        echo "layering: server/src/$f includes an upper layer: $line"
        FAILED=1
    done < <(grep -nE "^#[[:space:]]*include[[:space:]]*\"(${UPPER})\.h\"" "$SRC/$f")
done

# proto/ stands alone: no include of a server/src header or path.
server_headers=$(cd "$SRC" && ls -- *.h | sed 's/\./\\./g' | paste -sd'|')
while IFS= read -r line; do
    echo "layering: proto/ includes server code: $line"
    FAILED=1
done < <(grep -rnE "^#[[:space:]]*include[[:space:]]*[\"<](\.\./)*(server/|(${server_headers})[\">])" "$ROOT/proto")

[[ $FAILED -eq 0 ]] && echo "layering: ok"
exit $FAILED
