#!/usr/bin/env bash
# tests/cluster/run.sh [BUILD_DIR] — the two-node fault test (issue 16): a
# throwaway PostgreSQL (tests/support/pg.sh), the Debian nginx with the
# locations of deploy/nginx/lotse-nodes-locations.conf in front of two lotsed
# ports, and the driver tests/cluster/nodes_drive.c, which makes the accounts,
# starts lotsed a and b, runs 50 chats and 200 waiting young people through
# nginx and the faults, and prints the counts. Everything started here is
# stopped on exit (trap); the lotsed die with the driver (PR_SET_PDEATHSIG).
#
# nginx runs in the foreground as one process (master_process off) as the
# user running this, with prefix, pid, logs and temp paths in its own
# directory: no system nginx or /var path is touched. Environment:
# LOTSE_CLUSTER_ARGS adds driver options (e.g. "--young 40 --counsellors 4").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(cd "$BUILD" && pwd)
DRIVE=$BUILD/tests/cluster/nodes_drive
NGINX=${NGINX:-/usr/sbin/nginx}

if [[ ! -x $NGINX ]]; then
    echo "cluster: nginx not installed ($NGINX): skipped"
    exit 0
fi
[[ -x $DRIVE ]] || { echo "cluster: $DRIVE not built" >&2; exit 1; }

WORK=$(mktemp -d /tmp/lotse-cluster.XXXXXX)
NGINX_PID=
cleanup() {
    if [[ -n $NGINX_PID ]]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    # the driver may have restarted nginx (one-node run): stop that one too
    if [[ -s $WORK/nginx/nginx.pid ]]; then
        kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
        sleep 0.2
    fi
    "$ROOT/tests/support/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Three free loopback ports, asked of the kernel (bound and let go at once).
read -r PORT_NGINX PORT_A PORT_B < <(python3 - <<'PY'
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])
for x in s: x.close()
PY
)

"$ROOT/tests/support/pg.sh" start "$WORK/pg"
export LOTSE_TEST_PG_FILE=$WORK/pg/conninfo
# the driver's files (keys, configurations, node logs) in here, not in /tmp
export LOTSE_IT_DIR=$WORK

# nginx: the shipped http snippet and node locations, upstreams on the test
# ports. 260 clients through one nginx need ~520 descriptors.
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log emerg;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    include $ROOT/deploy/nginx/lotse-http.conf;
    upstream lotse_any {
        server 127.0.0.1:$PORT_A max_fails=0;
        server 127.0.0.1:$PORT_B max_fails=0;
    }
    upstream lotse_a { server 127.0.0.1:$PORT_A max_fails=0; }
    upstream lotse_b { server 127.0.0.1:$PORT_B max_fails=0; }
    server {
        listen 127.0.0.1:$PORT_NGINX;
        include $ROOT/deploy/nginx/lotse-nodes-locations.conf;
    }
}
CONF
"$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e stderr -t >/dev/null 2>&1 || {
    "$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e stderr -t
    exit 1
}
"$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e stderr &
NGINX_PID=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT_NGINX") 2>/dev/null && break
    sleep 0.1
done
echo "cluster: nginx on $PORT_NGINX, nodes a on $PORT_A and b on $PORT_B"

rc=0
# shellcheck disable=SC2086
"$DRIVE" --nginx-port "$PORT_NGINX" --port-a "$PORT_A" --port-b "$PORT_B" \
    --nginx-conf "$WORK/nginx/nginx.conf" --nginx-prefix "$WORK/nginx/" \
    ${LOTSE_CLUSTER_ARGS:-} || rc=$?
if [[ $rc -ne 0 ]]; then
    # the node logs outlive the clean-up (lotsed logs no address, no
    # content; nginx logs "emerg" only, as deploy/nginx does: its error
    # lines name client addresses)
    KEEP=$(mktemp -d /tmp/lotse-cluster-failed.XXXXXX)
    cp "$WORK"/lotse-it-*/lotsed-*.log "$WORK"/lotse-it-*/lotsed-*.conf "$KEEP"/ 2>/dev/null || true
    echo "cluster: FAILED (exit $rc); logs kept in $KEEP"
fi
exit $rc
