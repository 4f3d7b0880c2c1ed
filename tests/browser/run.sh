#!/bin/bash
# run.sh — the browser end-to-end tests and the JavaScript crypto vectors.
#
# Starts a throwaway PostgreSQL (tests/support/pg.sh), makes the database,
# organisation key and accounts with lotsectl, starts lotsed on a free port
# serving a copy of web/ that pins that key (deploy/client-publish.sh), and a
# second lotsed, the "attacker", whose configuration names another organisation
# key while serving the same published client; then runs `node --test` on
# vectors.test.mjs, chat.test.mjs, keep.test.mjs, nodes.test.mjs, sri.test.mjs, e2e.test.mjs, gap.e2e.test.mjs,
# mail-standin.e2e.test.mjs, mail.e2e.test.mjs, post.e2e.test.mjs, start.e2e.test.mjs,
# pages.e2e.test.mjs, console.e2e.test.mjs, handback.e2e.test.mjs, supervisor.e2e.test.mjs,
# ending.e2e.test.mjs, chain.e2e.test.mjs, lang.test.mjs, lang360.e2e.test.mjs,
# coordinator.e2e.test.mjs and nodes.e2e.test.mjs (two nodes behind nginx)
# (Playwright driving Debian's Chromium, headless). Everything started here is
# stopped in a trap. The last line is "N passed, N failed"; exit status is
# non-zero on any failure.
#
# Environment: LOTSE_BIN_DIR (lotsed and lotsectl; default build/server),
# CHROMIUM (default /usr/lib/chromium/chromium), LOTSE_KEEP_WORK=1 keeps the
# temporary folder (logs) for a look afterwards; LOTSE_BROWSER_TESTS a subset of
# the test files; LOTSE_TEST_PATTERN only the tests whose name matches (node --test
# --test-name-pattern).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${LOTSE_BIN_DIR:-$ROOT/build/server}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
CHROMIUM=${CHROMIUM:-/usr/lib/chromium/chromium}
ARTIFACTS=$ROOT/tests/artifacts
WORK=$(mktemp -d /tmp/lotse-browser.XXXXXX)
LOTSED_PID=
ATTACK_PID=

die() {
    echo "run.sh: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

# stop_lotsed PID: SIGTERM, up to 5 s to finish, then SIGKILL; reaped quietly so
# no "Killed" line follows the summary.
stop_lotsed() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cleanup() {
    stop_lotsed "$LOTSED_PID"
    stop_lotsed "$ATTACK_PID"
    bash "$ROOT/tests/support/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
    if [ "${LOTSE_KEEP_WORK:-0}" = 1 ]; then
        echo "run.sh: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ---------------------------------------------------------------------
[ -x "$BIN/lotsed" ] && [ -x "$BIN/lotsectl" ] || die "no lotsed/lotsectl in $BIN (set LOTSE_BIN_DIR)"
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "run.sh: installing chromium" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >"$WORK/apt.log" 2>&1 ||
            { apt-get update >>"$WORK/apt.log" 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >>"$WORK/apt.log" 2>&1; } ||
            { cat "$WORK/apt.log" >&2; die "could not install chromium"; }
    else
        die "no Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
    fi
fi
command -v node >/dev/null || die "node is needed"
(
    cd "$HERE" || exit 1
    want=$(node -p "require('./package.json').devDependencies['playwright-core']")
    have=$(node -p "try { require('./node_modules/playwright-core/package.json').version } catch { '' }" 2>/dev/null)
    if [ "$want" != "$have" ]; then
        if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
    fi
) >"$WORK/npm.log" 2>&1 || { cat "$WORK/npm.log" >&2; die "npm install failed"; }

# ---- database, keys, accounts ---------------------------------------------------------
bash "$ROOT/tests/support/pg.sh" start "$WORK/pg" >"$WORK/pg.log" 2>&1 || { cat "$WORK/pg.log" >&2; die "PostgreSQL did not start"; }
ADMIN_DB=$(cat "$WORK/pg/conninfo")
psql "$ADMIN_DB" -qc 'CREATE DATABASE lotse_browser' >/dev/null || die "could not create the database"
DB=${ADMIN_DB/dbname=postgres/dbname=lotse_browser}
CTL=("$BIN/lotsectl" --db "$DB")
"${CTL[@]}" migrate >"$WORK/ctl.log" 2>&1 || { cat "$WORK/ctl.log" >&2; die "migrate failed"; }
ORG_PUB=$("${CTL[@]}" orgkey-create --out "$WORK/org.key" 2>>"$WORK/ctl.log" | tail -n1)
[ -f "$WORK/org.key" ] || { cat "$WORK/ctl.log" >&2; die "orgkey-create failed"; }
[ -f "$WORK/org.key.pub" ] && ORG_PUB=$(tr -d '[:space:]' <"$WORK/org.key.pub")
add_account() { # handle role name password
    echo "$4" | "${CTL[@]}" account-add --handle "$1" --role "$2" --name "$3" \
        --topics family,school,friends,prison,other --password-stdin --pwhash-cost min --insecure-for-tests >>"$WORK/ctl.log" 2>&1 ||
        { cat "$WORK/ctl.log" >&2; die "account-add $1 failed"; }
}
COUNSELLOR_PASSWORD=anna-test-password
SUPERVISOR_PASSWORD=sam-test-password
COUNSELLOR2_PASSWORD=ben-test-password
add_account anna counsellor Anna "$COUNSELLOR_PASSWORD"
add_account ben counsellor Ben "$COUNSELLOR2_PASSWORD" # the colleague a chat is transferred to
add_account sam supervisor Sam "$SUPERVISOR_PASSWORD"

# ---- the published client: web/ with the fresh organisation key pinned -----------------
"$ROOT/deploy/client-publish.sh" --web "$ROOT/web" --out "$WORK/web" --root "org:$ORG_PUB:browser tests" \
    >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log" >&2; die "client-publish failed"; }

# ---- a counselling network (chain.e2e.test.mjs): the network key, a forged one,
# and a client that pins only the network key; the test serves it in place of
# the published one. The organisations and their keys are the test's.
"${CTL[@]}" netkey-create --out "$WORK/net.key" >>"$WORK/ctl.log" 2>&1 || { cat "$WORK/ctl.log" >&2; die "netkey-create failed"; }
"${CTL[@]}" netkey-create --out "$WORK/forged-net.key" >>"$WORK/ctl.log" 2>&1 || { cat "$WORK/ctl.log" >&2; die "netkey-create (forged) failed"; }
"$ROOT/deploy/client-publish.sh" --web "$ROOT/web" --out "$WORK/web-net" --root "network:$WORK/net.key.pub:browser network" \
    >>"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log" >&2; die "client-publish (network) failed"; }

# ---- the attacker: its own database and organisation key, the same client -------------
# It certifies a device of its own ("mallory") with its key and names that key
# in its configuration (so in /config.json). Its own console is a client
# published with its key (web-attack), which the tests serve to mallory's page.
psql "$ADMIN_DB" -qc 'CREATE DATABASE lotse_attack' >/dev/null || die "could not create the attacker's database"
ATTACK_DB=${ADMIN_DB/dbname=postgres/dbname=lotse_attack}
"$BIN/lotsectl" --db "$ATTACK_DB" migrate >>"$WORK/ctl.log" 2>&1 || { cat "$WORK/ctl.log" >&2; die "migrate (attacker) failed"; }
"$BIN/lotsectl" --db "$ATTACK_DB" orgkey-create --out "$WORK/attack.key" >>"$WORK/ctl.log" 2>&1 ||
    { cat "$WORK/ctl.log" >&2; die "orgkey-create (attacker) failed"; }
ATTACK_PUB=$(tr -d '[:space:]' <"$WORK/attack.key.pub")
MALLORY_PASSWORD=mallory-test-password
echo "$MALLORY_PASSWORD" | "$BIN/lotsectl" --db "$ATTACK_DB" account-add --handle mallory --role counsellor --name Mallory \
    --topics family,school,friends,prison,other --password-stdin --pwhash-cost min --insecure-for-tests >>"$WORK/ctl.log" 2>&1 ||
    { cat "$WORK/ctl.log" >&2; die "account-add mallory failed"; }
"$ROOT/deploy/client-publish.sh" --web "$ROOT/web" --out "$WORK/web-attack" --root "org:$ATTACK_PUB:attacker" \
    >>"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log" >&2; die "client-publish (attacker) failed"; }

# ---- lotsed -------------------------------------------------------------------------------
# A short resume grace: a closed browser context is a dropped connection (the
# protocol has no "log out"), and the next test should not find its counsellor
# still away-but-counted or its young person still holding a place for 120 s.
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
"$BIN/lotsed" --db "$DB" --listen-address 127.0.0.1 --listen-port "$PORT" --web-root "$WORK/web" \
    --org-public-key "$ORG_PUB" --log-level info --resume-grace 15 --pow-source-free 1000 >"$WORK/lotsed.log" 2>&1 &
LOTSED_PID=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q '"db":"up"' && break
    kill -0 "$LOTSED_PID" 2>/dev/null || { cat "$WORK/lotsed.log" >&2; die "lotsed exited"; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/lotsed.log" >&2; die "lotsed did not come up"; }
ATTACK_PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
"$BIN/lotsed" --db "$ATTACK_DB" --listen-address 127.0.0.1 --listen-port "$ATTACK_PORT" --web-root "$WORK/web" \
    --org-public-key "$ATTACK_PUB" --log-level info --resume-grace 15 --pow-source-free 1000 >"$WORK/lotsed-attack.log" 2>&1 &
ATTACK_PID=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$ATTACK_PORT/healthz" 2>/dev/null | grep -q '"db":"up"' && break
    kill -0 "$ATTACK_PID" 2>/dev/null || { cat "$WORK/lotsed-attack.log" >&2; die "attacker lotsed exited"; }
    sleep 0.1
done

# ---- tests ----------------------------------------------------------------------------------
mkdir -p "$ARTIFACTS/screenshots"
export LOTSE_URL="http://127.0.0.1:$PORT" LOTSE_DB="$DB" LOTSECTL="$BIN/lotsectl" LOTSE_ORGKEY="$WORK/org.key" \
    LOTSE_ORG_PUB="$ORG_PUB" LOTSE_COUNSELLOR=anna LOTSE_COUNSELLOR_PASSWORD="$COUNSELLOR_PASSWORD" \
    LOTSE_COUNSELLOR2=ben LOTSE_COUNSELLOR2_PASSWORD="$COUNSELLOR2_PASSWORD" \
    LOTSE_SUPERVISOR=sam LOTSE_SUPERVISOR_PASSWORD="$SUPERVISOR_PASSWORD" CHROMIUM="$CHROMIUM" \
    LOTSE_ARTIFACTS="$ARTIFACTS" LOTSE_WEB="$WORK/web" LOTSE_ATTACK_URL="http://127.0.0.1:$ATTACK_PORT" \
    LOTSE_ATTACK_DB="$ATTACK_DB" LOTSE_ATTACK_ORGKEY="$WORK/attack.key" LOTSE_ATTACK_WEB="$WORK/web-attack" \
    LOTSE_ATTACK_COUNSELLOR=mallory LOTSE_ATTACK_COUNSELLOR_PASSWORD="$MALLORY_PASSWORD" \
    LOTSE_NETKEY="$WORK/net.key" LOTSE_FORGED_NETKEY="$WORK/forged-net.key" LOTSE_NET_WEB="$WORK/web-net" \
    LOTSE_WORK="$WORK"
cd "$HERE" || die "no $HERE"
# LOTSE_BROWSER_TESTS names a subset while iterating (default: all)
TESTS=${LOTSE_BROWSER_TESTS:-vectors.test.mjs chat.test.mjs keep.test.mjs nodes.test.mjs sri.test.mjs e2e.test.mjs gap.e2e.test.mjs mail-standin.e2e.test.mjs mail.e2e.test.mjs post.e2e.test.mjs start.e2e.test.mjs pages.e2e.test.mjs console.e2e.test.mjs handback.e2e.test.mjs supervisor.e2e.test.mjs ending.e2e.test.mjs chain.e2e.test.mjs lang.test.mjs lang360.e2e.test.mjs coordinator.e2e.test.mjs nodes.e2e.test.mjs}
# shellcheck disable=SC2086 # a list of file names
node --test --test-reporter=tap ${LOTSE_TEST_PATTERN:+--test-name-pattern="$LOTSE_TEST_PATTERN"} $TESTS 2>&1 | tee "$WORK/tap.log"
status=${PIPESTATUS[0]}
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$WORK/tap.log" | tail -n1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$WORK/tap.log" | tail -n1)
if [ "$status" -ne 0 ]; then
    echo "---- lotsed log (tail) ----" >&2
    tail -n 40 "$WORK/lotsed.log" >&2
fi
[ "$status" -ne 0 ] && [ "${fail:-0}" = 0 ] && fail=1
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$status"
