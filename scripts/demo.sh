#!/usr/bin/env bash
# The main job: install what is missing, build dubbo-c (release), start two
# demo providers (org.apache.dubbo.demo.DemoService over the Dubbo protocol,
# and Triple and REST on the same port) that announce themselves in the embedded
# registry, call every method with the dubbo CLI through the registry and
# directly, call helloworld.Greeter and DemoService over Triple (the CLI's
# tri:// consumer: JSON through the server's gRPC reflection), and stop the
# providers gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo >/dev/null
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
DUBBO=build/release/tools/dubbo
PORT=${DUBBO_DEMO_PORT:-20880}
URL=dubbo://127.0.0.1:$PORT/org.apache.dubbo.demo.DemoService

# A private embedded registry for the demo (the default is per machine).
work=$(mktemp -d)
export DUBBO_REGISTRY="file://$work/registry"
log=$work/provider.log
log2=$work/provider2.log
$DUBBO demo provider --host 127.0.0.1 --port "$PORT" --protocol dubbo,tri,rest >"$log" 2>&1 &
provider=$!
$DUBBO demo provider --host 127.0.0.1 --port 0 >"$log2" 2>&1 &
provider2=$!
trap 'kill $provider $provider2 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && grep -q "listening on" "$log2" && break; sleep 0.05; done
grep "listening on" "$log" "$log2" || { cat "$log" "$log2"; exit 1; }
REG="$DUBBO_REGISTRY/org.apache.dubbo.demo.DemoService"

run() { echo "+ dubbo $*"; "$DUBBO" "$@"; }
# What the embedded registry holds, and calls found through it (both providers):
run list "$DUBBO_REGISTRY"
run call "$REG" whoami --count 4 --param loadbalance=roundrobin
run call "$REG" sayHello '"registry"'
# Direct calls to one provider:
run call "$URL" sayHello '"world"'
run call "$URL" whoami
run call "$URL" echo '{"$class":"com.example.User","$":{"name":"Ann","age":42,"tags":["a","b"]}}' \
  --types 'Ljava/lang/Object;'
run call "$URL" echo '{"$class":"[int","$":[1,2,3]}' --types 'Ljava/lang/Object;'
run call "$URL" sleep 100
run call "$URL" fail '"on purpose"' || echo "(exit $?: the exception above is what fail() does)"
run call "$URL" sleep 500 --timeout 200 || echo "(exit $?: the timeout above is on purpose)"
run bench "$URL" sayHello '"bench"' --concurrency 16 --duration 2

# Triple (gRPC over HTTP/2) on the same port: an IDL service from JSON (its
# schema from the server's gRPC reflection), a server stream (a line a
# message), a client stream (JSON lines on stdin), and the Java interface
# service in Java's wrapper mode.
TRI=tri://127.0.0.1:$PORT
run call "$TRI/helloworld.Greeter" SayHello '{"name":"triple"}'
run call "$TRI/helloworld.Greeter" SayHelloStream '{"name":"stream"}'
echo '+ printf ... | dubbo call '"$TRI"'/grpc.testing.TestService StreamingInputCall'
printf '{"payload":{"body":"AAAA"}}\n{"payload":{"body":"AAAAAAAA"}}\n' |
  "$DUBBO" call "$TRI/grpc.testing.TestService" StreamingInputCall
run call "$TRI/org.apache.dubbo.demo.DemoService" sayHello '"triple"'
run bench "$TRI/helloworld.Greeter" SayHello '{"name":"bench"}' --concurrency 16 --duration 2

# REST (HTTP/1.1) on the same port: the demo's mapping of DemoService with
# curl (path, query, JSON body, form, an error), Triple's HTTP/1 JSON form,
# and the REST consumer through the cluster layer.
H=http://127.0.0.1:$PORT
rcurl() { echo "+ curl $*"; curl -s -w ' (HTTP %{http_code})\n' "$@"; }
rcurl "$H/demo/hello/rest"
rcurl "$H/demo/hello?name=query"
rcurl -H 'Content-Type: application/json' -d '{"name":"Ann","age":42}' "$H/demo/echo"
rcurl -d 'ms=50' "$H/demo/sleep"
rcurl -H 'Content-Type: text/plain' -d 'on purpose' "$H/demo/fail"
rcurl -H 'Content-Type: application/json' -d '["triple over HTTP/1"]' \
  "$H/org.apache.dubbo.demo.DemoService/sayHello"
run call "rest://127.0.0.1:$PORT/org.apache.dubbo.demo.DemoService" sayHello '"rest consumer"'
echo "(the demo page: $H/ ; the OpenAPI document: $H/openapi.json)"

# Hessian 2 as Java writes it, and back:
run hessian2 encode --hex '{"$class":"long","$":5}'
run hessian2 decode --hex '7304 5b696e74 91 92 93'

echo "+ kill -TERM providers (graceful shutdown: unregister, readonly, drain)"
kill -TERM $provider $provider2
wait $provider $provider2
cat "$log"
run list "$DUBBO_REGISTRY" org.apache.dubbo.demo.DemoService
trap 'rm -rf "$work"' EXIT
