#!/usr/bin/env bash
# quickstart.sh — run lotse locally in one command (as root on Debian 12, or as a
# user who already has the packages): installs what is missing, builds, starts a
# private PostgreSQL under ./state, applies the schema, makes an organisation key,
# a demo counsellor with a certified device key and a demo supervisor, and runs
# lotsed in the foreground. Ctrl-C stops everything. Run it again to reuse the
# same state (the database keeps one address, so a printed lotsectl command keeps
# working); delete ./state to start over.
#
# Environment: LOTSE_PORT (default 8080) the HTTP port; LOTSE_STATE (default
# ./state) where keys, database and configuration live; LOTSE_BIN_DIR a folder
# holding lotsed and lotsectl already built (then nothing is installed or built:
# tests/quickstart.test.sh); LOTSE_QUICKSTART_NO_RUN=1 sets everything up and
# prints the summary, then stops the database instead of running lotsed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${LOTSE_STATE:-$ROOT/state}
case "$STATE" in /*) ;; *) STATE=$ROOT/$STATE ;; esac
PORT=${LOTSE_PORT:-8080}
PGBIN=/usr/lib/postgresql/15/bin
PACKAGES="build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev
          libsodium-dev libpq-dev libcmocka-dev postgresql-15 curl"

if [ -n "${LOTSE_BIN_DIR:-}" ]; then
    BIN=$(cd "$LOTSE_BIN_DIR" && pwd)
    if [ ! -x "$BIN/lotsed" ] || [ ! -x "$BIN/lotsectl" ]; then
        echo "quickstart: no lotsed/lotsectl in $BIN" >&2
        exit 1
    fi
    [ -x "$PGBIN/initdb" ] || { echo "quickstart: PostgreSQL 15 is not installed" >&2; exit 1; }
else
    missing=()
    for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "quickstart: missing packages: ${missing[*]} (run as root once to install them)" >&2
            exit 1
        fi
        echo "quickstart: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi

    echo "quickstart: building"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOTSE_TESTS=ON >/dev/null
    cmake --build build -j"$(nproc)" --target lotsed lotsectl lotse-client >/dev/null
    BIN=$ROOT/build/server
fi
CTL="$BIN/lotsectl"

mkdir -p "$STATE/keys"
chmod 700 "$STATE" "$STATE/keys"

# PostgreSQL refuses to run as root, and the postgres user may not be able to
# enter this folder (e.g. under /root): the cluster then lives in /var/tmp.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGDATA_LINK=$STATE/pgdata
if [ ! -e "$PGDATA_LINK" ]; then
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
        ln -s "$(mktemp -d /var/tmp/lotse-quickstart-pg.XXXXXX)" "$PGDATA_LINK"
    else
        mkdir -p "$PGDATA_LINK"
    fi
fi
PGDATA=$(readlink -f "$PGDATA_LINK")
# The socket folder lives with the cluster, so the database keeps one address
# across runs (the lotsectl command printed below stays right).
SOCK=$PGDATA/sock
if [ ${#SOCK} -gt 90 ]; then
    echo "quickstart: $SOCK is too long for a socket path; set LOTSE_STATE to a shorter folder" >&2
    exit 1
fi
mkdir -p "$SOCK"
chmod 700 "$SOCK"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$PGDATA" "$SOCK"; fi
if [ ! -f "$PGDATA/data/PG_VERSION" ]; then
    echo "quickstart: creating a private PostgreSQL cluster in $PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA/data" -U lotse --auth=trust -E UTF8 --locale=C.UTF-8 -N >/dev/null
fi
as_pg "$PGBIN/pg_ctl" -D "$PGDATA/data" -l "$PGDATA/log" -w \
    -o "-k $SOCK -c listen_addresses='' -p 5432" start >/dev/null
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA/data" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
ADMIN_DB="host=$SOCK port=5432 user=lotse dbname=postgres"
DB="host=$SOCK port=5432 user=lotse dbname=lotse"
psql -qAt "$ADMIN_DB" -c "select 1 from pg_database where datname='lotse'" | grep -q 1 ||
    psql -q "$ADMIN_DB" -c "create database lotse" >/dev/null
"$CTL" --db "$DB" migrate

CRED=$STATE/demo-credentials.txt
if [ ! -f "$STATE/keys/org.key" ]; then
    "$CTL" --db "$DB" orgkey-create --out "$STATE/keys/org.key" >/dev/null 2>&1
fi
ORG_PUB=$(cat "$STATE/keys/org.key.pub")
if ! "$CTL" --db "$DB" account-list | grep -q ' demo-counsellor '; then
    umask 077
    cpw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 14)
    spw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 14)
    echo "$cpw" | "$CTL" --db "$DB" account-add --handle demo-counsellor --role counsellor \
        --name "Demo Counsellor" --topics family,school,friends,prison,other --capacity 2 --password-stdin >/dev/null
    echo "$spw" | "$CTL" --db "$DB" account-add --handle demo-supervisor --role supervisor \
        --name "Demo Supervisor" --password-stdin >/dev/null
    "$CTL" --db "$DB" device-keygen --out "$STATE/keys/demo-counsellor.device" >/dev/null 2>&1
    "$CTL" --db "$DB" device-certify --handle demo-counsellor \
        --device "$(cat "$STATE/keys/demo-counsellor.device.pub")" --orgkey "$STATE/keys/org.key" >/dev/null
    printf 'demo-counsellor %s\ndemo-supervisor %s\n' "$cpw" "$spw" > "$CRED"
fi

# The browser client pins this organisation key (trust-root.json, covered by
# Subresource Integrity): a copy of web/ under state/, republished on each run so
# that a changed web/ is picked up.
"$ROOT/deploy/client-publish.sh" --web "$ROOT/web" --out "$STATE/web" --root "org:$ORG_PUB:quickstart" \
    >"$STATE/client-manifest.txt"

cat > "$STATE/lotsed.conf" <<CONF
# written by deploy/quickstart.sh — see deploy/lotsed.conf.example for every setting
listen_address = 127.0.0.1
listen_port = $PORT
db = $DB
web_root = $STATE/web
org_public_key = $ORG_PUB
topics = family,school,friends,prison,other
opening_hours = always
log_level = info
CONF

RESET="rm -rf \"$STATE\""
case "$PGDATA" in "$STATE"/*) ;; *) RESET="$RESET \"$PGDATA\"" ;; esac
cat <<MSG

  lotse is running.

    young person:      http://127.0.0.1:$PORT/
    counsellor:        http://127.0.0.1:$PORT/counsellor/
    supervisor:        http://127.0.0.1:$PORT/supervisor/
    health:            http://127.0.0.1:$PORT/healthz

  demo accounts (also in $CRED):
$(sed 's/^/    /' "$CRED")

  the demo counsellor's certified device key (for the C client):
    $STATE/keys/demo-counsellor.device
  organisation public key: $ORG_PUB (pinned in $STATE/web/trust-root.json)
  client hashes to publish: $STATE/client-manifest.txt

  C client, in two more terminals:
    build/tests/tools/lotse-client young --url ws://127.0.0.1:$PORT/ws --org-key $ORG_PUB --topic family
    build/tests/tools/lotse-client counsellor --url ws://127.0.0.1:$PORT/ws --org-key $ORG_PUB \\
        --handle demo-counsellor --device $STATE/keys/demo-counsellor.device --password-stdin

  To certify a counsellor's browser (its login page shows the handle and the
  device key), while this quickstart runs, in another terminal:
    "$CTL" --db "$DB" \\
        device-certify --orgkey "$STATE/keys/org.key" --handle HANDLE --device DEVICE-KEY
  then log in again on that page.

  Ctrl-C stops lotsed and the database; run this script again to continue
  with the same accounts and keys. To start over, after Ctrl-C:
    $RESET

MSG
[ "${LOTSE_QUICKSTART_NO_RUN:-0}" = 1 ] && exit 0
"$BIN/lotsed" --config "$STATE/lotsed.conf"
