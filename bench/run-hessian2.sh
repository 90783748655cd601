#!/usr/bin/env bash
# Hessian 2 codec benchmark, side by side on this machine: dubbo-c vs Caucho
# Hessian 4.0.38 (Java, JIT-warmed) vs hessian.js 2.11.0 (Node), same
# payloads (dubbo-benchmark's User and a Page of 15 Users), single thread each,
# one implementation at a time. Prints a table of ops/s and ratios.
#
#   bench/run-hessian2.sh                  # ~90 s: 5 runs of 1 s per measurement
#   BENCH_SECONDS=0.5 BENCH_RUNS=3 bench/run-hessian2.sh   # quicker, noisier
#
# Needs scripts/setup.sh to have run (JDK 17, libhessian-java, node + the npm
# peers in tests/interop/peers). Builds into build/bench (Release).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-1}
RUNS=${BENCH_RUNS:-5}
OUT=build/bench
HESSIAN_JAR=${HESSIAN_JAR:-/usr/share/java/hessian.jar}
JAVA_OPENS=(--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
            --add-opens java.base/java.math=ALL-UNNAMED)

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building (Release, $OUT)" >&2
cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build "$OUT" -j"$(nproc)" --target hessian2_bench >/dev/null
mkdir -p "$OUT/java"
javac -nowarn -d "$OUT/java" -cp "$HESSIAN_JAR" bench/hessian2/HessianBench.java

RES="$OUT/hessian2-results.txt"
: > "$RES"
echo "== Java (Caucho Hessian): ${RUNS} x ${SECS}s per measurement after JIT warm-up" >&2
java "${JAVA_OPENS[@]}" -cp "$OUT/java:$HESSIAN_JAR" com.example.bench.HessianBench \
    --seconds "$SECS" --runs "$RUNS" --dump "$OUT" | tee -a "$RES" >&2
echo "== C (dubbo-c)" >&2
"$OUT/bench/hessian2_bench" --seconds "$SECS" --runs "$RUNS" --dump "$OUT" --verify "$OUT" \
    | sed 's/^size /size-c /' | tee -a "$RES" >&2
echo "== Node (hessian.js)" >&2
node bench/hessian2/bench.js --seconds "$SECS" --runs "$RUNS" --dump "$OUT" \
    | sed 's/^size /size-js /' | tee -a "$RES" >&2

same() { cmp -s "$OUT/java-$1.bin" "$OUT/$2-$1.bin" && echo same || echo DIFFERENT; }

table() { # $1: result (ops per wall-clock second) or rcpu (per CPU-second)
  awk -v key="$1" '
    $1 == key { r[$2 " " $3 " " $4] = $5 }
    function ratio(a, b) { return (a && b) ? sprintf("%.1fx", a / b) : "-" }
    END {
      fmt = "%-6s %-7s %12s %12s %12s %8s %8s\n"
      printf fmt, "value", "op", "dubbo-c", "Java", "hessian.js", "C/Java", "C/js"
      n = split("user page", ps, " ")
      for (i = 1; i <= n; i++) {
        for (k = 1; k <= 2; k++) {
          p = ps[i]; op = (k == 1) ? "encode" : "decode"
          c = r["c " p " " op]; j = r["java " p " " op]; s = r["js " p " " op]
          printf fmt, p, op, c, j, s, ratio(c, j), ratio(c, s)
        }
      }
      printf "(hessian.js decode with withType=true: user %s, page %s)\n", \
        r["js user decode-typed"], r["js page decode-typed"]
    }' "$RES"
}

echo
echo "Hessian 2, ops/s (median of $RUNS runs of ${SECS}s, single thread, wall clock)"
table result
echo
echo "The same runs in ops per CPU-second of the benchmark thread (less sensitive to a busy machine)"
table rcpu
echo
awk '$1 ~ /^size/ { sz[$1 " " $2] = $3 }
     END { printf "bytes: user C=%s Java=%s js=%s; page C=%s Java=%s js=%s\n",
             sz["size-c user"], sz["size user"], sz["size-js user"],
             sz["size-c page"], sz["size page"], sz["size-js page"] }' "$RES"
echo "bytes identical to Java's: C user $(same user c), page $(same page c);" \
     "js user $(same user js), page $(same page js)"
echo "targets: C/Java >= 2.0x, C/js >= 10.0x. Raw runs: $RES"
awk '$1 == "cpu" { s = s sprintf(" %s %s", $2, $3); if ($3 < 0.95) bad = 1 }
     END { print "lowest CPU share of a timed run (1.00 = never preempted):" s
           if (bad) print "WARNING: other processes took the CPU during the runs; numbers are noisy, run again on a quiet machine" }' "$RES"
echo "load average before the run: $LOAD0"
