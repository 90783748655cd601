#!/usr/bin/env bash
# Two builds of the provider side by side against the canned-reply ceiling,
# at issue 15's shapes (CONNECTIONSxIN_FLIGHT_EACH), in the default
# configuration (a pool of 200 workers) and with --direct: the before/after
# table of BENCHMARKS.md. The canned server and the four providers (A and B,
# each in both modes) run at once; each round measures them back to back at
# each shape, so that ratios compare runs taken seconds apart. The client
# for every run is B's `dubbo bench --raw` (connections=C in the URL, C*D
# calls in flight).
#
#   bench/dubbo/compare.sh OLD/tools/dubbo NEW/tools/dubbo
#   ROUNDS=3 SECS=3 SHAPES="1x1 4x16 64x1" bench/dubbo/compare.sh A B
#
# A and B are Release builds (cmake -DCMAKE_BUILD_TYPE=Release, target
# dubbo_cli; for an older commit: git worktree add /tmp/old REV). The table
# rows are medians over the rounds of each run's QPS / the canned QPS of
# the same round, and of p50 / the canned p50. Loopback only; ports
# 21030-21034.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=${1:?usage: compare.sh DUBBO_A DUBBO_B}
B=${2:?usage: compare.sh DUBBO_A DUBBO_B}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
SHAPES=${SHAPES:-"1x1 4x16 64x1"}
H=127.0.0.1
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/canned" bench/dubbo/canned_server.c
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

start() { # NAME PORT CMD...
    local name=$1 port=$2
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        grep -q "^listening on" "$WORK/$name.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$name did not start on $port" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}
NAMES=(canned A-pool B-pool A-direct B-direct)
PORTS=(21030 21031 21032 21033 21034)
start canned 21030 "$WORK/canned" --port 21030 --host $H
start A-pool 21031 "$A" demo provider --port 21031 --host $H --registry none
start B-pool 21032 "$B" demo provider --port 21032 --host $H --registry none
start A-direct 21033 "$A" demo provider --port 21033 --host $H --registry none --direct
start B-direct 21034 "$B" demo provider --port 21034 --host $H --registry none --direct

# run PORT SHAPE: "qps p50"
run() {
    local port=$1 conns=${2%x*} depth=${2#*x} out
    out=$("$B" bench --raw "dubbo://$H:$port/$IFACE?connections=$conns" sayHello '"x"' \
          --concurrency $((conns * depth)) --duration "$SECS" 2>&1 || true)
    awk '/^qps/ {q = $2} /^latency_us/ {p = $3} END {printf "%d %d\n", q, p}' <<<"$out"
}

echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS round(s) of ${SECS} s"
echo "== A: $A"
echo "== B: $B"
echo
echo "| round | shape | canned QPS (p50 us) | A pool | B pool | A direct | B direct |"
echo "|---:|---|---:|---:|---:|---:|---:|"
RES=$WORK/rows
: >"$RES"
for r in $(seq "$ROUNDS"); do
    for s in $SHAPES; do
        line="| $r | $s |"
        for i in "${!PORTS[@]}"; do
            read -r q p < <(run "${PORTS[$i]}" "$s")
            echo "$s ${NAMES[$i]} $r $q $p" >>"$RES"
            line="$line $q ($p) |"
        done
        echo "$line"
    done
done
echo
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Medians over the rounds of QPS / canned QPS (p50 / canned p50):"
echo
echo "| shape | A pool | B pool | A direct | B direct |"
echo "|---|---:|---:|---:|---:|"
python3 - "$RES" $SHAPES <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for s in sys.argv[2:]:
    canned = {r[2]: (float(r[3]), float(r[4])) for r in rows if r[0] == s and r[1] == "canned"}
    cells = []
    for name in ("A-pool", "B-pool", "A-direct", "B-direct"):
        q = [float(r[3]) / canned[r[2]][0] for r in rows if r[0] == s and r[1] == name and canned[r[2]][0]]
        p = [float(r[4]) / canned[r[2]][1] for r in rows if r[0] == s and r[1] == name and canned[r[2]][1]]
        cells.append(f"{statistics.median(q):.2f} ({statistics.median(p):.2f})" if q and p else "-")
    print(f"| {s} | " + " | ".join(cells) + " |")
PY
