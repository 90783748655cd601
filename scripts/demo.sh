#!/usr/bin/env bash
# The main job: install what is missing, build dubbo-c (release), start the
# demo provider (org.apache.dubbo.demo.DemoService over the Dubbo protocol),
# call every method with the dubbo CLI, and stop the provider gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
DUBBO=build/release/tools/dubbo
PORT=${DUBBO_DEMO_PORT:-20880}
URL=dubbo://127.0.0.1:$PORT/org.apache.dubbo.demo.DemoService

log=$(mktemp)
$DUBBO demo provider --host 127.0.0.1 --port "$PORT" >"$log" 2>&1 &
provider=$!
trap 'kill $provider 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
grep "listening on" "$log" || { cat "$log"; exit 1; }

run() { echo "+ dubbo $*"; "$DUBBO" "$@"; }
run call "$URL" sayHello '"world"'
run call "$URL" whoami
run call "$URL" echo '{"$class":"com.example.User","$":{"name":"Ann","age":42,"tags":["a","b"]}}' \
  --types 'Ljava/lang/Object;'
run call "$URL" echo '{"$class":"[int","$":[1,2,3]}' --types 'Ljava/lang/Object;'
run call "$URL" sleep 100
run call "$URL" fail '"on purpose"' || echo "(exit $?: the exception above is what fail() does)"
run call "$URL" sleep 500 --timeout 200 || echo "(exit $?: the timeout above is on purpose)"
run bench "$URL" sayHello '"bench"' --concurrency 16 --duration 2

# Hessian 2 as Java writes it, and back:
run hessian2 encode --hex '{"$class":"long","$":5}'
run hessian2 decode --hex '7304 5b696e74 91 92 93'

echo "+ kill -TERM provider (graceful shutdown)"
kill -TERM $provider
wait $provider
cat "$log"
trap 'rm -f "$log"' EXIT
