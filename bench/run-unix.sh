#!/usr/bin/env bash
# Unix-domain socket against loopback TCP, side by side (issue 17): the
# same demo provider binary listening on 127.0.0.1 and on a unix socket,
# the same client (`dubbo bench --raw`, sayHello("x")), interleaved rounds;
# QPS, p50/p99 and the provider's CPU per call (user+sys of all its
# threads, /proc/PID/stat), for --direct and the default pool, at 1 and 16
# calls in flight. Prints a table and the ratios unix/tcp.
#
#   bench/run-unix.sh                       # ~2 min; builds build/release (incremental)
#   ROUNDS=5 SECS=5 bench/run-unix.sh
#   BENCH_DUBBO=build/other/tools/dubbo bench/run-unix.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
DUBBO=${BENCH_DUBBO:-build/release/tools/dubbo}
if [ -z "${BENCH_DUBBO:-}" ]; then # the tree as it is (incremental)
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
    cmake --build build/release -j"$(nproc)" --target dubbo_cli >/dev/null
fi
IFACE=org.apache.dubbo.demo.DemoService
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
port=23300

# one TRANSPORT MODE CONC: prints "qps p50 p99 cpu_us_per_call"
one() {
    local tr=$1 mode=$2 conc=$3 extra host url pid out t0 t1 calls
    port=$((port + 1))
    if [ "$mode" = direct ]; then extra=(--direct); else extra=(--threads "$mode"); fi
    if [ "$tr" = unix ]; then
        host="unix://$WORK/p$port.sock"
        url="dubbo://localhost/$IFACE?unix=$WORK/p$port.sock"
    else
        host=127.0.0.1
        url="dubbo://127.0.0.1:$port/$IFACE"
    fi
    "$DUBBO" demo provider --host "$host" --port "$port" --registry none "${extra[@]}" \
        >"$WORK/p.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do grep -q "^listening" "$WORK/p.log" && break; sleep 0.05; done
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$("$DUBBO" bench --raw "$url" sayHello '"x"' --concurrency "$conc" --duration "$SECS")
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    calls=$(awk '/^calls/ {print $2}' <<<"$out")
    awk -v calls="$calls" -v cpu="$(( t1 - t0 ))" -v tck="$TCK" '
        /^qps/ {q = $2} /^latency_us/ {p50 = $3; p99 = $7}
        END {printf "%s %s %s %.3f\n", q, p50, p99, cpu / tck * 1e6 / (calls ? calls : 1)}' <<<"$out"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of ${SECS}s; $("$DUBBO" --version 2>/dev/null | head -1)"
declare -A R
for r in $(seq "$ROUNDS"); do
    for mode in direct 200; do
        for conc in 1 16; do
            for tr in tcp unix; do
                R[$mode.$conc.$tr.$r]=$(one "$tr" "$mode" "$conc")
            done
        done
    done
done
echo
echo "| mode | in flight | transport | QPS (median) | p50 us | p99 us | CPU us/call | QPS unix/tcp | CPU unix/tcp |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
for mode in direct 200; do
    for conc in 1 16; do
        for tr in tcp unix; do
            vals=()
            for r in $(seq "$ROUNDS"); do vals+=("${R[$mode.$conc.$tr.$r]}"); done
            med=$(printf '%s\n' "${vals[@]}" | sort -n -k1 | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2)')
            R[$mode.$conc.$tr]=$med
        done
        read -r tq tp50 tp99 tc <<<"${R[$mode.$conc.tcp]}"
        read -r uq up50 up99 uc <<<"${R[$mode.$conc.unix]}"
        printf '| %s | %s | tcp | %s | %s | %s | %s | | |\n' "$mode" "$conc" "$tq" "$tp50" "$tp99" "$tc"
        printf '| %s | %s | unix | %s | %s | %s | %s | %.2f | %.2f |\n' "$mode" "$conc" "$uq" \
            "$up50" "$up99" "$uc" "$(echo "$uq / $tq" | bc -l)" "$(echo "$uc / $tc" | bc -l)"
    done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
