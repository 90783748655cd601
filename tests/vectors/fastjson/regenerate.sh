#!/usr/bin/env bash
# Regenerates the Java fastjson vectors of this directory: Java Dubbo 3.3.6's
# JavaProvider and JavaConsumer (tests/interop/java, serialization=fastjson:
# org.apache.dubbo.extensions:dubbo-serialization-fastjson 3.2.0, fastjson
# 1.2.83) talk through record.py on loopback (::1), which writes every frame;
# the frames of the cases below are kept as java-<case>-{request,response}.hex
# (header line, body line). Needs java and mvn (build.sh builds the peer once).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peer=$("$here/../../interop/java/build.sh" | tail -1)
cp=$(cat "$peer/classpath")
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

java -cp "$cp" org.dubboc.interop.JavaProvider --param serialization=fastjson >"$work/provider.out" 2>"$work/provider.err" &
pids+=($!)
for _ in $(seq 90); do grep -q '^READY' "$work/provider.out" && break; sleep 1; done
pport=$(awk '/^READY/ {print $2}' "$work/provider.out")
python3 "$here/record.py" 0 "$pport" "$work/frames" >"$work/record.out" &
pids+=($!)
for _ in $(seq 20); do grep -q '^READY' "$work/record.out" && break; sleep 0.2; done
rport=$(awk '/^READY/ {print $2}' "$work/record.out")

# one case per consumer run, so that each run's frames are that case's
for c in say_hello echo_map exception; do
    rm -rf "$work/frames"
    java -cp "$cp" org.dubboc.interop.JavaConsumer --url "dubbo://[::1]:$rport" \
        --param serialization=fastjson --cases "$c" 2>"$work/consumer-$c.err" | tee "$work/consumer-$c.out"
    grep -q "^RESULT $c PASS" "$work/consumer-$c.out"
    name=$(echo "$c" | tr -d _)
    cp "$(ls "$work"/frames/*-c2p.hex | head -1)" "$here/java-$name-request.hex"
    cp "$(ls "$work"/frames/*-p2c.hex | head -1)" "$here/java-$name-response.hex"
done
echo "regenerate.sh: wrote $(ls "$here"/java-*.hex | wc -l) files"
