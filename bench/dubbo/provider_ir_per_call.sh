#!/usr/bin/env bash
# Provider instructions per call (callgrind: user space, all threads),
# builds or configurations side by side. Each provider runs twice under
# callgrind, loaded by a native `dubbo bench --raw` for S1 and then S2
# seconds; instructions per call are (Ir2 - Ir1) / (calls2 - calls1), so
# start-up, the warm-up call and shutdown cancel. Stable on a noisy machine,
# where QPS and CPU time are not; it counts no kernel time (syscalls, futex
# waits and context switches are invisible to it).
#
#   bench/dubbo/provider_ir_per_call.sh "A=OLD/tools/dubbo" "B=NEW/tools/dubbo --io-threads 2"
#   SHAPE=4x16 S1=2 S2=6 MODE=direct bench/dubbo/provider_ir_per_call.sh LABEL=CMD...
#
# Each argument is LABEL=DUBBO [provider flags]. MODE: direct (default) or a
# worker count. SHAPE: CONNECTIONSxIN_FLIGHT_EACH (default 4x16).
# Loopback only; port 21020.
set -euo pipefail
S1=${S1:-2}
S2=${S2:-6}
SHAPE=${SHAPE:-4x16}
MODE=${MODE:-direct}
CONNS=${SHAPE%x*}
DEPTH=${SHAPE#*x}
H=127.0.0.1
PORT=21020
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ "$MODE" = direct ]; then EXTRA=(--direct); else EXTRA=(--threads "$MODE"); fi

# one "DUBBO FLAGS..." SECS: prints "calls Ir"
one() {
    local cmd=($1) out="$WORK/cg.out" pid calls
    rm -f "$out" "$WORK/p.log"
    valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[0]}" demo provider \
        --port $PORT --host $H --registry none "${EXTRA[@]}" "${cmd[@]:1}" >"$WORK/p.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        grep -q "^listening on" "$WORK/p.log" 2>/dev/null && break
        sleep 0.1
    done
    calls=$("${cmd[0]}" bench --raw "dubbo://$H:$PORT/$IFACE?connections=$CONNS" sayHello '"x"' \
        --concurrency $((CONNS * DEPTH)) --duration "$2" --timeout 10000 2>/dev/null |
        sed -n 's/^calls \([0-9]*\).*/\1/p')
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    echo "$calls $(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out")"
}

echo "provider mode $MODE, shape $SHAPE, runs of $S1 and $S2 s"
for spec in "$@"; do
    label=${spec%%=*}
    cmd=${spec#*=}
    read -r c1 i1 < <(one "$cmd" "$S1")
    read -r c2 i2 < <(one "$cmd" "$S2")
    python3 -c "import sys; c1,i1,c2,i2=map(int,sys.argv[1:]); print(f'$label: {c1} calls in ${S1} s, {c2} in ${S2} s: {(i2-i1)/max(c2-c1,1):,.0f} instructions per call')" "$c1" "$i1" "$c2" "$i2"
done
