#!/bin/bash
# pg.sh start|stop DIR — a throwaway PostgreSQL 15 cluster for the tests.
#
# start: a fresh cluster in a new /tmp/lotse-pg.XXXXXX, unix socket only (no TCP
# port to clash with anything), trust auth for user "lotse"; writes the conninfo
# to DIR/conninfo and the cluster directory to DIR/pgdir. A cluster already
# recorded in DIR is stopped first.
# stop: stops the cluster recorded in DIR and removes its directory.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# initdb refuses to run as root: run the server tools as postgres then.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop() {
    [ -f "$dir/pgdir" ] || return 0
    local tmp
    tmp=$(cat "$dir/pgdir")
    case "$tmp" in
        /tmp/lotse-pg.*) ;;
        *) echo "pg.sh: refusing to remove unexpected directory '$tmp'" >&2; exit 1 ;;
    esac
    if [ -d "$tmp/data" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    rm -f "$dir/pgdir" "$dir/conninfo"
}

start() {
    stop
    mkdir -p "$dir"
    local tmp
    tmp=$(mktemp -d /tmp/lotse-pg.XXXXXX)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$tmp"
    fi
    # Record the directory first, so a failed start is still cleaned up by stop.
    echo "$tmp" >"$dir/pgdir"
    if ! as_pg "$PGBIN/initdb" -D "$tmp/data" -U lotse --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync -N >"$tmp/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$tmp/initdb.log" >&2
        exit 1
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w \
        -o "-c listen_addresses='' -k $tmp -p 5432 -c fsync=off -c max_connections=200" \
        start >/dev/null; then
        echo "pg.sh: pg_ctl start failed:" >&2
        cat "$tmp/log" >&2 || true
        exit 1
    fi
    echo "host=$tmp port=5432 user=lotse dbname=postgres" >"$dir/conninfo"
    echo "pg.sh: cluster up in $tmp"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
