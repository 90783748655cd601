#!/usr/bin/env bash
# Consumer instructions per call (callgrind, user space, all threads of the
# `dubbo bench --raw` process), two builds side by side: each build's client
# runs twice under callgrind, for S1 and S2 seconds, against one provider
# (build A's, --direct, outside valgrind); instructions per call are
# (Ir2 - Ir1) / (calls2 - calls1), so start-up and the warm-up call cancel.
# Stable on a noisy machine, unlike CPU time.
#
#   bench/dubbo/client_ir_per_call.sh OLD/tools/dubbo NEW/tools/dubbo
#   CONC=16 S1=2 S2=6 URLQ='?connections=2' bench/dubbo/client_ir_per_call.sh A B
#   B_ARGS="--io-threads 2" ...   # more flags for one side's `dubbo bench` (A_ARGS too)
#
# Loopback only; port 21004.
set -euo pipefail
A=${1:?usage: client_ir_per_call.sh DUBBO_A DUBBO_B}
B=${2:?usage: client_ir_per_call.sh DUBBO_A DUBBO_B}
CONC=${CONC:-16}
S1=${S1:-2}
S2=${S2:-6}
URLQ=${URLQ:-}
H=127.0.0.1
PORT=${PORT:-21004}
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
"$A" demo provider --port $PORT --host $H --direct --registry none >"$WORK/p.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
    grep -q "^listening on" "$WORK/p.log" 2>/dev/null && break
    sleep 0.05
done

# one DUBBO SECS [FLAGS...]: prints "calls Ir"
one() {
    local out="$WORK/cg.$RANDOM"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$1" bench --raw \
        "dubbo://$H:$PORT/$IFACE$URLQ" sayHello '"x"' --concurrency "$CONC" --duration "$2" \
        "${@:3}" >"$WORK/b.out" 2>"$WORK/b.err"
    local calls ir
    calls=$(sed -n 's/^calls \([0-9]*\).*/\1/p' "$WORK/b.out")
    ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out")
    echo "$calls $ir"
}

for side in A B; do
    bin=$A flags=(${A_ARGS:-})
    [ $side = B ] && bin=$B flags=(${B_ARGS:-})
    read -r c1 i1 < <(one "$bin" "$S1" "${flags[@]}")
    read -r c2 i2 < <(one "$bin" "$S2" "${flags[@]}")
    python3 -c "import sys; c1,i1,c2,i2=map(int,sys.argv[1:]); print(f'$side: {c1} calls in ${S1} s, {c2} in ${S2} s: {(i2-i1)/max(c2-c1,1):,.0f} instructions per call')" "$c1" "$i1" "$c2" "$i2"
done
