#!/usr/bin/env bash
# Regenerates the vectors of this directory: TriConsumer against TriProvider (Java Dubbo 3.3.6,
# tests/interop/java) through capture.py's proxy, one consumer process (so one connection) per
# case, each connection decoded into <case>.req.hex, <case>.resp.hex and <case>.headers.txt.
#
#   bash tests/vectors/triple/capture.sh [RAW_DIR]     (default /tmp/triple-capture)
#
# RAW_DIR keeps the raw bytes (connN.c2s/s2c) and the full frame dumps (<case>.frames.txt).
# Decoding needs the hpack package: a venv is made under /tmp the first time (analysis only).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
raw=${1:-/tmp/triple-capture}
py=${HPACK_PYTHON:-/tmp/triple-vectors-venv/bin/python}
if ! "$py" -c "import hpack" 2>/dev/null; then
    python3 -m venv /tmp/triple-vectors-venv
    /tmp/triple-vectors-venv/bin/pip install -q hpack==4.0.0
    py=/tmp/triple-vectors-venv/bin/python
fi
dir=$(bash "$repo/tests/interop/java/build.sh" | tail -1)
cp=$(cat "$dir/classpath")
rm -rf "$raw"
mkdir -p "$raw"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::",0)); print(s.getsockname()[1])'; }

# start_provider NAME ARGS...: starts TriProvider, waits for READY, sets $port
start_provider() {
    local name=$1
    shift
    port=$(free_port)
    java -cp "$cp" org.dubboc.interop.TriProvider --port "$port" "$@" >"$raw/$name.out" 2>"$raw/$name.err" &
    pids+=($!)
    for _ in $(seq 1 60); do
        grep -q READY "$raw/$name.out" && return 0
        sleep 0.5
    done
    echo "capture.sh: $name did not start" >&2
    exit 1
}

# capture VECTOR_NAME TARGET_PORT CASE [CONSUMER ARGS...]
capture() {
    local name=$1 target=$2 case=$3
    shift 3
    local listen
    listen=$(free_port)
    mkdir -p "$raw/$name"
    python3 "$here/capture.py" proxy "$listen" "$target" "$raw/$name" >/dev/null &
    local px=$!
    sleep 0.5
    java -cp "$cp" org.dubboc.interop.TriConsumer --url "tri://[::1]:$listen" --cases "$case" "$@" 2>"$raw/$name.consumer.err"
    sleep 0.5
    kill "$px"
    wait "$px" 2>/dev/null || true
    "$py" "$here/capture.py" decode "$raw/$name" 1 --vectors "$here" "$name" >"$raw/$name.frames.txt"
}

start_provider provider
plain=$port
for c in say_hello exception attachment attachment_forms idl_say_hello idl_stream idl_exception not_found; do
    capture "$c" "$plain" "$c"
done
# the same calls with a version and a group on both sides
start_provider provider-versioned --param version=1.0.0 --param group=g1
capture say_hello_versioned "$port" say_hello --param version=1.0.0 --param group=g1
capture idl_say_hello_versioned "$port" idl_say_hello --param version=1.0.0 --param group=g1
echo "capture.sh: vectors in $here, raw bytes and frame dumps in $raw"
