#!/usr/bin/env bash
# REST (HTTP/1.1) benchmark, side by side on this machine: our
# `dubbo demo provider --protocol rest` answering GET /demo/hello/x (the
# DemoService sayHello mapping, `"Hello x"` as JSON) against nginx (Debian's
# nginx-light) answering the same URL with a static `return 200 '"Hello x"'`,
# all started at once and measured one at a time, interleaved, with the same
# client, wrk (one thread), at the same settings:
#   1. requests/s, p50 and p99 (wrk --latency) and the server's own CPU time
#      per request (/proc/PID/stat, every thread and process of the server)
#      at each BENCH_CONNS, every round; the ratios ours/nginx are taken per
#      round (runs moments apart) and their median is shown;
#   2. callgrind: instructions per request of our provider (--direct) and of
#      nginx (one process, master_process off), and where ours go.
# Each server is first checked with curl: 200 and the body `"Hello x"`.
#
#   bench/run-rest.sh                                 # ~5 min after the build
#   BENCH_SECONDS=3 BENCH_ROUNDS=1 BENCH_CALLGRIND=0 bench/run-rest.sh   # quick look
#   BENCH_SERVERS="ours-direct nginx-1" bench/run-rest.sh
#   BENCH_DUBBO=build/h-bench/tools/dubbo bench/run-rest.sh   # another build of ours
#
#   BENCH_SECONDS    measured seconds per point (5), after an unmeasured 1 s warm-up
#   BENCH_CONNS      wrk connections per point ("1 16 64"), one wrk thread
#   BENCH_ROUNDS     rounds of every point (3); the table shows, per server and
#                    point, the round with the median requests/s
#   BENCH_SERVERS    subset of: ours-direct ours-t4 ours-pool nginx-1 nginx-auto
#   BENCH_PIN        1 (default): servers on CPU BENCH_SERVER_CPU (0), wrk on
#                    CPU BENCH_CLIENT_CPU (1); 0: no taskset
#   BENCH_CALLGRIND  1 (default): the instruction counts (~1 min); 0: skip
#   BENCH_DUBBO      a `dubbo` binary to measure instead of building build/release
#
# Servers: ours-direct is `--direct` (handlers on the event-loop thread),
# ours-t4 `--threads 4`, ours-pool the default pool (up to 200 workers);
# nginx-1 is `worker_processes 1`, nginx-auto `worker_processes auto`. nginx
# runs from a private configuration in the work directory (daemon off; pid,
# logs and temp paths there; access_log off; keepalive_requests raised so
# that, like ours, it keeps every wrk connection for the whole run).
#
# Loopback only; free ports; the servers are stopped on exit, Ctrl-C included.
# Needs: cmake/gcc, wrk, nginx-light, curl, python3 (free ports), valgrind
# for step 2 (scripts/setup.sh installs them). Results: build/bench-rest/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-"1 16 64"}
ROUNDS=${BENCH_ROUNDS:-3}
SERVERS=${BENCH_SERVERS:-"ours-direct ours-t4 ours-pool nginx-1 nginx-auto"}
PIN=${BENCH_PIN:-1}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
CALLGRIND=${BENCH_CALLGRIND:-1}
CG_SECONDS=${BENCH_CALLGRIND_SECONDS:-8}
REL=build/release
OUT=build/bench-rest
WORK=$OUT/run
PATH_Q=/demo/hello/x
BODY='"Hello x"'
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd) # nginx wants absolute paths
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
    echo "== dubbo-c: $DUBBO" >&2
else
    DUBBO=$REL/tools/dubbo
    echo "== building: dubbo-c ($REL, Release)" >&2
    quiet cmake -S . -B "$REL" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF
    quiet cmake --build "$REL" -j2 --target dubbo_cli
fi
[ -x "$DUBBO" ] || { echo "missing $DUBBO" >&2; exit 1; }
for t in wrk nginx curl python3; do
    command -v "$t" >/dev/null || { echo "$t missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
NGINX=$(command -v nginx)

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

# nginx_conf NAME PORT WORKERS MASTER: a private configuration, nothing
# outside $WORK/NAME; prints its path.
nginx_conf() {
    local d=$WORK/$1
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<EOF
daemon off;
master_process $4;
worker_processes $3;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type application/json;
    server {
        listen 127.0.0.1:$2;
        location = $PATH_Q {
            return 200 '$BODY';
        }
    }
}
EOF
    echo "$d/nginx.conf"
}

# start_server NAME PORT CMD...: start pinned, wait until it answers the URL
# (ours: its "listening on" line gives the port), set SPID[NAME] and
# SPORT[NAME].
declare -A SPID SPORT
start_server() {
    local name=$1 port=$2
    shift 2
    local log=$WORK/$name.log
    rm -f "$log"
    "${ON_SERVER[@]}" "$@" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 400); do
        if [ "$port" = 0 ] && grep -q "^listening on" "$log" 2>/dev/null; then
            port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
        fi
        if [ "$port" != 0 ] && curl -s -o /dev/null "http://127.0.0.1:$port$PATH_Q" 2>/dev/null; then
            SPID[$name]=$pid
            SPORT[$name]=$port
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$log" >&2
    exit 1
}

ours_cmd() { echo "$DUBBO" demo provider --protocol rest --host 127.0.0.1 --port 0 --registry none "$@"; }
for s in $SERVERS; do
    case $s in
    ours-direct) start_server "$s" 0 $(ours_cmd --direct) ;;
    ours-t4) start_server "$s" 0 $(ours_cmd --threads 4) ;;
    ours-pool) start_server "$s" 0 $(ours_cmd) ;; # the default pool: up to 200 workers
    nginx-1) p=$(free_port) && start_server "$s" "$p" "$NGINX" -e "$WORK/$s/error.log" \
        -c "$(nginx_conf "$s" "$p" 1 on)" ;;
    nginx-auto) p=$(free_port) && start_server "$s" "$p" "$NGINX" -e "$WORK/$s/error.log" \
        -c "$(nginx_conf "$s" "$p" auto on)" ;;
    *)
        echo "unknown server $s (ours-direct ours-t4 ours-pool nginx-1 nginx-auto)" >&2
        exit 2
        ;;
    esac
    echo "   $s on 127.0.0.1:${SPORT[$s]} (pid ${SPID[$s]})" >&2
done

# every process of a server: ours is one process; nginx a master and its workers
server_pids() { echo "$1" $(pgrep -P "$1" || true); }
cpu_ticks() { # utime + stime, every thread of every process of the server
    local p t=0
    for p in $(server_pids "$1"); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
TCK=$(getconf CLK_TCK)
# the threads a server runs: processes x threads, as "P procs, T threads"
threads_of() {
    local p n=0 t=0
    for p in $(server_pids "$1"); do
        n=$((n + 1))
        t=$((t + $(ls "/proc/$p/task" | wc -l)))
    done
    echo "$n process(es), $t thread(s)"
}

# every server answers the same: 200, the body "Hello x"
echo "== curl check: 200 and $BODY from each" >&2
for s in $SERVERS; do
    url=http://127.0.0.1:${SPORT[$s]}$PATH_Q
    got=$(curl -s -D "$WORK/$s.headers" "$url")
    code=$(head -1 "$WORK/$s.headers" | cut -d' ' -f2)
    if [ "$code" != 200 ] || [ "$got" != "$BODY" ]; then
        echo "$s answered $code '$got', not 200 '$BODY'" >&2
        exit 1
    fi
    echo "   $s: $(($(wc -c <"$WORK/$s.headers") + ${#got})) bytes of response," \
        "$(threads_of "${SPID[$s]}")" >&2
done

to_us() { # wrk's 123.45us / 1.23ms / 1.02s -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /m$/) print n * 60e6
        else if (v ~ /s$/) print n * 1e6; else print n }'
}
to_bytes() { # wrk's 17.78MB -> bytes
    awk -v v="$1" 'BEGIN { n = v + 0
        if (v ~ /KB$/) n *= 1024; else if (v ~ /MB$/) n *= 1048576; else if (v ~ /GB$/) n *= 1073741824
        printf "%.0f", n }'
}

RES=$OUT/rest-results.txt
: >"$RES"
# point NAME CONNS ROUND: one wrk run; appends a RESULT line:
#   RESULT NAME CONNS ROUND req/s p50_us p99_us server_cpu_us_per_req
#          server_cpu_share bytes_per_response errors
point() {
    local name=$1 c=$2 round=$3
    local url=http://127.0.0.1:${SPORT[$name]}$PATH_Q pid=${SPID[$name]}
    local log=$WORK/wrk-$name-$c-$round t0 t1 w0 w1
    "${ON_CLIENT[@]}" wrk -t1 -c"$c" -d1s "$url" >"$log.warm" 2>&1 || true
    t0=$(cpu_ticks "$pid")
    w0=$(date +%s%N)
    "${ON_CLIENT[@]}" wrk -t1 -c"$c" -d"${SECS}s" --latency "$url" >"$log.out" 2>&1 || true
    w1=$(date +%s%N)
    t1=$(cpu_ticks "$pid")
    local rps n bytes p50 p99 errs
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$log.out")
    n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$log.out")
    bytes=$(to_bytes "$(sed -n 's/^ *[0-9]* requests in [^,]*, *\([0-9.]*[KMG]*B\) read.*/\1/p' "$log.out")")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$log.out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$log.out")")
    # non-2xx answers and socket errors (connect, read, write, timeout)
    errs=$(awk '/Non-2xx or 3xx responses:/ { e += $NF }
                /Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                END { print e + 0 }' "$log.out")
    if [ -z "$rps" ] || [ "$errs" != 0 ]; then
        echo "wrk against $name (-c$c) had errors or no result:" >&2
        cat "$log.out" >&2
    fi
    awk -v name="$name" -v c="$c" -v round="$round" -v rps="${rps:-0}" -v n="${n:-0}" \
        -v ticks=$((t1 - t0)) -v tck="$TCK" -v wall_ns=$((w1 - w0)) -v bytes="${bytes:-0}" \
        -v p50="${p50:-0}" -v p99="${p99:-0}" -v errs="$errs" 'BEGIN {
            cpu_s = ticks / tck
            printf "RESULT %s %s %s %.0f %.0f %.0f %.2f %.2f %.0f %d\n", name, c, round, rps, p50, p99,
                n ? cpu_s * 1e6 / n : 0, wall_ns ? cpu_s / (wall_ns / 1e9) : 0, n ? bytes / n : 0, errs
        }' | tee -a "$RES" >&2
}

for round in $(seq "$ROUNDS"); do
    for c in $CONNS; do
        for s in $SERVERS; do
            echo "== round $round: GET $PATH_Q, wrk -t1 -c$c, $s" >&2
            point "$s" "$c" "$round"
        done
    done
done

# the round with the median req/s per (server, conns)
awk '$1 == "RESULT" { k = $2 " " $3; n[k]++; line[k, n[k]] = $0; q[k, n[k]] = $5
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
     }' "$RES" >"$OUT/rest-medians.txt"

echo
echo "1. GET $PATH_Q, wrk -t1 -cN --latency, ${SECS}s per point, $ROUNDS round(s), median round shown"
echo "   (server CPU: user+sys of all its threads per request, and its share of one core)"
printf "%-6s %-11s %9s %8s %8s %11s %9s %9s\n" conns server "req/s" "p50 us" "p99 us" "CPU us/req" \
    "CPU share" "B/resp"
awk '{ printf "%-6s %-11s %9s %8s %8s %11s %9s %9s\n", $3, $2, $5, $6, $7, $8, $9, $10 }' \
    "$OUT/rest-medians.txt"
awk '$3 != 1 && $9 < 0.9 { low = low " " $2 "/-c" $3 "(" $9 ")" }
     END { if (low) print "   note: servers short of their core (CPU share < 0.9 at -c16/-c64, other load on the\n" \
                            "   machine):" low "; req/s and latencies are depressed unevenly, see per-core" }' \
    "$OUT/rest-medians.txt"
echo
echo "   ratios ours/nginx, each the median over the rounds of the ratio within one round"
echo "   (req/s: goal >= 0.8x nginx; p99 and CPU per request: lower is better; per-core:"
echo "   requests per CPU-second of the server, nginx's CPU per request over ours, which"
echo "   other load on the machine hardly moves, unlike req/s)"
awk '$1 == "RESULT" { k = $2 SUBSEP $3 SUBSEP $4; q[k] = $5; p[k] = $7; u[k] = $8
                      S[$2] = 1; if (!($3 in C)) { C[$3] = 1; cl[++nc] = $3 }
                      if ($4 > R) R = $4 }
     function med(a, n,   i, j, t) {
         for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
     }
     function ratio(arr, o, v, c,   r, n, x, y) {
         n = 0; delete tmp
         for (r = 1; r <= R; r++) {
             x = arr[o, c, r]; y = arr[v, c, r]
             if (x + 0 > 0 && y + 0 > 0) tmp[++n] = x / y
         }
         if (!n) return "-"
         lo = tmp[1]; hi = tmp[1]
         for (r = 1; r <= n; r++) { if (tmp[r] < lo) lo = tmp[r]; if (tmp[r] > hi) hi = tmp[r] }
         return sprintf("%.2f", med(tmp, n))
     }
     END {
         printf "%-6s %-11s %-10s %7s %14s %7s %9s %10s  %s\n", "conns", "ours", "vs", "req/s x",
             "(rounds range)", "p99 x", "CPU/req x", "per-core x", "goal (>= 0.8x) on req/s, per core"
         split("ours-direct ours-t4 ours-pool", ours, " "); split("nginx-1 nginx-auto", peers, " ")
         for (i = 1; i <= nc; i++)
             for (o = 1; o <= 3; o++) {
                 if (!(ours[o] in S)) continue
                 for (j = 1; j <= 2; j++) {
                     if (!(peers[j] in S)) continue
                     rq = ratio(q, ours[o], peers[j], cl[i]); range = sprintf("%.2f-%.2f", lo, hi)
                     rp = ratio(p, ours[o], peers[j], cl[i]); ru = ratio(u, ours[o], peers[j], cl[i])
                     rc = ratio(u, peers[j], ours[o], cl[i]) # requests per CPU-second: its inverse
                     printf "%-6s %-11s %-10s %7s %14s %7s %9s %10s  %s, %s\n", cl[i], ours[o], peers[j], rq,
                         rq == "-" ? "" : range, rp, ru, rc, rq == "-" ? "-" : (rq >= 0.8 ? "met" : "missed"),
                         rc == "-" ? "-" : (rc >= 0.8 ? "met" : "missed")
                 }
             }
     }' "$RES"

if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    echo
    echo "2. Instructions per request (callgrind; wrk -t1 -c16 for ${CG_SECONDS}s after 1 s of warm-up)"
    p=$(free_port)
    nconf=$(nginx_conf cg-nginx "$p" 1 off) # one process: master_process off
    for name in cg-ours cg-nginx; do
        rm -f "$WORK"/callgrind.$name.*
        if [ "$name" = cg-ours ]; then
            # shellcheck disable=SC2046
            start_server "$name" 0 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.$name" \
                $(ours_cmd --direct)
        else
            start_server "$name" "$p" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.$name" \
                "$NGINX" -e "$WORK/cg-nginx/error.log" -c "$nconf"
        fi
        url=http://127.0.0.1:${SPORT[$name]}$PATH_Q
        "${ON_CLIENT[@]}" wrk -t1 -c16 -d1s "$url" >"$WORK/cg-wrk-warm.out" 2>&1 || true
        callgrind_control -z "${SPID[$name]}" >/dev/null 2>&1
        "${ON_CLIENT[@]}" wrk -t1 -c16 -d"${CG_SECONDS}s" "$url" >"$WORK/cg-wrk.out" 2>&1 || true
        callgrind_control -d "${SPID[$name]}" >/dev/null 2>&1
        n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$WORK/cg-wrk.out")
        kill "${SPID[$name]}"
        wait "${SPID[$name]}" 2>/dev/null || true
        # the dump taken on request, not the one written at exit
        dump=$(ls -t "$WORK"/callgrind.$name.* 2>/dev/null | tail -1)
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
        [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "   $name: no requests under valgrind" >&2; continue; }
        echo "   ${name#cg-}: $((ir / n)) instructions per request (user space; $ir over $n requests)"
        echo "RESULT-CG ${name#cg-} $((ir / n)) $n" >>"$RES"
        callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
            awk '/^ *[0-9,]+ \( *[0-9.]+%\) / && !/\(100\.0%\)/' >"$WORK/callgrind-self-$name.txt"
        echo "     by library (own instructions):"
        awk -v n="$n" '{
                ir = $1; gsub(",", "", ir); obj = "other"
                if ($NF ~ /\]$/) { obj = $NF; sub(/\]$/, "", obj); sub(/.*\//, "", obj); sub(/\.so.*/, "", obj) }
                by[obj] += ir; total += ir }
            END { for (o in by) printf "       %-16s %6.0f per request (%4.1f%%)\n", o, by[o] / n, 100 * by[o] / total }' \
            "$WORK/callgrind-self-$name.txt" | sort -k2,2nr | head -6
        echo "     top functions (own instructions, share of the total):"
        head -15 "$WORK/callgrind-self-$name.txt" | sed 's/^ */       /'
    done
    awk '$1 == "RESULT-CG" { i[$2] = $3 } END { if (i["ours"] && i["nginx"])
        printf "   ours/nginx instructions per request: %.2f\n", i["ours"] / i["nginx"] }' "$RES"
fi

echo
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc);" \
    "pinned: $([ "$PIN" = 1 ] && echo "servers CPU $SCPU, wrk CPU $CCPU" || echo no). Raw: $RES"

# The medians as bench/charts/rest.tsv, drawn by bench/plot.sh into
# bench/charts/rest.svg (BENCHMARKS.md shows it).
CHART=bench/charts/rest.tsv
{
    echo "# title: REST GET $PATH_Q: ours vs nginx-light (wrk -t1, servers pinned to one core)"
    echo "# x: wrk connections"
    echo "# source: bench/run-rest.sh with $("$DUBBO" --version 2>/dev/null | head -1) at" \
         "$(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d); median-requests/s round" \
         "of $ROUNDS round(s) of ${SECS}s; load average $LOAD0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
    echo "# written by bench/run-rest.sh (its medians; qps is requests/s); drawn by bench/plot.sh"
    printf 'load\tserver\tqps\tp50_us\tp99_us\tcpu_us_per_call\n'
    awk '{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", $3, $2, $5, $6, $7, $8 }' "$OUT/rest-medians.txt"
} >"$CHART"
bench/plot.sh rest || echo "no chart drawn (bench/plot.sh rest redraws it from $CHART)" >&2
