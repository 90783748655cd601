#!/usr/bin/env bash
# Triple (gRPC over HTTP/2) benchmark, side by side on this machine: our
# `dubbo demo provider --protocol tri` against grpc C++ 1.51 (Debian's
# libgrpc++, bench/triple/cpp/greeter_server.cc, sync and callback API) and
# grpc-go 1.85.0 (tests/interop/grpc/greeter_server), all started at once and
# measured one at a time with the same client, h2load (nghttp2's C load
# generator), at the same settings:
#   1. unary helloworld.Greeter/SayHello {name: "world"} at several
#      connections x streams: QPS, p50, p99 (from h2load's per-request log)
#      and the server's own CPU time per call (/proc/PID/stat);
#   2. a server stream, grpc.testing.TestService/StreamingOutputCall asking
#      for BENCH_STREAM_MSGS responses of BENCH_STREAM_SIZE bytes: messages/s;
#   3. callgrind: instructions per SayHello in our provider (valgrind; the
#      VM has no hardware counters for perf stat), and where they go.
# Each server is first checked with ghz (every answer grpc-status OK).
#
#   bench/run-triple.sh                              # ~6 min after the builds
#   BENCH_SECONDS=3 BENCH_LEVELS="1x1 4x16" BENCH_CALLGRIND=0 bench/run-triple.sh   # quick look
#   BENCH_SERVERS="ours-direct cpp-callback" bench/run-triple.sh
#
#   BENCH_SECONDS    measured seconds per point (10), after an unmeasured warm-up
#                    run (5,000 calls, 50 streams)
#   BENCH_LEVELS     unary load points, CONNECTIONSxSTREAMS ("1x1 1x16 16x1 4x16")
#   BENCH_STREAM_LEVELS  the same for the server stream ("1x1 1x16")
#   BENCH_ROUNDS     rounds of every point (1); the table shows, per server and
#                    point, the round with the median QPS
#   BENCH_SERVERS    subset of: ours-direct ours-pool cpp-sync cpp-callback go
#   BENCH_PIN        1 (default): servers on CPU BENCH_SERVER_CPU (0), h2load on
#                    CPU BENCH_CLIENT_CPU (1); 0: no taskset
#   BENCH_CALLGRIND  1 (default): the instruction counts (~1 min); 0: skip
#   BENCH_DUBBO      a `dubbo` binary to measure instead of building build/release
#                    (e.g. one built from a clean worktree of the commit to measure)
#
# Loopback only; free ports; the servers are stopped on exit, Ctrl-C included.
# Needs: cmake/gcc, g++ with libgrpc++-dev, protobuf-compiler-grpc, protoc,
# nghttp2-client (h2load), Go for tests/interop/grpc/build.sh (ghz and the
# grpc-go server), valgrind for step 3. Our provider: build/release
# (Release, the usual flags) unless BENCH_DUBBO is given; the C++ server:
# build/bench-triple/cpp; results: build/bench-triple/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
LEVELS=${BENCH_LEVELS:-"1x1 1x16 16x1 4x16"}
STREAM_LEVELS=${BENCH_STREAM_LEVELS:-"1x1 1x16"}
ROUNDS=${BENCH_ROUNDS:-1}
SERVERS=${BENCH_SERVERS:-"ours-direct ours-pool cpp-sync cpp-callback go"}
PIN=${BENCH_PIN:-1}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
CALLGRIND=${BENCH_CALLGRIND:-1}
STREAM_MSGS=${BENCH_STREAM_MSGS:-1000}
STREAM_SIZE=${BENCH_STREAM_SIZE:-16}
CG_CALLS=${BENCH_CALLGRIND_CALLS:-20000}
REL=build/release
OUT=build/bench-triple
WORK=$OUT/run
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$WORK"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

quiet() { # run, show the output only on failure
    local log=$WORK/cmd.log
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "failed: $*" >&2
        exit 1
    fi
}

if [ -n "${BENCH_DUBBO:-}" ]; then
    DUBBO=$BENCH_DUBBO
    echo "== building: grpc C++ greeter ($OUT/cpp), Go tools; dubbo-c: $DUBBO" >&2
else
    DUBBO=$REL/tools/dubbo
    echo "== building: dubbo-c ($REL, Release), grpc C++ greeter ($OUT/cpp), Go tools" >&2
    quiet cmake -S . -B "$REL" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF
    quiet cmake --build "$REL" -j2 --target dubbo_cli
fi
quiet cmake -S bench/triple/cpp -B "$OUT/cpp" -DCMAKE_BUILD_TYPE=Release
quiet cmake --build "$OUT/cpp" -j2
TOOLS=$(bash tests/interop/grpc/build.sh | tail -1)
CPP=$OUT/cpp/greeter_server_cpp
for f in "$DUBBO" "$CPP" "$TOOLS/greeter_server" "$TOOLS/ghz"; do
    [ -x "$f" ] || { echo "missing $f" >&2; exit 1; }
done
command -v h2load >/dev/null || { echo "h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }

if [ "$PIN" = 1 ]; then
    ON_SERVER=(taskset -c "$SCPU")
    ON_CLIENT=(taskset -c "$CCPU")
else
    ON_SERVER=()
    ON_CLIENT=()
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The request bodies, gRPC-framed (flag 0, u32 length, protobuf):
# HelloRequest {name: "world"} and StreamingOutputCallRequest with
# STREAM_MSGS ResponseParameters {size: STREAM_SIZE}.
python3 - "$WORK" "$STREAM_MSGS" "$STREAM_SIZE" <<'EOF'
import struct, sys
work, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)
def frame(msg):
    return b"\0" + struct.pack(">I", len(msg)) + msg
hello = b"\x0a" + varint(5) + b"world"
param = b"\x08" + varint(size)                      # ResponseParameters.size = 1
stream = (b"\x12" + varint(len(param)) + param) * n  # response_parameters = 2
open(work + "/hello.bin", "wb").write(frame(hello))
open(work + "/stream.bin", "wb").write(frame(stream))
EOF

# start_server NAME PORT CMD...: start pinned, wait for "listening on", set
# the server's pid and port in SPID[NAME], SPORT[NAME].
declare -A SPID SPORT
start_server() {
    local name=$1 port=$2
    shift 2
    local log=$WORK/$name.log
    rm -f "$log"
    "${ON_SERVER[@]}" "$@" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 200); do
        if grep -q "^listening on" "$log" 2>/dev/null; then
            SPID[$name]=$pid
            SPORT[$name]=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
            [ "$port" = 0 ] || [ "${SPORT[$name]}" = "$port" ]
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$log" >&2
    exit 1
}

ours_cmd() { echo "$DUBBO" demo provider --protocol tri --host 127.0.0.1 --port 0 --registry none "$@"; }
for s in $SERVERS; do
    case $s in
    ours-direct) start_server "$s" 0 $(ours_cmd --direct) ;;
    ours-pool) start_server "$s" 0 $(ours_cmd) ;; # the default pool: up to 200 workers
    cpp-sync) p=$(free_port) && start_server "$s" "$p" "$CPP" --addr "127.0.0.1:$p" --api sync ;;
    cpp-callback) p=$(free_port) && start_server "$s" "$p" "$CPP" --addr "127.0.0.1:$p" --api callback ;;
    go) p=$(free_port) && start_server "$s" "$p" "$TOOLS/greeter_server" --addr "127.0.0.1:$p" ;;
    *)
        echo "unknown server $s (ours-direct ours-pool cpp-sync cpp-callback go)" >&2
        exit 2
        ;;
    esac
    echo "   $s on 127.0.0.1:${SPORT[$s]} (pid ${SPID[$s]})" >&2
done

# Streaming handlers need a worker: under --direct our provider answers a
# server stream with no message (see the report in BENCHMARKS.md), so
# ours-direct is left out of the streaming table.
streams_on() { [ "$1" != ours-direct ]; }

# every server answers what the load will ask, with grpc-status OK
ghz_check() { # NAME METHOD DATA
    local json=$WORK/ghz-$1.json
    "$TOOLS/ghz" --insecure --import-paths tools/proto --proto "${4:-helloworld.proto}" --call "$2" \
        -d "$3" -n 200 -c 4 -O json "127.0.0.1:${SPORT[$1]}" >"$json" 2>&1 || true
    if ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("statusCodeDistribution") == {"OK": 200} else 1)' "$json" 2>/dev/null; then
        echo "ghz check of $1 $2 failed:" >&2
        head -c 2000 "$json" >&2
        exit 1
    fi
}
echo "== ghz check: 200 calls each, all OK" >&2
for s in $SERVERS; do
    ghz_check "$s" helloworld.Greeter.SayHello '{"name":"world"}'
    if streams_on "$s"; then
        ghz_check "$s" grpc.testing.TestService.StreamingOutputCall \
            '{"response_parameters":[{"size":16},{"size":16},{"size":16}]}' grpc/testing/test.proto
    fi
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, all threads
TCK=$(getconf CLK_TCK)

RES=$OUT/triple-results.txt
: >"$RES"
# point KIND NAME LEVEL ROUND: one h2load run; appends a RESULT line:
#   RESULT KIND NAME LEVEL ROUND done/s p50_us p99_us server_cpu_us_per_done
#          server_cpu_share data_bytes_per_done
# A short unmeasured run first (h2load -n) warms the server's connections
# up (and grpc-go's runtime); the measured run then counts every request it
# finishes, so the server's CPU over it divides by exactly those.
point() {
    local kind=$1 name=$2 level=$3 round=$4
    local c=${level%x*} m=${level#*x} body path
    if [ "$kind" = unary ]; then
        body=$WORK/hello.bin path=/helloworld.Greeter/SayHello warm=5000
    else
        body=$WORK/stream.bin path=/grpc.testing.TestService/StreamingOutputCall warm=50
    fi
    local log=$WORK/h2load-$kind-$name-$level-$round
    local url=http://127.0.0.1:${SPORT[$name]}$path pid=${SPID[$name]} t0 t1 w0 w1
    local hdr=(-d "$body" -H 'content-type: application/grpc' -H 'te: trailers')
    "${ON_CLIENT[@]}" h2load -c "$c" -m "$m" -n $((warm > c * m ? warm : c * m)) "${hdr[@]}" "$url" \
        >"$log.warm" 2>&1 || true
    t0=$(cpu_ticks "$pid")
    w0=$(date +%s%N)
    "${ON_CLIENT[@]}" h2load -c "$c" -m "$m" -D "$SECS" "${hdr[@]}" --log-file "$log.tsv" "$url" \
        >"$log.out" 2>&1 || true
    w1=$(date +%s%N)
    t1=$(cpu_ticks "$pid")
    if ! grep -q "^requests: .* 0 failed, 0 errored, 0 timeout" "$log.out" ||
        ! grep -q "^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" "$log.out"; then
        echo "h2load against $name ($kind $level) had failures:" >&2
        grep -E "^(requests|status codes)" "$log.out" >&2 || tail -5 "$log.out" >&2
    fi
    local rps data n
    rps=$(sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p' "$log.out")
    data=$(sed -n 's/^traffic: .* headers .*, .*(\([0-9]*\)) data.*/\1/p' "$log.out")
    n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$log.out")
    # percentiles by nearest rank over every request of the measured run
    cut -f3 "$log.tsv" | sort -n | awk -v kind="$kind" -v name="$name" -v level="$level" \
        -v round="$round" -v rps="${rps:-0}" -v ticks=$((t1 - t0)) -v tck="$TCK" \
        -v wall_ns=$((w1 - w0)) -v data="${data:-0}" -v n="${n:-0}" '
        { v[NR] = $1 }
        function rank(p,   i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return v[i] }
        END {
            cpu_s = ticks / tck
            printf "RESULT %s %s %s %s %.0f %d %d %.2f %.2f %.1f\n", kind, name, level, round,
                rps, NR ? rank(0.5) : 0, NR ? rank(0.99) : 0, n ? cpu_s * 1e6 / n : 0,
                wall_ns ? cpu_s / (wall_ns / 1e9) : 0, n ? data / n : 0
        }' | tee -a "$RES" >&2
    rm -f "$log.tsv"
}

for round in $(seq "$ROUNDS"); do
    for level in $LEVELS; do
        for s in $SERVERS; do
            echo "== round $round: unary SayHello, $level, $s" >&2
            point unary "$s" "$level" "$round"
        done
    done
    for level in $STREAM_LEVELS; do
        for s in $SERVERS; do
            streams_on "$s" || continue
            echo "== round $round: StreamingOutputCall x$STREAM_MSGS, $level, $s" >&2
            point stream "$s" "$level" "$round"
        done
    done
done

# the round with the median done/s per (kind, server, level)
medians() {
    awk '$1 == "RESULT" { k = $2 " " $3 " " $4; n[k]++; line[k, n[k]] = $0; q[k, n[k]] = $6
                          if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
         END {
             for (i = 1; i <= m; i++) {
                 k = order[i]
                 for (a = 1; a <= n[k]; a++) idx[a] = a
                 for (a = 2; a <= n[k]; a++)
                     for (b = a; b > 1 && q[k, idx[b - 1]] + 0 > q[k, idx[b]] + 0; b--) {
                         t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t }
                 print line[k, idx[int((n[k] + 1) / 2)]]
             }
         }' "$RES"
}
medians >"$OUT/triple-medians.txt"

echo
echo "1. Unary SayHello {name: \"world\"}, h2load CONNECTIONSxSTREAMS in flight, ${SECS}s per point"
echo "   (server CPU: its user+sys per call, and its share of one core over the run)"
printf "%-8s %-13s %10s %8s %8s %12s %9s\n" load server QPS "p50 us" "p99 us" "CPU us/call" "CPU share"
awk '$2 == "unary" { printf "%-8s %-13s %10s %8s %8s %12s %9s\n", $4, $3, $6, $7, $8, $9, $10 }' \
    "$OUT/triple-medians.txt"
echo
echo "   ratios ours/grpc: QPS (target >= 1.5x grpc C++) and p99 (target <= 0.7x grpc C++)"
awk '$2 == "unary" { q[$3, $4] = $6; p[$3, $4] = $8; if (!($4 in L)) { L[$4] = 1; lv[++nl] = $4 }
                     S[$3] = 1 }
     function r(a, b) { return (a + 0 && b + 0) ? sprintf("%.2f", a / b) : "-" }
     END {
         printf "%-8s %-13s %-13s %8s %8s %s\n", "load", "ours", "vs", "QPS x", "p99 x", ""
         split("ours-direct ours-pool", ours, " "); split("cpp-sync cpp-callback go", peers, " ")
         for (i = 1; i <= nl; i++)
             for (o = 1; o <= 2; o++) {
                 if (!(ours[o] in S)) continue
                 for (j = 1; j <= 3; j++) {
                     if (!(peers[j] in S)) continue
                     a = ours[o] SUBSEP lv[i]; b = peers[j] SUBSEP lv[i]
                     verdict = ""
                     if (peers[j] ~ /^cpp/)
                         verdict = (q[a] >= 1.5 * q[b] && p[a] <= 0.7 * p[b]) ? "goal met" : "goal missed"
                     printf "%-8s %-13s %-13s %8s %8s %s\n", lv[i], ours[o], peers[j],
                         r(q[a], q[b]), r(p[a], p[b]), verdict
                 }
             }
     }' "$OUT/triple-medians.txt"
echo
echo "2. Server stream: StreamingOutputCall, $STREAM_MSGS responses of $STREAM_SIZE bytes per call"
printf "%-8s %-13s %10s %12s %10s %10s %12s %9s\n" load server calls/s "messages/s" "p50 ms" "p99 ms" \
    "CPU us/msg" "CPU share"
awk -v n="$STREAM_MSGS" '$2 == "stream" { printf "%-8s %-13s %10s %12.0f %10.2f %10.2f %12.3f %9s\n",
        $4, $3, $6, $6 * n, $7 / 1000, $8 / 1000, $9 / n, $10 }' "$OUT/triple-medians.txt"
echo
echo "   response DATA bytes per call (the same answer from every server, give or take framing):"
awk '$1 == "RESULT" { printf "   %s %s %s: %s\n", $2, $3, $4, $11 }' "$OUT/triple-medians.txt" |
    sort -u -k1,2 | head -20

if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    echo
    echo "3. Instructions per SayHello in our provider (callgrind; $CG_CALLS calls at 1x16 after 2,000 of warm-up)"
    for mode in direct pool; do
        flag=--direct
        [ "$mode" = pool ] && flag="" # the default pool, as ours-pool
        name=cg-$mode
        rm -f "$WORK"/callgrind.$mode.*
        # shellcheck disable=SC2046
        start_server "$name" 0 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.$mode" \
            $(ours_cmd $flag)
        port=${SPORT[$name]}
        h2() {
            "${ON_CLIENT[@]}" h2load -c 1 -m 16 -n "$1" -d "$WORK/hello.bin" -H 'content-type: application/grpc' \
                -H 'te: trailers' "http://127.0.0.1:$port/helloworld.Greeter/SayHello" >"$WORK/cg-h2load.out" 2>&1
        }
        h2 2000
        callgrind_control -z "${SPID[$name]}" >/dev/null
        h2 "$CG_CALLS"
        callgrind_control -d "${SPID[$name]}" >/dev/null
        kill "${SPID[$name]}"
        wait "${SPID[$name]}" 2>/dev/null || true
        dump=$(ls "$WORK"/callgrind.$mode.* 2>/dev/null | head -1)
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
        echo "   $mode (${flag:-default pool}): $((ir / CG_CALLS)) instructions per call (user space, every thread; $ir over $CG_CALLS)"
        echo "RESULT callgrind $mode $((ir / CG_CALLS))" >>"$RES"
        # where they go, single-threaded only: the frames already on a stack
        # when the counters were zeroed are misattributed (the loop's run at
        # 100%, and with a pool a worker's run at a share no sum can check)
        [ "$mode" = direct ] || continue
        callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
            awk '/^ *[0-9,]+ \( *[0-9.]+%\) / && !/\(100\.0%\)/' >"$WORK/callgrind-self-$mode.txt"
        awk -v calls="$CG_CALLS" '{
                ir = $1; gsub(",", "", ir); obj = "other"
                if ($NF ~ /\]$/) { obj = $NF; sub(/\]$/, "", obj); sub(/.*\//, "", obj); sub(/\.so.*/, "", obj) }
                by[obj] += ir; total += ir }
            END { for (o in by) printf "     %-16s %6.0f per call (%4.1f%%)\n", o, by[o] / calls, 100 * by[o] / total }' \
            "$WORK/callgrind-self-$mode.txt" | sort -k2,2nr | head -6
        echo "     top functions (own instructions; libnghttp2 is stripped, hence addresses):"
        head -12 "$WORK/callgrind-self-$mode.txt" | sed 's/^ */       /' 
    done
fi

echo
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc);" \
    "pinned: $([ "$PIN" = 1 ] && echo "servers CPU $SCPU, h2load CPU $CCPU" || echo no). Raw: $RES"

# The unary medians as bench/charts/triple.tsv, drawn by bench/plot.sh into
# bench/charts/triple.svg (BENCHMARKS.md shows it).
CHART=bench/charts/triple.tsv
{
    echo "# title: Triple unary SayHello: ours vs grpc C++ 1.51 and grpc-go (h2load, servers pinned to one core)"
    echo "# x: h2load connections x streams"
    echo "# source: bench/run-triple.sh with $("$DUBBO" --version 2>/dev/null | head -1) at" \
         "$(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d); median-QPS round of" \
         "$ROUNDS round(s) of ${SECS}s; load average $LOAD0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
    echo "# written by bench/run-triple.sh (its unary medians); drawn by bench/plot.sh"
    printf 'load\tserver\tqps\tp50_us\tp99_us\tcpu_us_per_call\n'
    awk '$2 == "unary" { printf "%s\t%s\t%s\t%s\t%s\t%s\n", $4, $3, $6, $7, $8, $9 }' "$OUT/triple-medians.txt"
} >"$CHART"
bench/plot.sh triple || echo "no chart drawn (bench/plot.sh triple redraws it from $CHART)" >&2
