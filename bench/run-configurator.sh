#!/usr/bin/env bash
# Configurator benchmark: the time from writing a rule into the registry to
# a consumer's directory applying it (goal: within 100 ms), on ZooKeeper
# and on etcd, each started here on loopback. A service rule
# (/dubbo/config/dubbo/<iface>::.configurators) alternates a provider's
# weight between 200 and 300 BENCH_RULES times (default 200); each write
# is timed until the directory's invoker carries the new weight (polled
# every 1 ms, so the numbers are up to ~1 ms high). Prints p50/p90/p99/max.
#
#   bench/run-configurator.sh                     # both registries
#   BENCH_RULES=1000 BENCH_REGISTRIES=etcd bench/run-configurator.sh
#
# Builds tests/integration/configurator_registry_test.c into build/bench-conf
# (Release; BENCH_BUILD overrides). Needs ZooKeeper (java + Debian's
# zookeeper) and etcd (etcd-server) as scripts/setup.sh installs them; a
# registry whose server is missing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_BUILD:-build/bench-conf}
RULES=${BENCH_RULES:-200}
REGISTRIES=${BENCH_REGISTRIES:-zookeeper etcd}

cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_BENCH=OFF >/dev/null
cmake --build "$OUT" -j"$(nproc)" --target configurator_registry_test >/dev/null
BIN="$OUT/tests/integration/configurator_registry_test"
export DUBBO_CONF_BENCH=$RULES DUBBO_LOG=${DUBBO_LOG:-warn}
for reg in $REGISTRIES; do
    case $reg in
    zookeeper) script=tests/integration/zookeeper_test.sh ;;
    etcd) script=tests/integration/configurator_etcd.sh ;;
    *)
        echo "unknown registry \"$reg\" (zookeeper, etcd)" >&2
        exit 2
        ;;
    esac
    echo "== $reg"
    rc=0
    "$script" "$BIN" latency | grep -E "rule write|passed|SKIP|up on" || rc=$?
    [ "$rc" -le 1 ] || exit "$rc"
done
