#!/usr/bin/env bash
# Runs an integration test binary against a throwaway etcd 3.4 on loopback
# (free ports, a private data dir), with DUBBO_ETCD=127.0.0.1:<port> set;
# stops it and removes the data afterwards. Exit 77 (skip) only when etcd
# is not installed or does not come up.
# Usage: configurator_etcd.sh path/to/test-binary [test-name-filter]
set -u
BIN=${1:?usage: configurator_etcd.sh path/to/test-binary [filter]}
shift
if ! command -v etcd >/dev/null; then
    echo "SKIP: etcd is not installed (Debian: etcd-server)" >&2
    exit 77
fi
WORK=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ec=$(free_port)
ep=$(free_port)
em=$(free_port)
while [ "$ep" = "$ec" ]; do ep=$(free_port); done
while [ "$em" = "$ec" ] || [ "$em" = "$ep" ]; do em=$(free_port); done
mkdir -m 700 "$WORK/data"
etcd --name default --data-dir "$WORK/data" \
    --listen-client-urls "http://127.0.0.1:$ec" --advertise-client-urls "http://127.0.0.1:$ec" \
    --listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
    --initial-cluster "default=http://127.0.0.1:$ep" --listen-metrics-urls "http://127.0.0.1:$em" \
    >"$WORK/etcd.log" 2>&1 </dev/null &
PID=$!
for _ in $(seq 150); do
    if curl -sf "http://127.0.0.1:$ec/health" >/dev/null 2>&1; then
        up=1
        break
    fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "${up:-}" ]; then
    echo "SKIP: etcd did not come up; its log:" >&2
    tail -5 "$WORK/etcd.log" >&2
    exit 77
fi
echo "etcd up on 127.0.0.1:$ec"
export DUBBO_ETCD="127.0.0.1:$ec"
"$BIN" "$@"
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- etcd log (tail) ---"
    tail -20 "$WORK/etcd.log"
fi
exit $rc
