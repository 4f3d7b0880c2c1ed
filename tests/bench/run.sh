#!/bin/bash
# run.sh — the lotse benchmark suite (tests/bench/README.md).
#
# Starts a throwaway PostgreSQL, makes the accounts with lotsectl, then for each
# scenario a fresh lotsed (Release build, pinned to CPU $SERVER_CPU) and the load
# generator (pinned to CPU $GEN_CPU), and the Node.js + ws baseline for the
# comparison rows. Prints one table. Everything runs on loopback.
#
#   tests/bench/run.sh                 # the whole suite, about 5 minutes (10 at most)
#   BUILD=/path/to/build tests/bench/run.sh
#   ONLY="relay idle" tests/bench/run.sh   # a subset of: relay latency idle churn queue requeue login slow
#   ONLY="loop" tests/bench/run.sh   # opt-in: generator loop comparison
#   PROFILE=churn tests/bench/run.sh   # also perf-record lotsed during that scenario
#
# Environment: BUILD (default build-bench, configured Release if missing; NOBUILD=1
# uses the binaries there as they are), OUT
# (results folder, default a new /tmp/lotse-bench.XXXXXX), SERVER_CPU / GEN_CPU.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
OUT=${OUT:-$(mktemp -d /tmp/lotse-bench.XXXXXX)}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
ONLY=${ONLY:-relay latency idle churn queue requeue login slow}
PROFILE=${PROFILE:-}
PORT=${PORT:-18480}
BPORT=${BPORT:-18490}
PW=bench-password-not-secret
T0=$(date +%s)

mkdir -p "$OUT"
cd "$OUT" # nothing lands in the work tree
log() { echo "[$(($(date +%s) - T0))s] $*" >&2; }
want() { [[ " $ONLY " == *" $1 "* ]]; }

# The machine caps open files at 20,000 per process; both servers and the
# generator get as many as allowed.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 20000 ] || log "warning: open files limited to $(ulimit -n)"

# ---- build ------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log"
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
    log "warning: $BUILD is not a Release build"
if [ -z "${NOBUILD:-}" ]; then
    cmake --build "$BUILD" -j2 --target lotsed lotsectl loadgen >"$OUT/build.log" 2>&1 ||
        { tail -20 "$OUT/build.log"; exit 1; }
fi
if [ ! -d "$HERE/baseline/node_modules/ws" ]; then
    (cd "$HERE/baseline" && npm ci --no-audit --no-fund >"$OUT/npm.log" 2>&1)
fi
LOTSED=$BUILD/server/lotsed
CTL=$BUILD/server/lotsectl
GEN=$BUILD/tests/bench/loadgen

# ---- clean-up ---------------------------------------------------------------
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
    "$ROOT/tests/support/pg.sh" stop "$OUT/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---- database and accounts --------------------------------------------------
"$ROOT/tests/support/pg.sh" start "$OUT/pg" >/dev/null
PGCONN=$(cat "$OUT/pg/conninfo")
psql -q "$PGCONN" -c 'CREATE DATABASE bench' >/dev/null
DB=${PGCONN/dbname=postgres/dbname=bench}
$CTL --db "$DB" migrate >"$OUT/setup.log" 2>&1
$CTL orgkey-create --out "$OUT/org.key" >>"$OUT/setup.log" 2>&1
ORGPK=$(cat "$OUT/org.key.pub")
mkdir -p "$OUT/acct"
# counsellors for the load scenarios: minimal Argon2id cost (login is not what
# they measure), capacity 10, a certified device key each
NACCT=20
for i in $(seq 0 $((NACCT - 1))); do
    echo "$PW" | $CTL --db "$DB" account-add --handle "bench$i" --role counsellor --name "Bench $i" \
        --topics family --capacity 10 --password-stdin --pwhash-cost min --insecure-for-tests >/dev/null
    $CTL device-keygen --out "$OUT/acct/bench$i.device" >/dev/null 2>&1
    $CTL --db "$DB" device-certify --handle "bench$i" --device "$(cat "$OUT/acct/bench$i.device.pub")" \
        --orgkey "$OUT/org.key" >/dev/null
done
# the login scenario's accounts: lotsectl's default cost, as in production
NLOGIN=4
for i in $(seq 0 $((NLOGIN - 1))); do
    echo "$PW" | $CTL --db "$DB" account-add --handle "login$i" --role counsellor --name "Login $i" \
        --topics family --password-stdin >/dev/null
done
log "database and $((NACCT + NLOGIN)) accounts ready"

cat >"$OUT/lotsed.conf" <<EOF
# settings for load: rate limits and queue bounds out of the way, quiet log
listen_address = 127.0.0.1
listen_port = $PORT
db = $DB
web_root = $ROOT/web
topics = family,school,friends,prison,other
opening_hours = always
org_public_key = $ORGPK
log_level = warn
queue_max = 100000
relay_rate = 1000000
relay_burst = 1000000
control_rate = 100000
control_burst = 100000
max_protocol_errors = 100000
handshake_timeout = 30
db_queue_max = 1000000
# every generator connection comes from 127.0.0.1 and does no admission work
max_connections_per_source = 0
max_connections = 1000000
pow_threshold = 1000000
relay_bytes_rate = 1000000000
relay_bytes_burst = 1000000000
queue_max_wait = 86400
# each scenario stops its server at once: no drain for sessions left running
shutdown_drain = 0
EOF

# ---- servers ----------------------------------------------------------------
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

start_lotsed() { # NAME
    local prof=()
    if [ "$PROFILE" = "$1" ]; then
        prof=(perf record -e cpu-clock -F 2000 -g -o "$OUT/perf-$1.data" --)
    fi
    taskset -c "$SERVER_CPU" "${prof[@]}" "$LOTSED" --config "$OUT/lotsed.conf" >"$OUT/lotsed-$1.log" 2>&1 &
    SPID=$!
    wait_port "$PORT" || { cat "$OUT/lotsed-$1.log" >&2; exit 1; }
    # RSS is read from lotsed itself, not from perf or taskset
    SRV=$SPID
    if [ ${#prof[@]} -gt 0 ]; then
        sleep 0.3
        SRV=$(pgrep -P "$SPID" -x lotsed || echo "$SPID")
    fi
    helpers_off_server_cpu
}

# The service thread keeps the server CPU to itself; the server's other threads
# (lotsed: Argon2id and database-connect workers at SCHED_IDLE; Node: V8's
# garbage collector and libuv's pool) go to the other CPU, where a 2-core
# machine's scheduler would run them too. Done for both servers alike.
helpers_off_server_cpu() {
    local t
    for t in /proc/"$SRV"/task/*; do
        [ "${t##*/}" = "$SRV" ] || taskset -p -c "$GEN_CPU" "${t##*/}" >/dev/null 2>&1 || true
    done
}

start_node() { # NAME
    taskset -c "$SERVER_CPU" node "$HERE/baseline/server.js" "$BPORT" >"$OUT/node-$1.log" 2>&1 &
    SPID=$!
    SRV=$SPID
    wait_port "$BPORT" || { cat "$OUT/node-$1.log" >&2; exit 1; }
    helpers_off_server_cpu
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill -INT "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

# gen NAME ARGS...: runs the generator against the server just started and
# prints its RESULT line (also kept in $OUT/NAME.out)
gen() {
    local name=$1
    shift
    local port=$PORT extra=(--org-key "$OUT/org.key" --accounts "bench:$NACCT" --account-dir "$OUT/acct"
        --password "$PW" --logins "login:$NLOGIN")
    if [[ " $* " == *" --baseline "* ]]; then
        port=$BPORT
        extra=()
    fi
    taskset -c "$GEN_CPU" "$GEN" "$@" ${GEN_EXTRA:-} --port "$port" --server-pid "$SRV" --loop "$LOOP" "${extra[@]}" \
        >"$OUT/$name.out" 2>"$OUT/$name.err" || true
    local r
    r=$(grep '^RESULT' "$OUT/$name.out" | tail -1 || true)
    [ -n "$r" ] || { log "$name: no result (see $OUT/$name.err)"; tail -5 "$OUT/$name.err" >&2; }
    echo "$r"
}

# field LINE KEY
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
# pick_median RESULT...: of three RESULT lines, the one with the median p99
pick_median() { for x in "$@"; do echo "$(field "$x" p99_us) $x"; done | sort -g | sed -n 2p | cut -d' ' -f2-; }

declare -A R

LOOP=${LOOP:-ev}
if want loop; then
    # Which lws loop suits the generator: closed-loop throughput and p99 at
    # 20,000 frames/s, both against lotsed. Latency decides.
    for l in poll ev; do
        LOOP=$l
        start_lotsed "loop-$l"
        r=$(gen "loop-$l" relay --pre-encrypted --sessions 1000 --duration 3)
        stop_server
        R[loop_$l]=$(field "$r" frames_per_s)
        start_lotsed "loop-lat-$l"
        r=$(gen "loop-lat-$l" relay --pre-encrypted --sessions 1000 --rate 20000 --duration 3)
        stop_server
        R[loop_lat_$l]=$(field "$r" p99_us)
        log "generator loop $l: ${R[loop_$l]} frames/s closed loop, p99 ${R[loop_lat_$l]} us at 20k/s"
    done
    LOOP=ev
    if [ "${R[loop_lat_poll]%.*}" -lt "${R[loop_lat_ev]%.*}" ]; then LOOP=poll; fi
    log "generator uses the $LOOP loop"
fi

if want relay; then
    # closed loop (16 frames in flight per session direction), lotse and the
    # baseline alternately, median of 3
    lo=() ba=() lc=() bc=()
    for i in 1 2 3; do
        start_lotsed "relay-$i"
        r=$(gen "relay-lotse-$i" relay --pre-encrypted --sessions 1000 --duration 5)
        stop_server
        lo+=("$(field "$r" frames_per_s)")
        lc+=("$(awk -v f="$(field "$r" frames_per_s)" -v c="$(field "$r" server_cpu)" 'BEGIN { printf "%.0f", (c > 0 ? f / c : 0) }')")
        start_node "relay-$i"
        r=$(gen "relay-node-$i" relay --baseline --sessions 1000 --duration 5)
        stop_server
        ba+=("$(field "$r" frames_per_s)")
        bc+=("$(awk -v f="$(field "$r" frames_per_s)" -v c="$(field "$r" server_cpu)" 'BEGIN { printf "%.0f", (c > 0 ? f / c : 0) }')")
    done
    R[relay]=$(median3 "${lo[@]}")
    R[relay_node]=$(median3 "${ba[@]}")
    R[relay_cpu]=$(median3 "${lc[@]}")
    R[relay_node_cpu]=$(median3 "${bc[@]}")
    log "relay frames/s: lotse ${lo[*]}  node ${ba[*]}; per server CPU-second: lotse ${lc[*]}  node ${bc[*]}"
    start_lotsed relay-crypto
    r=$(gen relay-crypto relay --sessions 1000 --duration 5)
    stop_server
    R[relay_crypto]=$(field "$r" frames_per_s)
fi

if want latency; then
    # paced at 20,000 frames/s over 1,000 sessions; lotse and the baseline
    # alternately, the run with the median p99 of 3 each
    lo=() ba=()
    for i in 1 2 3; do
        start_lotsed "latency-$i"
        lo+=("$(gen "latency-pre-$i" relay --pre-encrypted --sessions 1000 --rate 20000 --duration 5)")
        stop_server
        start_node "latency-$i"
        ba+=("$(gen "latency-node-$i" relay --baseline --sessions 1000 --rate 20000 --duration 5)")
        stop_server
    done
    R[lat_pre]=$(pick_median "${lo[@]}")
    R[lat_node]=$(pick_median "${ba[@]}")
    cr=()
    for i in 1 2 3; do
        start_lotsed "latency-crypto-$i"
        cr+=("$(gen "latency-crypto-$i" relay --sessions 1000 --rate 20000 --duration 5)")
        stop_server
    done
    R[lat]=$(pick_median "${cr[@]}")
    log "latency p99 us: lotse $(for x in "${lo[@]}"; do field "$x" p99_us; done | tr '\n' ' ') node $(for x in "${ba[@]}"; do field "$x" p99_us; done | tr '\n' ' ') real crypto $(for x in "${cr[@]}"; do field "$x" p99_us; done | tr '\n' ' ')"
fi

if want idle; then
    # 19,000 connections: 17,272 young people, each in an active session with one
    # of 1,728 counsellors of capacity 10 (the open-files cap is 20,000). RSS is
    # read 2 s after the last session is keyed; then the connections are held
    # 35 s, past one 30 s ping round, and the server's CPU share is reported.
    start_lotsed idle
    R[idle]=$(gen idle idle --sessions 17272 --cap 10 --warmup 2 --duration 35 --setup-timeout 200)
    stop_server
    start_node idle
    R[idle_node]=$(gen idle-node idle --baseline --sessions 9500 --warmup 2 --duration 35)
    stop_server
    log "idle: ${R[idle]}"
fi

if want churn; then
    start_lotsed churn
    R[churn]=$(gen churn churn --concurrency 300 --cap 10 --duration 10)
    stop_server # the rows still queued are written before lotsed exits
    R[churn_db]=$(psql -qtA "$DB" -c "SELECT count(*) FROM sessions WHERE end_reason = 'ended_by_counsellor'")
    log "churn: ${R[churn]} rows=${R[churn_db]}"
fi

if want queue; then
    start_lotsed queue
    R[queue]=$(gen queue queue --waiting 5000 --concurrency 1000 --cap 10 --duration 10)
    stop_server
    log "queue: ${R[queue]}"
fi
if want requeue; then
    # the same queue, operated on open connections: each counsellor hands every
    # session it takes straight back (transfer to the queue); the young person
    # answers with a new key and waits again at its old place
    start_lotsed requeue
    R[requeue]=$(gen requeue queue --requeue --waiting 5000 --concurrency 1000 --cap 10 --duration 10)
    stop_server
    log "requeue: ${R[requeue]}"
fi

if want login; then
    # Argon2id at lotsectl's default cost on the server's worker threads (on the
    # generator's CPU, at SCHED_IDLE) while the relay runs at 20,000 frames/s
    # over 1,000 sessions; 3 runs, the one with the median p99 is reported (a
    # shared VM's stalls land in one run or another)
    lines=()
    for i in 1 2 3; do
        start_lotsed login
        lines+=("$(gen "login$i" login --sessions 1000 --rate 20000 --login-slots 4 --duration 10)")
        stop_server
    done
    R[login]=$(pick_median "${lines[@]}")
    log "login p99 us: $(for l in "${lines[@]}"; do printf '%s ' "$(field "$l" p99_us)"; done)"
    log "login: ${R[login]}"
fi

if want slow; then
    start_lotsed slow
    R[slow]=$(gen slow slow --pre-encrypted --sessions 1000 --rate 20000 --duration 9)
    stop_server
    log "slow: ${R[slow]}"
fi

if [ -n "$PROFILE" ] && [ -f "$OUT/perf-$PROFILE.data" ]; then
    perf report -i "$OUT/perf-$PROFILE.data" --no-children -g none --sort dso,symbol --stdio 2>/dev/null |
        grep -v '^#' | grep '%' | head -40 >"$OUT/perf-$PROFILE.txt" || true
fi

# ---- the table --------------------------------------------------------------
f() { field "${R[$1]:-}" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
ok() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { if (v == "") { print "-"; exit }
    r = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print r ? "yes" : "NO" }'; }
kib() { awk -v b="$1" 'BEGIN { if (b == "") print ""; else printf "%.2f", b / 1024 }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print ""; else printf "%.2f", u / 1000 }'; }
lat3() { echo "$(ms "$(f "$1" p50_us)") / $(ms "$(f "$1" p99_us)") / $(ms "$(f "$1" p999_us)")"; }
latok() { echo "$(ok "$(ms "$(f "$1" p50_us)")" '<=' 0.3)/$(ok "$(ms "$(f "$1" p99_us)")" '<=' 1)/$(ok "$(ms "$(f "$1" p999_us)")" '<=' 5)"; }

idle_conn=$(f idle connections)
idle_kib=$(kib "$(f idle bytes_per_conn)")
node_kib=$(kib "$(f idle_node bytes_per_conn)")
p99=$(ms "$(f lat_pre p99_us)")
n99=$(ms "$(f lat_node p99_us)")
churn=$(f churn sessions_per_s)
queue=$(f queue ops_per_s)
requeue=$(f requeue ops_per_s)

echo
echo "lotse benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -z "$(git -C "$ROOT" status --porcelain -- server proto 2>/dev/null)" ] || rev="$rev + uncommitted changes"
[ -z "${NOBUILD:-}" ] || rev="$rev, binary not rebuilt (NOBUILD)"
echo "lotsed $rev (Release) on CPU $SERVER_CPU, generator on CPU $GEN_CPU (lws $LOOP loop), loopback, 300-byte frames (256-byte bucket); baseline: Node $(node --version) + ws $(node -p "require('$HERE/baseline/node_modules/ws/package.json').version" 2>/dev/null)"
echo
row() { printf '| %-13s | %-64s | %-24s | %-14s | %-11s | %-20s | %-8s |\n' "$@"; }
row scenario figure lotse target met "baseline Node+ws" ratio
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "---------------" "------------------------------------------------------------------" "--------------------------" "----------------" "-------------" "----------------------" "----------"
if want idle; then
    row "idle" "connections held (cap: 20,000 open files per process)" "$idle_conn" ">= 19,000" "$(ok "$idle_conn" '>=' 19000)" "$(f idle_node connections)" "-"
    row "idle" "server RSS per connection, KiB" "$idle_kib" "<= 8" "$(ok "$idle_kib" '<=' 8)" "$node_kib" "$(ratio "$idle_kib" "$node_kib")"
    row "idle" "server CPU share holding them 35 s (one ping round)" "$(f idle server_cpu)" "-" "-" "$(f idle_node server_cpu)" "-"
fi
if want relay; then
    row relay "frames/s, 1,000 sessions, pre-encrypted, median of 3" "${R[relay]}" ">= 100,000" "$(ok "${R[relay]}" '>=' 100000)" "${R[relay_node]}" "$(ratio "${R[relay]}" "${R[relay_node]}")"
    row relay "frames per server CPU-second (same runs)" "${R[relay_cpu]}" "-" "-" "${R[relay_node_cpu]}" "$(ratio "${R[relay_cpu]}" "${R[relay_node_cpu]}")"
    row relay "frames/s, real crypto in the generator" "${R[relay_crypto]}" "-" "-" "-" "-"
fi
if want latency; then
    row "relay latency" "p50/p99/p99.9 ms at 20k/s, pre-encrypted (median p99 of 3)" "$(lat3 lat_pre)" "0.3 / 1 / 5" "$(latok lat_pre)" "$(lat3 lat_node)" "p99 $(ratio "$p99" "$n99")"
    row "relay latency" "p50/p99/p99.9 ms at 20k/s, real crypto (median p99 of 3)" "$(lat3 lat)" "0.3 / 1 / 5" "$(latok lat)" "-" "-"
fi
if want churn; then
    row churn "full sessions/s; DB rows ${R[churn_db]:-?} for $(f churn sessions_total) seen ended" "$churn" ">= 1,000" "$(ok "$churn" '>=' 1000)" "-" "-"
fi
if want queue; then
    row queue "arrivals: new connection + hello, take; ops/s, ~5,000 waiting" "$queue" ">= 50,000" "$(ok "$queue" '>=' 50000)" "-" "-"
fi
if want requeue; then
    row queue "re-queue on open connections: transfer back + rekey, take; ops/s" "$requeue (waiting $(f requeue waiting))" ">= 50,000" "$(ok "$requeue" '>=' 50000)" "-" "-"
fi
if want login; then
    row logins "logins/s at default cost; relay p99 ms at 20k/s" "$(f login logins_per_s)/s, p99 $(ms "$(f login p99_us)")" "report; <= 2" "$(ok "$(ms "$(f login p99_us)")" '<=' 2)" "-" "-"
fi
if want slow; then
    row "slow reader" "others' p99 ms before / during the stall" "$(ms "$(f slow p99_before_us)") / $(ms "$(f slow p99_during_us)")" "unchanged" "-" "-" "-"
    row "slow reader" "server RSS KiB at stall / peak; reader closed by server" "$(f slow rss_at_stall_kib) / $(f slow rss_peak_kib); $(f slow victim_closed)" "bounded" "$(awk -v a="$(f slow rss_at_stall_kib)" -v b="$(f slow rss_peak_kib)" 'BEGIN { if (a == "" || b == "") print "-"; else print ((b - a < 4096) ? "yes" : "NO") }')" "-" "-"
fi
if want loop; then
    row generator "lws poll() / libev: closed-loop frames/s" "${R[loop_poll]:-} / ${R[loop_ev]:-}" "-" "-" "-" "-"
    row generator "lws poll() / libev: p99 us at 20k frames/s" "${R[loop_lat_poll]:-} / ${R[loop_lat_ev]:-}" "-" "-" "-" "-"
fi
echo
echo "ratios lotse/baseline: throughput $(ratio "${R[relay]:-}" "${R[relay_node]:-}"), p99 latency $(ratio "$p99" "$n99"), memory per connection $(ratio "$idle_kib" "$node_kib")"
echo "results and logs: $OUT; total time $(($(date +%s) - T0)) s"
