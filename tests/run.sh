#!/usr/bin/env bash
# tests/run.sh — install what the build needs (Debian 12), then build and test
# three ways: plain, with ASan+UBSan, and the fuzz targets with clang.
#
# LOTSE_NO_APT=1 skips apt-get (also skipped when not root). Exit status is
# non-zero when any build or test run failed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=-j2

if [[ "${LOTSE_NO_APT:-0}" != 1 && $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev \
        libsodium-dev libpq-dev libcmocka-dev postgresql-15 clang libclang-rt-14-dev \
        ca-certificates chromium nginx openssl prometheus
    # the browser tests drive Debian's Chromium from Node.js (playwright-core)
    command -v node >/dev/null 2>&1 || apt-get install -y --no-install-recommends nodejs npm
fi

declare -a SUMMARY=()
FAILED=0

# run_build NAME DIR CTEST_ARGS... -- CMAKE_ARGS...
run_build() {
    local name=$1 dir=$2
    shift 2
    local -a ctest_args=() cmake_args=()
    while [[ $# -gt 0 && $1 != -- ]]; do ctest_args+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    cmake_args=("$@")

    echo "=== ${name}: configure and build in ${dir} ==="
    if ! cmake -S "$ROOT" -B "$dir" "${cmake_args[@]}" || ! cmake --build "$dir" $JOBS; then
        SUMMARY+=("${name}: BUILD FAILED")
        FAILED=1
        return 0
    fi
    echo "=== ${name}: ctest ==="
    local log="$dir/ctest-summary.log"
    local rc=0
    # ctest prints its own summary ("100% tests passed, 0 tests failed out of N");
    # tee keeps it on screen and lets the final summary quote it.
    (cd "$dir" && ctest --output-on-failure "${ctest_args[@]}") 2>&1 | tee "$log" || rc=$?
    local line
    line=$(grep -E 'tests passed|No tests were found' "$log" | tail -1 || true)
    if [[ $rc -ne 0 ]] || ! grep -q 'tests passed, 0 tests failed' "$log"; then
        SUMMARY+=("${name}: FAILED (${line:-no ctest summary})")
        FAILED=1
    else
        SUMMARY+=("${name}: ok (${line})")
    fi
}

# The layers of server/src (server/src/README.md): no role header in the
# connection layer, nothing from server/ in proto/. Also a CTest test.
echo "=== layering ==="
if tests/layering.sh; then
    SUMMARY+=("layering: ok")
else
    SUMMARY+=("layering: FAILED")
    FAILED=1
fi

run_build "build" build -- -DLOTSE_WERROR=ON

# Browser end-to-end tests and the JavaScript crypto vectors, against the
# plain build's lotsed.
echo "=== browser: Chromium end-to-end and JS vectors ==="
browser_log=build/browser.log
if LOTSE_BIN_DIR=build/server bash tests/browser/run.sh 2>&1 | tee "$browser_log"; then
    SUMMARY+=("browser: ok ($(tail -1 "$browser_log"))")
else
    SUMMARY+=("browser: FAILED ($(tail -1 "$browser_log"))")
    FAILED=1
fi
# Two lotsed nodes on one PostgreSQL behind the Debian nginx (issue 16): 50
# chats and 200 waiting young people through SIGTERM of each node, kill -9 of
# the holder and a PostgreSQL restart; the counts table is in the log.
echo "=== cluster: two nodes behind nginx, faults ==="
cluster_log=build/cluster.log
if bash tests/cluster/run.sh build 2>&1 | tee "$cluster_log"; then
    SUMMARY+=("cluster: ok ($(grep -E '^\| all \|' "$cluster_log" | tail -1 || true))")
else
    SUMMARY+=("cluster: FAILED ($(tail -1 "$cluster_log"))")
    FAILED=1
fi
run_build "build-asan" build-asan -- -DLOTSE_SANITIZE=ON -DLOTSE_WERROR=ON

if command -v clang >/dev/null 2>&1; then
    CC=clang run_build "build-fuzz" build-fuzz -R fuzz -- -DLOTSE_FUZZ=ON -DLOTSE_WERROR=ON
else
    SUMMARY+=("build-fuzz: skipped (no clang)")
fi

echo
echo "=== summary ==="
for s in "${SUMMARY[@]}"; do echo "$s"; done
exit $FAILED
