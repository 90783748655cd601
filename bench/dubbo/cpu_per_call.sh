#!/usr/bin/env bash
# Provider CPU time per call, two builds side by side: for wall-clock-noisy
# machines (shared cores, no hardware counters in the VM), the provider's
# own user+sys time (/proc/PID/stat) divided by the calls it served is far
# steadier than QPS. Each round runs A then B, for every mode, with the same
# client (`dubbo bench --raw`, sayHello("x")); the table has every round and
# the median.
#
#   bench/dubbo/cpu_per_call.sh OLD/tools/dubbo NEW/tools/dubbo
#   ROUNDS=5 MODES="direct 200" CONC=16 SECS=4 bench/dubbo/cpu_per_call.sh A B
#
# To compare against an older commit: `git worktree add /tmp/old REV`, then
# `cmake -S /tmp/old -B /tmp/old/build -DCMAKE_BUILD_TYPE=Release
# -DDUBBO_BUILD_TESTS=OFF && cmake --build /tmp/old/build --target dubbo_cli`.
# Loopback only; ports 21001-21002.
set -euo pipefail
A=${1:?usage: cpu_per_call.sh DUBBO_A DUBBO_B}
B=${2:?usage: cpu_per_call.sh DUBBO_A DUBBO_B}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"direct 200"}
CONC=${CONC:-16}
SECS=${SECS:-4}
H=127.0.0.1
IFACE=org.apache.dubbo.demo.DemoService
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# one DUBBO PORT MODE: prints "calls cpu_us_per_call"
one() {
    local dubbo=$1 port=$2 mode=$3 extra pid t0 t1 out calls
    if [ "$mode" = direct ]; then extra=(--direct); else extra=(--threads "$mode"); fi
    "$dubbo" demo provider --port "$port" --host $H "${extra[@]}" >"$WORK/p.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        grep -q "^listening on" "$WORK/p.log" 2>/dev/null && break
        sleep 0.05
    done
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$("$dubbo" bench --raw "dubbo://$H:$port/$IFACE" sayHello '"x"' --concurrency "$CONC" \
          --duration "$SECS" 2>&1 || true)
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    calls=$(awk '/^calls/ {print $2}' <<<"$out")
    python3 -c "print($calls, round(($t1 - $t0) / $TCK * 1e6 / max($calls, 1), 3))"
}

echo "| mode | build | round | calls | provider CPU us/call |"
echo "|---|---|---:|---:|---:|"
declare -A ALL
for r in $(seq "$ROUNDS"); do
    for m in $MODES; do
        for side in A B; do
            bin=$A port=21001
            [ $side = B ] && bin=$B port=21002
            read -r calls us < <(one "$bin" "$port" "$m")
            echo "| $m | $side | $r | $calls | $us |"
            ALL[$m.$side]="${ALL[$m.$side]:-} $us"
        done
    done
done
echo
echo "| mode | A median | B median | B/A |"
echo "|---|---:|---:|---:|"
for m in $MODES; do
    python3 - "$m" "${ALL[$m.A]}" "${ALL[$m.B]}" <<'EOF'
import statistics, sys
m, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"| {m} | {ma:.3f} | {mb:.3f} | {mb / ma:.2f} |")
EOF
done
