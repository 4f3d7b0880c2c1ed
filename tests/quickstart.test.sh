#!/usr/bin/env bash
# quickstart.test.sh — deploy/quickstart.sh works as printed (issue #14, point 10).
#
#   tests/quickstart.test.sh BIN_DIR       (lotsed and lotsectl already built)
#
# Runs the quickstart with LOTSE_BIN_DIR (nothing installed or built), a state
# folder of its own and a free LOTSE_PORT; waits for lotsed; takes the
# device-certify command the quickstart printed, fills in a handle and a device
# key made with lotsectl, runs it exactly as printed and checks that the device
# is then certified; stops the quickstart as Ctrl-C does; runs it a second time
# (LOTSE_QUICKSTART_NO_RUN=1) and checks that it prints the same command, which
# still works. Everything started here is stopped; the state is removed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=$(cd "${1:?usage: quickstart.test.sh BIN_DIR}" && pwd)
STATE=$(mktemp -d /tmp/lotse-qs-test.XXXXXX)
QS_PID=
PGBIN=/usr/lib/postgresql/15/bin

fail() {
    echo "FAIL: $*" >&2
    [ -f "$STATE/out1" ] && sed 's/^/  quickstart: /' "$STATE/out1" >&2
    exit 1
}

cleanup() {
    if [ -n "$QS_PID" ] && kill -0 "$QS_PID" 2>/dev/null; then
        kill -INT -- "-$QS_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$QS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$QS_PID" 2>/dev/null
    fi
    # the cluster, if a run did not stop it; it may live in /var/tmp (root)
    local pgdata
    pgdata=$(readlink -f "$STATE/pgdata" 2>/dev/null)
    if [ -n "$pgdata" ] && [ -f "$pgdata/data/postmaster.pid" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pgdata/data" -m immediate -w stop >/dev/null 2>&1
        else
            "$PGBIN/pg_ctl" -D "$pgdata/data" -m immediate -w stop >/dev/null 2>&1
        fi
    fi
    case "$pgdata" in /var/tmp/lotse-quickstart-pg.*) rm -rf "$pgdata" ;; esac
    rm -rf "$STATE"
}
trap cleanup EXIT

[ -x "$PGBIN/initdb" ] || { echo "SKIP: PostgreSQL 15 is not installed"; exit 0; }
# a port nobody listens on (a connection to it is refused)
for _ in $(seq 50); do
    PORT=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done

# the printed command: the lines from the one after "To certify" up to the line
# holding "device-certify", as one shell command (with its line continuation)
printed_command() {
    sed -n '/To certify a counsellor/,/device-certify/p' "$1" | sed '1,2d'
}

# run the printed command for a new device of demo-counsellor; prints its key
certify_as_printed() { # output-file key-name
    "$BIN/lotsectl" device-keygen --out "$STATE/$2.device" >/dev/null 2>&1 || fail "device-keygen"
    local key cmd
    key=$(tr -d '[:space:]' <"$STATE/$2.device.pub")
    cmd=$(printed_command "$1")
    [ -n "$cmd" ] || fail "the quickstart printed no device-certify command"
    cmd=${cmd//HANDLE/demo-counsellor}
    cmd=${cmd//DEVICE-KEY/$key}
    (cd / && bash -c "$cmd") >"$STATE/certify.log" 2>&1 ||
        { cat "$STATE/certify.log" >&2; fail "the printed command failed: $cmd"; }
    echo "$key"
}

is_certified() { # key
    local db
    db=$(printed_command "$STATE/out1" | sed -n 's/.*--db "\([^"]*\)".*/\1/p')
    "$BIN/lotsectl" --db "$db" device-list | grep -q -- "$1"
}

# ---- first run: lotsed in the foreground, as a person runs it ----------------------------
setsid env LOTSE_BIN_DIR="$BIN" LOTSE_STATE="$STATE" LOTSE_PORT="$PORT" \
    "$ROOT/deploy/quickstart.sh" >"$STATE/out1" 2>&1 &
QS_PID=$!
for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q '"db":"up"' && break
    kill -0 "$QS_PID" 2>/dev/null || fail "the quickstart exited"
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "lotsed did not come up"
grep -q "http://127.0.0.1:$PORT/counsellor/" "$STATE/out1" || fail "LOTSE_PORT is not the port printed"
printed_command "$STATE/out1" | grep -q "$BIN/lotsectl" || fail "the command names lotsectl by a full path"
printed_command "$STATE/out1" | grep -q -- "--orgkey \"$STATE/keys/org.key\"" || fail "the command names the real org key"
key1=$(certify_as_printed "$STATE/out1" one) || exit 1
is_certified "$key1" || fail "the device is not certified after the printed command"
echo "ok: the printed command certified a device while the quickstart runs"

# ---- stop as Ctrl-C does ---------------------------------------------------------------
kill -INT -- "-$QS_PID"
for _ in $(seq 150); do kill -0 "$QS_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$QS_PID" 2>/dev/null && fail "Ctrl-C did not stop the quickstart"
QS_PID=
echo "ok: Ctrl-C stops the quickstart"

# ---- second run: the same database address, the same command ------------------------------
LOTSE_BIN_DIR="$BIN" LOTSE_STATE="$STATE" LOTSE_PORT="$PORT" LOTSE_QUICKSTART_NO_RUN=1 \
    "$ROOT/deploy/quickstart.sh" >"$STATE/out2" 2>&1 || { cat "$STATE/out2" >&2; fail "the second run failed"; }
[ "$(printed_command "$STATE/out1")" = "$(printed_command "$STATE/out2")" ] ||
    fail "the second run printed another command: $(printed_command "$STATE/out2")"
echo "ok: a second run prints the same command"
echo "PASS"
