#!/usr/bin/env bash
# The embedded registry across real processes: providers started with no
# --registry find their way to a consumer that names only the registry;
# SIGTERM withdraws a provider at once, kill -9 within a second.
# Usage: registry_file_test.sh path/to/dubbo
set -u
DUBBO=${1:?usage: registry_file_test.sh path/to/dubbo}
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
export DUBBO_REGISTRY="file://$WORK/registry" # the default, isolated for this test
PIDS=()
pass=0 fail=0
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

start() {
    "$DUBBO" demo provider --host 127.0.0.1 --port 0 >"$WORK/$1.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 200); do grep -q "listening on" "$WORK/$1.log" && break; sleep 0.02; done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$WORK/$1.log")
    [ -n "$PORT" ] || { cat "$WORK/$1.log"; bad "provider $1 did not start"; exit 1; }
}

start a
PA=$PORT PIDA=$PID
start b
PB=$PORT PIDB=$PID
grep -q "^registry $DUBBO_REGISTRY\$" "$WORK/a.log" && ok "a provider with no --registry uses the default ($DUBBO_REGISTRY)" || bad "default registry: $(cat "$WORK/a.log")"

REG="$DUBBO_REGISTRY/$IFACE"
out=$("$DUBBO" call "$REG" whoami --count 10 --param loadbalance=roundrobin 2>&1)
if [ "$(grep -c "127.0.0.1:$PA\"" <<<"$out")" = 5 ] && [ "$(grep -c "127.0.0.1:$PB\"" <<<"$out")" = 5 ]; then
    ok "a consumer naming only the registry finds both providers (5/5)"
else
    bad "registry call: $out"
fi
n=$("$DUBBO" list "$DUBBO_REGISTRY" "$IFACE" | grep -c "^  dubbo://")
[ "$n" = 2 ] && ok "dubbo list shows the 2 providers" || bad "dubbo list: $n"

kill -TERM "$PIDA"
wait "$PIDA" 2>/dev/null
n=$("$DUBBO" list "$DUBBO_REGISTRY" "$IFACE" | grep -c "^  dubbo://")
[ "$n" = 1 ] && ok "SIGTERM: the provider is withdrawn at once" || bad "after SIGTERM: $n providers listed"

start c
PC=$PORT
kill -9 "$PIDB"
sleep 1
out=$("$DUBBO" call "$REG" whoami --count 6 2>&1)
if [ "$(grep -c "127.0.0.1:$PC\"" <<<"$out")" = 6 ]; then
    ok "kill -9: within 1 s only the live provider is served"
else
    bad "after kill -9: $out"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
