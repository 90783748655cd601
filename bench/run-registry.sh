#!/usr/bin/env bash
# Registry benchmark: how fast registrations reach the ones following them,
# through file:// (a temp dir on tmpfs, where the default registry usually
# lives, and one on the disk), zookeeper:// (a real ZooKeeper 3.8 this script
# starts) and etcd:// (a real etcd 3.4 this script starts), all on loopback.
# Runs bench/registry_bench.c for each and prints the tables:
#   1. one provider URL registered / unregistered, until one subscriber
#      (a registry instance of its own) sees it: min, median, p99, max;
#   2. 1,000 provider URLs through 1 and 10 registry instances: the reg
#      calls, until the subscriber has them all / none, and how many lists
#      it got on the way;
#   3. the same 1,000 followed by a reference (dubbo_reference_new on
#      "<registry>/<interface>"): until its directory holds them all / none.
# Tables 2 and 3 give the median of BENCH_REPEAT runs (default 3).
#
#   bench/run-registry.sh                          # ~45 s after the build
#   BENCH_ROUNDS=50 BENCH_PROVIDERS=500 BENCH_INSTANCES=1,4 BENCH_REPEAT=1 bench/run-registry.sh
#   BENCH_REGISTRIES="file zookeeper" bench/run-registry.sh   # a subset
#
# Needs scripts/setup.sh to have run (java + Debian's zookeeper for ZK,
# etcd + etcdctl for etcd); a registry whose server is missing is skipped.
# Builds into build/bench (Release; BENCH_BUILD overrides). The servers and
# temp dirs are removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_BUILD:-build/bench}
ROUNDS=${BENCH_ROUNDS:-100}
PROVIDERS=${BENCH_PROVIDERS:-1000}
INSTANCES=${BENCH_INSTANCES:-1,10}
REPEAT=${BENCH_REPEAT:-3}
REGISTRIES=${BENCH_REGISTRIES:-file zookeeper etcd}
BIN="$OUT/bench/registry_bench"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

TMP=$(mktemp -d /tmp/dubbo-regbench.XXXXXX)
SHM=""
ETCD_PID=""
ZK_STARTED=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$ETCD_PID" ]; then
        kill "$ETCD_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$ETCD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$ETCD_PID" 2>/dev/null || true
        wait "$ETCD_PID" 2>/dev/null || true
    fi
    if [ -n "$ZK_STARTED" ]; then tests/integration/zk/zkserver.sh stop "$TMP/zk" || true; fi
    if [ -n "$SHM" ]; then rm -rf "$SHM"; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "== building (Release, $OUT)" >&2
cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build "$OUT" -j"$(nproc)" --target registry_bench >/dev/null

# URL LABEL pairs, in the order they are run
targets=()
for reg in $REGISTRIES; do
    case $reg in
    file)
        if [ -d /dev/shm ] && [ -w /dev/shm ]; then
            SHM=$(mktemp -d /dev/shm/dubbo-regbench.XXXXXX)
            targets+=("file://$SHM" "file-tmpfs")
        fi
        mkdir -p "$TMP/file"
        targets+=("file://$TMP/file" "file-disk")
        ;;
    zookeeper)
        echo "== starting ZooKeeper" >&2
        set +e
        zkport=$(tests/integration/zk/zkserver.sh start "$TMP/zk")
        zrc=$?
        set -e
        if [ $zrc -eq 0 ]; then
            ZK_STARTED=1
            echo "   ZooKeeper on 127.0.0.1:$zkport" >&2
            targets+=("zookeeper://127.0.0.1:$zkport" "zookeeper")
        else
            ZK_STARTED=1 # whatever it left behind is stopped on exit
            echo "SKIP zookeeper: no server (zkserver.sh exit $zrc)" >&2
        fi
        ;;
    etcd)
        if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
            echo "SKIP etcd: etcd or etcdctl not on PATH (apt-get install etcd-server etcd-client)" >&2
            continue
        fi
        echo "== starting etcd" >&2
        mkdir -m 700 "$TMP/etcd"
        ec=$(free_port)
        ep=$(free_port)
        em=$(free_port)
        while [ "$ep" = "$ec" ]; do ep=$(free_port); done
        while [ "$em" = "$ec" ] || [ "$em" = "$ep" ]; do em=$(free_port); done
        etcd --name default --data-dir "$TMP/etcd/data" \
            --listen-client-urls "http://127.0.0.1:$ec" --advertise-client-urls "http://127.0.0.1:$ec" \
            --listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
            --initial-cluster "default=http://127.0.0.1:$ep" --listen-metrics-urls "http://127.0.0.1:$em" \
            >"$TMP/etcd.log" 2>&1 </dev/null &
        ETCD_PID=$!
        up=""
        for _ in $(seq 150); do
            if ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$ec" --command-timeout=1s \
                endpoint health >/dev/null 2>&1; then
                up=1
                break
            fi
            kill -0 "$ETCD_PID" 2>/dev/null || break
            sleep 0.1
        done
        if [ -n "$up" ]; then
            echo "   etcd on 127.0.0.1:$ec" >&2
            targets+=("etcd://127.0.0.1:$ec" "etcd")
        else
            echo "SKIP etcd: it did not come up; its log:" >&2
            tail -5 "$TMP/etcd.log" >&2
        fi
        ;;
    *)
        echo "unknown registry \"$reg\" (file, zookeeper, etcd)" >&2
        exit 2
        ;;
    esac
done

RES="$OUT/registry-results.txt"
: >"$RES"
failed=""
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    url=${targets[i]}
    label=${targets[i + 1]}
    for run in lat $(seq "$REPEAT"); do
        if [ "$run" = lat ]; then
            echo "== $label ($url): one provider, $ROUNDS rounds" >&2
            args=(-p lat -n "$ROUNDS")
        else
            echo "== $label: $PROVIDERS providers, run $run of $REPEAT" >&2
            args=(-p "scale,ref" -N "$PROVIDERS" -P "$INSTANCES")
        fi
        if ! DUBBO_LOG=warn "$BIN" "$url" -l "$label" "${args[@]}" -t 60 | tee -a "$RES" |
            grep -v '^RESULT' >&2; then
            failed="$failed $label"
        fi
    done
done

echo
echo "1. One provider URL, one subscriber (ms; $ROUNDS rounds, p99 by nearest rank)"
awk '$1 == "RESULT" && $2 == "lat" {
       k = $3 SUBSEP $4; v[k] = sprintf("%8s %8s %8s %8s", $5, $6, $7, $8)
       if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 }
     }
     END {
       printf "%-12s %-36s %8s %8s %8s %8s\n", "registry", "", "min", "median", "p99", "max"
       split("add del reg unreg", ws, " ")
       split("reg -> subscriber has it|unreg -> subscriber has it no more|reg call alone|unreg call alone", ls, "|")
       for (i = 1; i <= n; i++)
         for (w = 1; w <= 4; w++)
           if ((order[i] SUBSEP ws[w]) in v)
             printf "%-12s %-36s %s\n", order[i], ls[w], v[order[i] SUBSEP ws[w]]
     }' "$RES"
echo
# the median of the runs, column by column
medians() { # $1: scale or ref
    awk -v kind="$1" '
      function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++)
          for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return a[int((n + 1) / 2)]
      }
      $1 == "RESULT" && $2 == kind {
        k = $3 " " $4
        if (!(k in seen)) { seen[k] = 1; order[++n] = k }
        for (c = 6; c <= NF; c++) v[k, c] = v[k, c] " " $c
        runs[k]++
      }
      END {
        for (i = 1; i <= n; i++) {
          k = order[i]; line = k
          for (c = 6; (k, c) in v; c++) line = line " " median(v[k, c])
          print line, runs[k]
        }
      }' "$RES"
}
echo "2. $PROVIDERS provider URLs, one subscriber (ms, median of $REPEAT runs per column;"
echo "   lists = providers lists the subscriber got)"
printf "%-12s %9s %10s %12s %6s %11s %12s %6s\n" registry instances "reg calls" "sub has all" \
    lists "unreg calls" "sub has none" lists
medians scale | while read -r label inst reg full notes unreg empty enotes _; do
    printf "%-12s %9s %10s %12s %6s %11s %12s %6s\n" "$label" "$inst" "$reg" "$full" "$notes" \
        "$unreg" "$empty" "$enotes"
done
echo
echo "3. $PROVIDERS provider URLs, a reference following them (ms, median of $REPEAT runs per"
echo "   column; its directory polled every 1 ms)"
printf "%-12s %9s %10s %12s %11s %12s\n" registry instances "reg calls" "dir has all" \
    "unreg calls" "dir empty"
medians ref | while read -r label inst reg full unreg empty _; do
    printf "%-12s %9s %10s %12s %11s %12s\n" "$label" "$inst" "$reg" "$full" "$unreg" "$empty"
done
echo
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc). Raw: $RES"
if [ -n "$failed" ]; then
    echo "FAILED:$failed (see the messages above)"
    exit 1
fi
