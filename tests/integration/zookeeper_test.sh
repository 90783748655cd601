#!/usr/bin/env bash
# The zookeeper registry against a real ZooKeeper 3.8 on loopback: starts a
# throwaway server (zk/zkserver.sh: temp dataDir, free port, fast session
# expiry), runs the C test binary against it, stops the server.
# Exit 77 (skip) only when the ZooKeeper jar or Java is missing.
# Usage: zookeeper_test.sh path/to/zookeeper_test [test-name-filter]
set -u
BIN=${1:?usage: zookeeper_test.sh path/to/zookeeper_test [filter]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
cleanup() {
    "$HERE/zk/zkserver.sh" stop "$WORK/zk"
    rm -rf "$WORK"
}
trap cleanup EXIT

t0=$(date +%s%N)
"$HERE/zk/zkserver.sh" start "$WORK/zk" >/dev/null
rc=$?
if [ $rc -ne 0 ]; then exit $rc; fi # 77: skip, with the reason on stderr
echo "ZooKeeper up on 127.0.0.1:$(cat "$WORK/zk/port") in $((($(date +%s%N) - t0) / 1000000)) ms"

export DUBBO_ZK="127.0.0.1:$(cat "$WORK/zk/port")"
export DUBBO_ZK_CTL="$HERE/zk/zkserver.sh"
export DUBBO_ZK_DIR="$WORK/zk"
# A third-party client for one check: node-zookeeper-client (dubbo2.js's)
# from the interop peers' node_modules (scripts/setup.sh installs them).
mods="$ROOT/tests/interop/peers/node_modules"
if command -v node >/dev/null && [ -d "$mods/node-zookeeper-client" ]; then
    export NODE_PATH="$mods"
    export DUBBO_ZK_LS="node $HERE/zk/ls.js"
fi
# libzookeeper_mt's own allocations at exit are not ours to fix; see the file.
export LSAN_OPTIONS="suppressions=$HERE/zk/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

"$BIN" "$@"
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- ZooKeeper log (tail) ---"
    tail -20 "$WORK/zk/zookeeper.log" 2>/dev/null
fi
exit $rc
