#!/usr/bin/env bash
# Dubbo provider throughput and latency, side by side on this machine:
# our `dubbo demo provider` (Release) against canned_server, the ceiling (a
# single-threaded epoll server that frames requests and answers a fixed
# sayHello("x") response without decoding anything). The same client,
# `dubbo bench`, drives both with sayHello("x") at concurrency 1, 16 and 64.
# Then our provider alone echoes a dubbo-benchmark Page of 15 Users (the
# canned server cannot echo). Also: provider RSS idle and after the calls,
# and the bytes a call puts on the wire.
#
#   bench/dubbo/run.sh                          # ~2 min
#   BENCH_SECONDS=3 bench/dubbo/run.sh          # quicker, noisier
#   BENCH_THREADS="200" bench/dubbo/run.sh      # provider worker pool sizes to try
#                                               # ("direct": handlers on the loop thread)
#
# Client and servers run on the same machine and share its cores; loopback only.
# Builds into build/dbench (override with BENCH_OUT). Needs gcc, cmake, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${BENCH_SECONDS:-5}
THREADS=${BENCH_THREADS:-"direct 4 200"}
ROUNDS=${BENCH_ROUNDS:-2}
CONCS=${BENCH_CONCURRENCY:-"1 16 64"}
OUT=${BENCH_OUT:-build/dbench}
PORT=${BENCH_PORT:-20960}
HOST=127.0.0.1
IFACE=org.apache.dubbo.demo.DemoService

echo "== building (Release, $OUT)" >&2
if ! { cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF \
           -DDUBBO_BUILD_BENCH=OFF &&
       cmake --build "$OUT" -j"$(nproc)" --target dubbo_cli; } >"$OUT/dubbo-bench-build.log" 2>&1; then
    cat "$OUT/dubbo-bench-build.log" >&2
    exit 1
fi
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$OUT/canned_server" bench/dubbo/canned_server.c
DUBBO=$OUT/tools/dubbo
CANNED=$OUT/canned_server
WORK=$OUT/dubbo-bench
mkdir -p "$WORK"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_server NAME CMD... : start, wait for "listening on", set SERVER_PID.
start_server() {
    local name=$1
    shift
    rm -f "$WORK/$name.log" # no stale "listening on" from an earlier run
    "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        grep -q "^listening on" "$WORK/$name.log" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The Page<User> payload as typed JSON: the same contents as the hessian2
# benchmark (bench/hessian2_bench.c): 15 distinct dubbo-benchmark Users.
PAGE_JSON=$(python3 - <<'EOF'
import json
BIRTHDAY, CREATE = -33609600000, 1710494813589
PERMS = [1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92]
def date(ms):
    return {"$class": "java.util.Date", "$": ms}
def user(i):
    s = str(i)
    return {"$class": "com.example.bench.User", "$": {
        "id": {"$class": "long", "$": i}, "name": "Doug Lea" + s, "sex": 1,
        "email": "dong.lea@gmail.com" + s, "mobile": "18612345678" + s,
        "address": "北京市 中关村 中关村大街1号 鼎好大厦 1605" + s,
        "icon": "https://www.baidu.com/img/bd_logo1.png" + s, "status": 1,
        "birthday": date(BIRTHDAY), "permissions": PERMS,
        "createTime": date(CREATE + 1000 * i), "updateTime": date(CREATE + 1000 * i)}}
page = {"$class": "com.example.bench.Page",
        "$": {"pageNo": 1, "total": 1000, "result": [user(i) for i in range(15)]}}
print(json.dumps(page, ensure_ascii=False, separators=(",", ":")))
EOF
)

# A one-connection pass-through proxy that counts the bytes each way
# (to report what one call costs on the wire).
COUNT_PROXY='
import socket, sys, threading
lp, tp = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lp)); ls.listen(1)
print("listening on", lp, flush=True)
c, _ = ls.accept()
u = socket.create_connection(("127.0.0.1", tp))
n = {"req": 0, "rsp": 0}
def pipe(a, b, k):
    while True:
        d = a.recv(65536)
        if not d: break
        n[k] += len(d); b.sendall(d)
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
t = threading.Thread(target=pipe, args=(c, u, "req")); t.start()
pipe(u, c, "rsp"); t.join()
print("bytes", n["req"], n["rsp"], flush=True)
'

# wire_bytes PORT METHOD ARG [--types ..]: "REQ RSP" bytes of one call.
wire_bytes() {
    local port=$1
    shift
    local pport=$((PORT + 9))
    start_server proxy python3 -c "$COUNT_PROXY" "$pport" "$port"
    local ppid=$SERVER_PID
    timeout 20 "$DUBBO" call "dubbo://$HOST:$pport/$IFACE" "$@" >/dev/null || true
    for _ in $(seq 100); do # the proxy ends when the call closes its connection
        kill -0 "$ppid" 2>/dev/null || break
        sleep 0.05
    done
    stop_server "$ppid"
    awk '/^bytes/ {print $2, $3}' "$WORK/proxy.log"
}

RES=$WORK/results.tsv
: >"$RES"

# bench ROUND LABEL PORT CONC METHOD ARG... : one `dubbo bench` run, a row in $RES.
bench() {
    local round=$1 label=$2 port=$3 conc=$4 method=$5
    shift 4
    local out calls errs qps p50 p99
    out=$("$DUBBO" bench --raw "dubbo://$HOST:$port/$IFACE" "$@" --concurrency "$conc" \
          --duration "$SECS" 2>&1 || true)
    calls=$(awk '/^calls/ {print $2}' <<<"$out")
    errs=$(awk '/^calls/ {print $4}' <<<"$out")
    qps=$(awk '/^qps/ {print $2}' <<<"$out")
    p50=$(awk '/^latency_us/ {print $3}' <<<"$out")
    p99=$(awk '/^latency_us/ {print $7}' <<<"$out")
    if [ -z "$qps" ]; then
        echo "bench $label $method c=$conc failed:" >&2
        echo "$out" >&2
        calls=0 errs=? qps=0 p50=0 p99=0
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$method" "$conc" "$qps" \
        "$p50" "$p99" "$errs" "$calls" >>"$RES"
    printf '  #%s %-10s %-8s c=%-3s qps %-7s p50 %-5s p99 %-6s errors %s\n' "$round" "$label" \
        "$method" "$conc" "$qps" "$p50" "$p99" "$errs" >&2
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), load $LOAD0" >&2
echo "== ${ROUNDS} round(s) of ${SECS}s runs; client and servers share the cores" >&2

# ---- start everything -----------------------------------------------------------------
# All servers run at once (idle ones cost nothing) so that the runs can be
# interleaved: each round measures canned and ours back to back at each
# concurrency, which keeps the ratios fair when the machine's load drifts.
start_server canned "$CANNED" --port "$PORT" --host "$HOST"
LABELS=(canned)
PORTS=("$PORT")
PIDS_BY=("$SERVER_PID")
i=0
for t in $THREADS; do
    i=$((i + 1))
    if [ "$t" = direct ]; then
        start_server "provider-direct" "$DUBBO" demo provider --port "$((PORT + i))" \
            --host "$HOST" --direct
        LABELS+=("ours-direct")
    else
        start_server "provider-t$t" "$DUBBO" demo provider --port "$((PORT + i))" --host "$HOST" \
            --threads "$t"
        LABELS+=("ours-t$t")
    fi
    PORTS+=("$((PORT + i))")
    PIDS_BY+=("$SERVER_PID")
done
sleep 0.5
declare -A RSS_IDLE RSS_HELLO RSS_ECHO
for k in "${!LABELS[@]}"; do
    [ "${LABELS[$k]}" = canned ] || RSS_IDLE[${LABELS[$k]}]=$(rss_kb "${PIDS_BY[$k]}")
done
HELLO_WIRE=$(wire_bytes "$PORT" sayHello '"x"')

# ---- sayHello("x"): canned vs ours ---------------------------------------------------------
for r in $(seq "$ROUNDS"); do
    echo "== round $r: sayHello(\"x\")" >&2
    for c in $CONCS; do
        for k in "${!LABELS[@]}"; do bench "$r" "${LABELS[$k]}" "${PORTS[$k]}" "$c" sayHello '"x"'; done
    done
done
for k in "${!LABELS[@]}"; do
    [ "${LABELS[$k]}" = canned ] || RSS_HELLO[${LABELS[$k]}]=$(rss_kb "${PIDS_BY[$k]}")
done

# ---- echo(Page<User>): ours only --------------------------------------------------------------
echo "== echo(Page of 15 Users), our provider only" >&2
for c in 1 64; do
    for k in "${!LABELS[@]}"; do
        [ "${LABELS[$k]}" = canned ] && continue
        bench 1 "${LABELS[$k]}" "${PORTS[$k]}" "$c" echo "$PAGE_JSON" --types 'Ljava/lang/Object;'
    done
done
ECHO_WIRE=$(wire_bytes "$((PORT + 1))" echo "$PAGE_JSON" --types 'Ljava/lang/Object;')
for k in "${!LABELS[@]}"; do
    [ "${LABELS[$k]}" = canned ] || RSS_ECHO[${LABELS[$k]}]=$(rss_kb "${PIDS_BY[$k]}")
done
for p in "${PIDS_BY[@]}"; do stop_server "$p"; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ---------------------------------------------------------------------------------
{
    echo
    echo "Dubbo provider vs canned_server (ceiling), same client (\`dubbo bench --raw\`: the bare async client), sayHello(\"x\")."
    echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)) shared by client and servers; loopback;"
    echo "load average before $LOAD0, after $LOAD1. Best of $ROUNDS interleaved round(s) of ${SECS}s"
    echo "per row (highest QPS; its p50/p99). Latency in microseconds."
    echo "Wire bytes per call (request / response, with 16-byte headers): sayHello $HELLO_WIRE," \
         "echo(Page of 15 Users) $ECHO_WIRE."
    echo
    echo "| server | in flight | QPS | p50 | p99 | errors | QPS ours/canned | p50 ours/canned | p99 ours/canned |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
        $3 != "sayHello" { next }
        { key = $2 "\t" $4
          if (!(key in best) || $5 + 0 > bq[key]) { best[key] = $0; bq[key] = $5 + 0 }
          if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
        END {
            for (i = 1; i <= n; i++) {
                split(best[order[i]], f, "\t")
                if (f[2] == "canned") { cq[f[4]] = f[5]; c50[f[4]] = f[6]; c99[f[4]] = f[7] }
            }
            # rows grouped by server (in the order they first ran: canned first)
            for (i = 1; i <= n; i++) {
                split(order[i], k, "\t")
                if (!(k[1] in sidx)) { sidx[k[1]] = 1; sorder[++ns] = k[1] }
            }
            for (j = 1; j <= ns; j++)
                for (i = 1; i <= n; i++) {
                    split(best[order[i]], f, "\t")
                    if (f[2] != sorder[j]) continue
                    r1 = r2 = r3 = ""
                    if (f[2] != "canned" && cq[f[4]] > 0) {
                        r1 = sprintf("%.2f", f[5] / cq[f[4]])
                        r2 = c50[f[4]] > 0 ? sprintf("%.2f", f[6] / c50[f[4]]) : "-"
                        r3 = c99[f[4]] > 0 ? sprintf("%.2f", f[7] / c99[f[4]]) : "-"
                    }
                    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[2], f[4], f[5], f[6], f[7], f[8], r1, r2, r3
                }
        }' "$RES"
    echo
    echo "echo(Page<User>) through our provider only (the canned server cannot echo):"
    echo
    echo "| server | in flight | QPS | p50 | p99 | errors | MB/s in / out |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    read -r ereq ersp <<<"$ECHO_WIRE"
    awk -F'\t' -v req="$ereq" -v rsp="$ersp" '$3 == "echo" {
        printf "| %s | %s | %s | %s | %s | %s | %.1f / %.1f |\n", $2, $4, $5, $6, $7, $8, $5 * req / 1e6, $5 * rsp / 1e6 }' "$RES"
    echo
    echo "Provider memory (VmRSS, kB):"
    echo
    echo "| server | idle (after start) | after the sayHello runs | after the echo runs | calls served |"
    echo "|---|---:|---:|---:|---:|"
    for l in "${LABELS[@]}"; do
        [ "$l" = canned ] && continue
        calls=$(awk -F'\t' -v l="$l" '$2 == l { n += $9 } END { print n + 0 }' "$RES")
        echo "| $l | ${RSS_IDLE[$l]} | ${RSS_HELLO[$l]} | ${RSS_ECHO[$l]} | $calls |"
    done
} | tee "$WORK/report.md"

# ---- chart ----------------------------------------------------------------------------------
# The sayHello table (best round per row) as bench/charts/dubbo.tsv, drawn
# by bench/plot.sh into bench/charts/dubbo.svg (BENCHMARKS.md shows it).
CHART=bench/charts/dubbo.tsv
{
    echo "# title: Dubbo provider vs the canned-reply ceiling, sayHello(\"x\"), dubbo bench --raw"
    echo "# x: calls in flight"
    echo "# source: bench/dubbo/run.sh at $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
         "$(date -u +%Y-%m-%d); best of $ROUNDS round(s) of ${SECS}s per row; load average $LOAD0 before, $LOAD1 after"
    echo "# written by bench/dubbo/run.sh (best of its rounds per row); drawn by bench/plot.sh"
    printf 'load\tserver\tqps\tp50_us\tp99_us\n'
    awk -F'\t' '
        $3 != "sayHello" { next }
        { key = $2 "\t" $4
          if (!(key in best) || $5 + 0 > bq[key]) { best[key] = $0; bq[key] = $5 + 0 }
          if (!(key in seen)) { seen[key] = 1; order[++n] = key }
          if (!($2 in sidx)) { sidx[$2] = 1; sorder[++ns] = $2 } }
        END {
            for (j = 1; j <= ns; j++)
                for (i = 1; i <= n; i++) {
                    split(best[order[i]], f, "\t")
                    if (f[2] == sorder[j]) printf "%s\t%s\t%s\t%s\t%s\n", f[4], f[2], f[5], f[6], f[7]
                }
        }' "$RES"
} >"$CHART"
bench/plot.sh dubbo || echo "no chart drawn (bench/plot.sh dubbo redraws it from $CHART)" >&2
