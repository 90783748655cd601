#!/usr/bin/env bash
# Run the fault-injection scenarios by hand against the release build
# (docs/fault-injection.md).
#   tests/fault/run.sh                 the short versions (what ctest runs)
#   tests/fault/run.sh --long          the long versions (10 runs each, ~30 min)
#   tests/fault/run.sh [--long] NAME...  only these (kill9_failover, sigterm_under_load,
#                                      zookeeper_pause, etcd_pause, nacos_pause, hostile_clients,
#                                      partition, slow_provider)
# Options after -- go to every scenario (e.g. -- --keep, -- --runs 3).
# Environment: DUBBO (default build/release/tools/dubbo; built if missing).
# Each scenario's output goes to the terminal and to build/fault-logs/NAME.log.
# Exit status: 0 when every scenario passed or was skipped, 1 otherwise.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUBBO=${DUBBO:-$ROOT/build/release/tools/dubbo}
ALL=(kill9_failover sigterm_under_load zookeeper_pause etcd_pause nacos_pause hostile_clients partition
    slow_provider)

long=()
names=()
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --long) long=(--long) ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) names+=("$1") ;;
    esac
    shift
done
[ ${#names[@]} -eq 0 ] && names=("${ALL[@]}")

if [ ! -x "$DUBBO" ]; then
    echo "run.sh: building $DUBBO"
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null &&
        cmake --build build/release -j"$(nproc)" --target dubbo_cli >/dev/null || exit 1
fi
mkdir -p build/fault-logs
declare -A verdict
status=0
for n in "${names[@]}"; do
    if [ ! -f "tests/fault/$n.py" ]; then
        echo "run.sh: no scenario $n (have: ${ALL[*]})" >&2
        exit 2
    fi
    echo "==== $n ${long[*]}"
    start=$(date +%s)
    python3 "tests/fault/$n.py" --dubbo "$DUBBO" \
        --zkserver "$ROOT/tests/integration/zk/zkserver.sh" "${long[@]}" "${extra[@]}" 2>&1 |
        tee "build/fault-logs/$n.log"
    rc=${PIPESTATUS[0]}
    secs=$(($(date +%s) - start))
    case $rc in
    0) verdict[$n]="PASS (${secs} s)" ;;
    77) verdict[$n]="SKIP (${secs} s)" ;;
    *) verdict[$n]="FAIL, exit $rc (${secs} s)"; status=1 ;;
    esac
done
echo "==== summary"
for n in "${names[@]}"; do printf '  %-20s %s\n' "$n" "${verdict[$n]}"; done
exit $status
