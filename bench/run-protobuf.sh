#!/usr/bin/env bash
# protobuf codec benchmark, side by side on this machine: dubbo-c (protoc-c's
# generated code, our schema-driven dubbo_tri_pb_from_value/_to_value, and
# the whole Dubbo-protocol body with serialization=protobuf) vs protobuf-java
# (JIT-warmed) vs Go's google.golang.org/protobuf, same messages
# (bench/protobuf/user.proto: dubbo-benchmark's User and a Page of 15 Users,
# the contents of the hessian2 benchmark), single thread each, one
# implementation at a time. Prints a table of ops/s and ratios, checks that
# the three write the same bytes, and counts the C side's instructions per
# operation with callgrind.
#
#   bench/run-protobuf.sh                                   # ~3 min
#   BENCH_SECONDS=0.5 BENCH_RUNS=3 bench/run-protobuf.sh    # quicker, noisier
#   BENCH_CALLGRIND=0 bench/run-protobuf.sh                 # without callgrind
#
# Needs protoc and protoc-c, a JDK, Go, and the Java interop peer built once
# (tests/interop/java/build.sh: protobuf-java comes from its classpath) or
# protobuf-java in its Maven cache. Builds into build/bench-pb (Release).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-1}
RUNS=${BENCH_RUNS:-5}
CALLGRIND=${BENCH_CALLGRIND:-1}
OUT=build/bench-pb
CACHE=${DUBBO_C_CACHE:-/var/cache/dubbo-c}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building (Release, $OUT)" >&2
cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build "$OUT" -j"$(nproc)" --target protobuf_bench >/dev/null

# protobuf-java: the jar of the version tests/interop/java/pom.xml pins, from
# the built peer's classpath, else from the Maven cache, else build the peer
PBVER=$(sed -n 's|.*<protobuf.version>\(.*\)</protobuf.version>.*|\1|p' tests/interop/java/pom.xml)
JAR=
if PEER=$(bash tests/interop/java/build.sh --print 2>/dev/null); then
    JAR=$(tr ':' '\n' <"$PEER/classpath" | grep "/protobuf-java-$PBVER.jar\$" | head -1 || true)
fi
M2JAR="$CACHE/m2/com/google/protobuf/protobuf-java/$PBVER/protobuf-java-$PBVER.jar"
if [ -z "$JAR" ] && [ -f "$M2JAR" ]; then JAR=$M2JAR; fi
if [ -z "$JAR" ]; then
    PEER=$(bash tests/interop/java/build.sh | tail -1)
    JAR=$(tr ':' '\n' <"$PEER/classpath" | grep "/protobuf-java-$PBVER.jar\$" | head -1)
fi
rm -rf "$OUT/java" "$OUT/java-gen"
mkdir -p "$OUT/java" "$OUT/java-gen" "$OUT/dump"
protoc -I bench/protobuf --java_out="$OUT/java-gen" bench/protobuf/user.proto
javac -nowarn -d "$OUT/java" -cp "$JAR" "$OUT/java-gen/org/dubboc/bench/pb/UserProto.java" \
    bench/protobuf/java/PbBench.java

# Go: the pinned module of tests/interop/go, its caches shared with the peers
GO=$(command -v go || echo /usr/local/go/bin/go)
OUTABS=$(cd "$OUT" && pwd)
(cd tests/interop/go && GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache" GOTOOLCHAIN=local \
    GOFLAGS=-mod=readonly CGO_ENABLED=0 "$GO" build -trimpath -o "$OUTABS/pbbench" ./pbbench)

RES="$OUT/protobuf-results.txt"
: >"$RES"
echo "== Java (protobuf-java $PBVER): ${RUNS} x ${SECS}s per measurement after JIT warm-up" >&2
java -cp "$OUT/java:$JAR" org.dubboc.bench.pb.PbBench --seconds "$SECS" --runs "$RUNS" \
    --dump "$OUT/dump" | tee -a "$RES" >&2
echo "== Go (google.golang.org/protobuf)" >&2
"$OUT/pbbench" -seconds "$SECS" -runs "$RUNS" -dump "$OUT/dump" | tee -a "$RES" >&2
echo "== C (dubbo-c)" >&2
"$OUT/bench/protobuf_bench" --seconds "$SECS" --runs "$RUNS" --dump "$OUT/dump" \
    --verify "$OUT/dump" | tee -a "$RES" >&2

if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    echo "== callgrind: instructions per operation of the C side" >&2
    ir() { # total instructions of N ops of kind $1
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$OUT/bench/protobuf_bench" --profile "$1" "$2" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    for impl in pbc schema body; do
        for p in user page; do
            n=2000
            [ $p = page ] && n=200
            for op in encode decode; do
                # the difference of 2N and N ops leaves out start-up and set-up
                a=$(ir "$impl-$p-$op" "$n")
                b=$(ir "$impl-$p-$op" $((2 * n)))
                echo "ir $impl $p $op $(((b - a) / n))" | tee -a "$RES" >&2
            done
        done
    done
elif [ "$CALLGRIND" = 1 ]; then
    echo "(valgrind not installed: no instruction counts)" >&2
fi

table() { # $1: result (ops per wall-clock second) or rcpu (per CPU-second)
    awk -v key="$1" '
    $1 == key { r[$2 " " $3 " " $4] = $5 }
    function ratio(a, b) { return (a && b) ? sprintf("%.2fx", a / b) : "-" }
    END {
      fmt = "%-5s %-7s %10s %10s %10s %10s %10s %9s %9s %9s %9s\n"
      printf fmt, "value", "op", "protoc-c", "schema", "body", "Java", "Go", \
        "pbc/Java", "pbc/Go", "sch/Java", "sch/Go"
      n = split("user page", ps, " ")
      for (i = 1; i <= n; i++) {
        for (k = 1; k <= 2; k++) {
          p = ps[i]; op = (k == 1) ? "encode" : "decode"
          c = r["pbc " p " " op]; s = r["schema " p " " op]; b = r["body " p " " op]
          j = r["java " p " " op]; g = r["go " p " " op]
          printf fmt, p, op, c, s, b, j, g, ratio(c, j), ratio(c, g), ratio(s, j), ratio(s, g)
        }
      }
      printf "(encoding into a new array per message: Java toByteArray user %s, page %s; Go proto.Marshal user %s, page %s)\n", \
        r["java user encode-alloc"], r["java page encode-alloc"], r["go user encode-alloc"], r["go page encode-alloc"]
    }' "$RES"
}

echo
echo "protobuf, ops/s (median of $RUNS runs of ${SECS}s, single thread, wall clock)"
table result
echo
echo "The same runs in ops per CPU-second of the benchmark thread (less sensitive to a busy machine)"
table rcpu
echo
awk '$1 == "size" { sz[$2 " " $3] = $4 }
     END { printf "bytes: user protoc-c=%s schema=%s Java=%s Go=%s; page protoc-c=%s schema=%s Java=%s Go=%s\n",
             sz["pbc user"], sz["schema user"], sz["java user"], sz["go user"],
             sz["pbc page"], sz["schema page"], sz["java page"], sz["go page"]
           printf "Dubbo-protocol body (serialization=protobuf): createUser(User) request %s bytes, listUser response (Page) %s bytes\n",
             sz["body user"], sz["body page"] }' "$RES"
same() { cmp -s "$OUT/dump/c-$1.pb" "$OUT/dump/$2-$1.pb" && echo same || echo DIFFERENT; }
echo "bytes identical to protoc-c's: Java user $(same user java), page $(same page java);" \
    "Go user $(same user go), page $(same page go);" \
    "schema path $(awk '$1 == "check" && $4 == "schema-bytes" { printf "%s %s ", $3, $5 }' "$RES")"
if grep -q '^ir ' "$RES"; then
    awk '$1 == "ir" { ir[$2 " " $3 " " $4] = $5 }
         END { printf "instructions per operation (callgrind):\n"
               split("pbc schema body", is, " ")
               for (i = 1; i <= 3; i++)
                 printf "  %-6s user encode %7s decode %7s; page encode %8s decode %8s\n", is[i],
                   ir[is[i] " user encode"], ir[is[i] " user decode"],
                   ir[is[i] " page encode"], ir[is[i] " page decode"] }' "$RES"
fi
echo "Raw runs: $RES"
awk '$1 == "cpu" { s = s sprintf(" %s %s", $2, $3); if ($3 < 0.95) bad = 1
                   if ($4 != "") p = p sprintf(" %s %s", $2, $4) }
     END { print "lowest CPU share of a timed run (1.00 = never preempted):" s
           if (p != "") print "highest process CPU / wall of a timed run (above 1: GC or JIT threads beside it):" p
           if (bad) print "WARNING: other processes took the CPU during the runs; numbers are noisy, run again on a quiet machine" }' "$RES"
echo "load average before the run: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
