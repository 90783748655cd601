#!/usr/bin/env bash
# Our client against an independent one (issue 15: "`dubbo bench` itself
# reaches at least 0.8x of an independent minimal load generator against
# the canned server"): `dubbo bench --raw` and bench/dubbo/loadgen (Go,
# standard library, no code shared with ours) drive the same canned server
# with the same sayHello("x") request bytes, back to back at each shape, for
# ROUNDS rounds (the order alternates per round so neither always runs
# first). Shapes are CONNECTIONSxIN_FLIGHT_EACH: our client gets the URL's
# connections=C and C*D calls in flight (round robin over the connections),
# the loadgen -c C -d D. Also each client's CPU (user+sys, from
# /usr/bin/time) and the canned server's (/proc/PID/stat) per call.
#
#   bench/dubbo/client_vs_loadgen.sh
#   ROUNDS=1 SECS=1 SHAPES="4x16" bench/dubbo/client_vs_loadgen.sh
#   LOADGEN_FLAGS=-batch=false ...   # the loadgen writes one request per write()
#   SYNC=1 ...    # at shapes Cx1 the loadgen runs -sync: each connection's one
#                 # goroutine writes, then reads (no hand-off between goroutines)
#
# Builds tools/dubbo (Release) as run.sh does, canned_server and the
# loadgen into BENCH_OUT (default build/dbench). Needs cmake, gcc, go,
# python3. Loopback only; port PORT (default 21040). Everything shares the
# machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
SHAPES=${SHAPES:-"1x1 4x16 64x1"}
OUT=${BENCH_OUT:-build/dbench}
PORT=${PORT:-21040}
SYNC=${SYNC:-0}
read -r -a LGF <<<"${LOADGEN_FLAGS:-}"
H=127.0.0.1
IFACE=org.apache.dubbo.demo.DemoService
TCK=$(getconf CLK_TCK)

mkdir -p "$OUT"
echo "== building (Release, $OUT)" >&2
if ! { cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF \
           -DDUBBO_BUILD_BENCH=OFF &&
       cmake --build "$OUT" -j"$(nproc)" --target dubbo_cli; } >"$OUT/dubbo-bench-build.log" 2>&1; then
    cat "$OUT/dubbo-bench-build.log" >&2
    exit 1
fi
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$OUT/canned_server" bench/dubbo/canned_server.c
LOADGEN=$(realpath "$OUT")/loadgen
(cd bench/dubbo/loadgen && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$LOADGEN" .)
DUBBO=$OUT/tools/dubbo

WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; rm -rf "$WORK"' EXIT
"$OUT/canned_server" --port "$PORT" --host $H >"$WORK/canned.log" 2>&1 &
CANNED_PID=$!
PIDS+=("$CANNED_PID")
for _ in $(seq 100); do
    grep -q "^listening on" "$WORK/canned.log" 2>/dev/null && break
    kill -0 "$CANNED_PID" 2>/dev/null || break
    sleep 0.05
done
grep -q "^listening on" "$WORK/canned.log" || { cat "$WORK/canned.log" >&2; exit 1; }

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run ours|loadgen SHAPE: "qps p50 client_cpu_us_per_call server_cpu_us_per_call"
run() {
    local who=$1 conns=${2%x*} depth=${2#*x} t0 t1 out
    local cmd=("$LOADGEN" -addr "$H:$PORT" -c "$conns" -d "$depth" -t "$SECS" "${LGF[@]}")
    [ "$SYNC" = 1 ] && [ "$depth" = 1 ] && cmd+=(-sync)
    [ "$who" = ours ] && cmd=("$DUBBO" bench --raw "dubbo://$H:$PORT/$IFACE?connections=$conns" \
        sayHello '"x"' --concurrency $((conns * depth)) --duration "$SECS")
    t0=$(cpu "$CANNED_PID")
    out=$(/usr/bin/time -f "cpu %U %S" -o "$WORK/time" "${cmd[@]}" 2>&1 || true)
    t1=$(cpu "$CANNED_PID")
    python3 - "$out" "$(cat "$WORK/time")" "$t0" "$t1" "$TCK" "$who $2" <<'PY'
import re, sys
out, tm, t0, t1, tck, what = sys.argv[1:7]
m = re.search(r"^calls (\d+) errors (\d+)", out, re.M)
if not m:
    sys.exit(f"{what}: no report:\n{out}")
calls, errors = int(m.group(1)), int(m.group(2))
if errors:
    print(f"{what}: {errors} errors", file=sys.stderr)
qps = float(re.search(r"^qps (\S+)", out, re.M).group(1))
p50 = re.search(r"^latency_us p50 (\d+)", out, re.M).group(1)
u, s = map(float, re.search(r"cpu (\S+) (\S+)", tm).group(1, 2))
n = max(calls, 1)
print(round(qps), p50, round((u + s) * 1e6 / n, 2),
      round((float(t1) - float(t0)) / float(tck) * 1e6 / n, 2))
PY
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), load $LOAD0," \
     "$ROUNDS round(s) of ${SECS} s per run, against canned_server; loadgen flags: ${LOADGEN_FLAGS:-none}$([ "$SYNC" = 1 ] && echo ", -sync at Cx1")"
declare -A R
for r in $(seq "$ROUNDS"); do
    order="ours loadgen"
    [ $((r % 2)) -eq 0 ] && order="loadgen ours"
    echo
    echo "Round $r ($order first):"
    echo
    echo "| shape | ours QPS | loadgen QPS | ours / loadgen | p50 us ours / loadgen | client CPU us/call ours / loadgen | canned CPU us/call ours / loadgen |"
    echo "|---|---:|---:|---:|---|---|---|"
    for s in $SHAPES; do
        declare -A V=()
        for who in $order; do
            V[$who]=$(run "$who" "$s")
        done
        read -r qo po co so <<<"${V[ours]}"
        read -r ql pl cl sl <<<"${V[loadgen]}"
        python3 -c "
qo,ql=$qo,$ql
print(f'| $s | {qo:,} | {ql:,} | {qo/max(ql,1):.2f} | $po / $pl | $co / $cl | $so / $sl |')"
        R[$s]="${R[$s]:-} $qo,$ql,$co,$cl"
    done
done
echo
echo "Median over the rounds:"
echo
echo "| shape | median ours / loadgen | median QPS ours / loadgen | median client CPU us/call ours / loadgen |"
echo "|---|---:|---|---|"
for s in $SHAPES; do
    python3 - "$s" ${R[$s]} <<'PY'
import statistics, sys
s, rows = sys.argv[1], [tuple(map(float, x.split(","))) for x in sys.argv[2:]]
m = lambda f: statistics.median(f(r) for r in rows)
print(f"| {s} | {m(lambda r: r[0] / max(r[1], 1)):.2f} | {m(lambda r: r[0]):,.0f} / {m(lambda r: r[1]):,.0f} | "
      f"{m(lambda r: r[2]):.2f} / {m(lambda r: r[3]):.2f} |")
PY
done
echo
echo "Load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)."
