#!/usr/bin/env bash
# Idle connections on a provider (issue 15: "10,000 idle connections held,
# with RSS per connection reported. A provider still answers at full speed
# while they are open."). One `dubbo demo provider` in its default
# configuration (worker pool); measured in order:
#   1. its VmRSS and open fds once started,
#   2. the QPS of RUNS (default 3) SECS-second loadgen runs (SHAPE, default
#      4x16); the tables show the median run,
#   3. N idle connections opened by `loadgen -idle N` (each sends one
#      heartbeat and reads its answer, then stays silent; BEAT=0: nothing
#      is ever sent), then VmRSS and fds again: (RSS with - RSS before) / N
#      is the provider's memory per connection (user space only: the
#      kernel's socket memory is not in VmRSS),
#   4. the same load runs while they are open,
#   5. how many of the N the provider still had open at the end,
#   6. the same load runs again after they closed: if these are as slow as
#      the runs of 4, it was not the idle connections.
#
#   bench/dubbo/idle_conns.sh build/dbench/tools/dubbo
#   N=2000 SECS=1 RUNS=1 bench/dubbo/idle_conns.sh DUBBO
#
# The provider has no connection cap by default (`accepts` is 0 unless a
# service URL sets it), so nothing is raised for that. It closes a
# connection silent for 3 x heartbeat (180 s by default) and one that sent
# no whole frame within first_request_timeout (2 x heartbeat, 120 s): far
# longer than this script holds them. The soft fd limit is raised to the
# hard one; the provider needs N plus a few dozen, the holder N.
# Builds the loadgen into BENCH_OUT (default build/dbench). Needs go,
# python3. Loopback only; port PORT (default 21050).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUBBO=${1:?usage: idle_conns.sh DUBBO}
N=${N:-10000}
SECS=${SECS:-3}
SHAPE=${SHAPE:-4x16}
RUNS=${RUNS:-3}
BEAT=${BEAT:-1}
OUT=${BENCH_OUT:-build/dbench}
PORT=${PORT:-21050}
H=127.0.0.1

ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 100)) ]; then
    echo "idle_conns.sh: the fd limit is $(ulimit -n) (hard), too low for N=$N" >&2
    exit 1
fi
mkdir -p "$OUT"
LOADGEN=$(realpath "$OUT")/loadgen
(cd bench/dubbo/loadgen && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$LOADGEN" .)

WORK=$(mktemp -d)
PIDS=()
# (kill may fail: the holder has usually exited; that must not end the trap)
trap 'exec 3>&-; for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; rm -rf "$WORK"' EXIT

"$DUBBO" demo provider --port "$PORT" --host $H --registry none >"$WORK/provider.log" 2>&1 &
PROV=$!
PIDS+=("$PROV")
for _ in $(seq 100); do
    grep -q "^listening on" "$WORK/provider.log" 2>/dev/null && break
    kill -0 "$PROV" 2>/dev/null || break
    sleep 0.05
done
grep -q "^listening on" "$WORK/provider.log" || { cat "$WORK/provider.log" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# load: RUNS loadgen runs at SHAPE; "qps p50 p99 errors all_qps" of the
# median one (by QPS), errors summed, all_qps the QPS of each run.
load() {
    local outs=()
    for _ in $(seq "$RUNS"); do
        outs+=("$("$LOADGEN" -addr "$H:$PORT" -c "${SHAPE%x*}" -d "${SHAPE#*x}" -t "$SECS" 2>&1 || true)")
    done
    python3 - "${outs[@]}" <<'PY'
import re, sys
rows = []
for out in sys.argv[1:]:
    m = re.search(r"^calls (\d+) errors (\d+)", out, re.M)
    if not m:
        sys.exit("loadgen: no report:\n" + out)
    qps = float(re.search(r"^qps (\S+)", out, re.M).group(1))
    p = re.search(r"^latency_us p50 (\d+) p90 \d+ p99 (\d+)", out, re.M)
    rows.append((qps, p.group(1), p.group(2), int(m.group(2))))
rows.sort()
q, p50, p99, _ = rows[len(rows) // 2]
print(round(q), p50, p99, sum(r[3] for r in rows), ",".join(f"{r[0]:.0f}" for r in rows))
PY
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
sleep 0.5
RSS0=$(rss_kb "$PROV")
FD0=$(fds "$PROV")
read -r Q0 P50_0 P99_0 E0 ALL0 < <(load)
RSS1=$(rss_kb "$PROV")

# The holder reads a fifo the script keeps open on fd 3: closing fd 3 (or
# the script dying) ends its stdin and it lets go.
mkfifo "$WORK/hold"
BEATFLAG=-beat=true
[ "$BEAT" = 0 ] && BEATFLAG=-beat=false
"$LOADGEN" -addr "$H:$PORT" -idle "$N" "$BEATFLAG" <"$WORK/hold" >"$WORK/holder.log" 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
exec 3>"$WORK/hold"
T0=$(date +%s.%N)
for _ in $(seq 1200); do
    grep -q "^held" "$WORK/holder.log" 2>/dev/null && break
    kill -0 "$HOLDER" 2>/dev/null || break
    sleep 0.05
done
grep -q "^held $N\$" "$WORK/holder.log" || { echo "the holder failed:" >&2; cat "$WORK/holder.log" >&2; exit 1; }
OPEN_SECS=$(python3 -c "import time; print(f'{time.time() - $T0:.1f}')")
sleep 1 # let the provider's loops settle
RSS2=$(rss_kb "$PROV")
FD2=$(fds "$PROV")
HOLDER_RSS=$(rss_kb "$HOLDER")
read -r Q2 P50_2 P99_2 E2 ALL2 < <(load)
RSS3=$(rss_kb "$PROV")
exec 3>&-
wait "$HOLDER" || true
STILL=$(awk '/^still open/ {print $3}' "$WORK/holder.log")
sleep 0.5
RSS4=$(rss_kb "$PROV")
FD4=$(fds "$PROV")
read -r Q4 P50_4 P99_4 E4 ALL4 < <(load)
RSS5=$(rss_kb "$PROV")
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "$N idle connections on \`dubbo demo provider\` (default configuration, worker pool), $(nproc) cores" \
     "($(lscpu | sed -n 's/^Model name: *//p' | head -1)); loopback."
echo "Idle connections: $([ "$BEAT" = 0 ] && echo "never send anything" || echo "one heartbeat each, answered, then silent");" \
     "all $N up in ${OPEN_SECS} s; still open at the end: ${STILL:-?} of $N."
echo "Load: loadgen $SHAPE (connections x in flight each), $RUNS run(s) of ${SECS} s each, the median shown" \
     "(QPS of each, sorted: before $ALL0, with $ALL2, after $ALL4). Load average at start $LOAD0, at end $LOAD1."
echo
python3 - <<PY
n = $N
rss0, rss1, rss2, rss3, rss4 = $RSS0, $RSS1, $RSS2, $RSS3, $RSS4
q0, q2 = float("$Q0"), float("$Q2")
print("| measure | before the idle connections | with $N idle | ratio or per connection | after they closed |")
print("|---|---:|---:|---:|---:|")
print(f"| provider VmRSS (kB), before / after the load runs | {rss0:,} / {rss1:,} | {rss2:,} / {rss3:,} | {(rss2 - rss1) * 1024 / n:,.0f} bytes per connection over the RSS after the first load runs ({(rss2 - rss0) * 1024 / n:,.0f} over the RSS at start) | {rss4:,} / {$RSS5:,} |")
print(f"| provider open fds | $FD0 | $FD2 | {($FD2 - $FD0) / n:.2f} per connection | $FD4 |")
print(f"| QPS (median run) | {q0:,.0f} | {q2:,.0f} | {q2 / max(q0, 1):.2f} (after / before: {$Q4 / max(q0, 1):.2f}) | {$Q4:,.0f} |")
print(f"| p50 / p99 latency (us) | $P50_0 / $P99_0 | $P50_2 / $P99_2 | | $P50_4 / $P99_4 |")
print(f"| errors (all runs) | $E0 | $E2 | | $E4 |")
print(f"| holder (loadgen -idle) VmRSS (kB) | | {$HOLDER_RSS:,} | {$HOLDER_RSS * 1024 / n:,.0f} bytes per connection | |")
PY
