#!/usr/bin/env bash
# Consumer CPU time per call, two builds side by side: the client's own
# user+sys time (getrusage of the finished `dubbo bench --raw`, which keeps
# CONC calls in flight from one thread with the bare async client) divided
# by the calls it made. One provider (build A's, --direct) serves both, so
# only the client differs. Each round runs A then B; the table has every
# round and the median.
#
#   bench/dubbo/client_cpu_per_call.sh OLD/tools/dubbo NEW/tools/dubbo
#   ROUNDS=5 CONC=16 SECS=4 bench/dubbo/client_cpu_per_call.sh A B
#
# Loopback only; port 21003.
set -euo pipefail
A=${1:?usage: client_cpu_per_call.sh DUBBO_A DUBBO_B}
B=${2:?usage: client_cpu_per_call.sh DUBBO_A DUBBO_B}
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-16}
SECS=${SECS:-4}
H=127.0.0.1
PORT=21003
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
"$A" demo provider --port $PORT --host $H --direct >"$WORK/p.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
    grep -q "^listening on" "$WORK/p.log" 2>/dev/null && break
    sleep 0.05
done

# one DUBBO: prints "calls cpu_us_per_call"
one() {
    python3 - "$1" "dubbo://$H:$PORT/$IFACE" "$CONC" "$SECS" <<'PY'
import re, resource, subprocess, sys
dubbo, url, conc, secs = sys.argv[1:]
out = subprocess.run([dubbo, "bench", "--raw", url, "sayHello", '"x"', "--concurrency", conc,
                      "--duration", secs], capture_output=True, text=True).stdout
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
calls = int(re.search(r"^calls (\d+)", out, re.M).group(1))
print(calls, round((ru.ru_utime + ru.ru_stime) * 1e6 / max(calls, 1), 3))
PY
}

echo "| build | round | calls | client CPU us/call |"
echo "|---|---:|---:|---:|"
declare -A ALL
for r in $(seq "$ROUNDS"); do
    for side in A B; do
        bin=$A
        [ $side = B ] && bin=$B
        read -r calls us < <(one "$bin")
        echo "| $side | $r | $calls | $us |"
        ALL[$side]="${ALL[$side]:-} $us"
    done
done
python3 - "${ALL[A]}" "${ALL[B]}" <<'PY'
import statistics, sys
a = statistics.median(map(float, sys.argv[1].split()))
b = statistics.median(map(float, sys.argv[2].split()))
print(f"\nmedian client CPU us/call: A {a:.3f}, B {b:.3f} (B/A {b / a:.2f}x)")
PY
