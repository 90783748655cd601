#!/usr/bin/env bash
# Provider QPS and CPU per call with 1 and with N event loops (issue 15's
# scaling item), against the canned-reply ceiling, in one run: the canned
# server and two providers of the same build (--io-threads 1 and
# --io-threads N) run side by side, and each round measures the three back
# to back at each shape, so that the ratios hold while the machine's load
# drifts. Shapes are CONNECTIONSxIN_FLIGHT_EACH: `dubbo bench --raw` with
# the URL's connections=C and C*D calls in flight (its calls go round robin
# over the connections). Provider CPU per call is the provider's user+sys
# (/proc/PID/stat) over the run divided by its calls.
#
#   bench/dubbo/loops.sh build/release/tools/dubbo
#   ROUNDS=3 SECS=3 SHAPES="1x1 4x16 64x1" LOOPS=2 MODE=direct bench/dubbo/loops.sh DUBBO
#   MODE=200 ...    # the provider's worker pool (default configuration) instead of --direct
#   CLIENT_LOOPS=1 ...  # the client's own loops (default: one per core)
#
# Client and servers share the machine; loopback only; ports 21010-21012.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUBBO=${1:?usage: loops.sh DUBBO}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
SHAPES=${SHAPES:-"1x1 4x16 64x1"}
LOOPS=${LOOPS:-2}
MODE=${MODE:-direct}
CLIENT_LOOPS=${CLIENT_LOOPS:-}
H=127.0.0.1
IFACE=org.apache.dubbo.demo.DemoService
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/canned" bench/dubbo/canned_server.c
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
if [ "$MODE" = direct ]; then EXTRA=(--direct); else EXTRA=(--threads "$MODE"); fi

start() { # NAME PORT CMD...
    local name=$1
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        grep -q "^listening on" "$WORK/$name.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$name did not start" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}
start canned 21010 "$WORK/canned" --port 21010 --host $H
CANNED_PID=${PIDS[-1]}
start one 21011 "$DUBBO" demo provider --port 21011 --host $H --registry none --io-threads 1 "${EXTRA[@]}"
ONE_PID=${PIDS[-1]}
start n 21012 "$DUBBO" demo provider --port 21012 --host $H --registry none --io-threads "$LOOPS" "${EXTRA[@]}"
N_PID=${PIDS[-1]}
CL=()
[ -n "$CLIENT_LOOPS" ] && CL=(--io-threads "$CLIENT_LOOPS")

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run PORT PID SHAPE: "qps p50 cpu_us_per_call"
run() {
    local port=$1 pid=$2 conns=${3%x*} depth=${3#*x} t0 t1 out
    t0=$(cpu "$pid")
    out=$("$DUBBO" bench --raw "dubbo://$H:$port/$IFACE?connections=$conns" sayHello '"x"' \
          --concurrency $((conns * depth)) --duration "$SECS" "${CL[@]}" 2>&1 || true)
    t1=$(cpu "$pid")
    python3 - "$out" "$t0" "$t1" "$TCK" <<'PY'
import re, sys
out, t0, t1, tck = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
calls = int(re.search(r"^calls (\d+)", out, re.M).group(1))
qps = float(re.search(r"^qps (\S+)", out, re.M).group(1))
p50 = re.search(r"^latency_us p50 (\d+)", out, re.M).group(1)
print(round(qps), p50, round((t1 - t0) / tck * 1e6 / max(calls, 1), 3))
PY
}

echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS round(s) of ${SECS} s, provider mode $MODE, $LOOPS loops vs 1"
echo
echo "| round | shape | canned QPS | 1 loop QPS | $LOOPS loops QPS | 1 loop / canned | $LOOPS loops / canned | $LOOPS loops / 1 loop | p50 canned / 1 / $LOOPS (us) | provider CPU us/call 1 / $LOOPS |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"
declare -A R
for r in $(seq "$ROUNDS"); do
    for s in $SHAPES; do
        read -r qc pc _ < <(run 21010 "$CANNED_PID" "$s")
        read -r q1 p1 c1 < <(run 21011 "$ONE_PID" "$s")
        read -r qn pn cn < <(run 21012 "$N_PID" "$s")
        python3 -c "
qc,q1,qn=$qc,$q1,$qn
print(f'| $r | $s | {qc:,} | {q1:,} | {qn:,} | {q1/qc:.2f} | {qn/qc:.2f} | {qn/q1:.2f} | $pc / $p1 / $pn | $c1 / $cn |')"
        R[$s]="${R[$s]:-} $q1,$qn,$qc,$c1,$cn"
    done
done
echo
echo "| shape | median 1 loop / canned | median $LOOPS loops / canned | median $LOOPS / 1 loop | median CPU us/call 1 / $LOOPS |"
echo "|---|---:|---:|---:|---|"
for s in $SHAPES; do
    python3 - "$s" ${R[$s]} <<'PY'
import statistics, sys
s, rows = sys.argv[1], [tuple(map(float, x.split(","))) for x in sys.argv[2:]]
m = lambda f: statistics.median(f(r) for r in rows)
print(f"| {s} | {m(lambda r: r[0] / r[2]):.2f} | {m(lambda r: r[1] / r[2]):.2f} | "
      f"{m(lambda r: r[1] / r[0]):.2f} | {m(lambda r: r[3]):.2f} / {m(lambda r: r[4]):.2f} |")
PY
done
