#!/usr/bin/env bash
# The cluster layer against real providers on loopback: three `dubbo demo
# provider` processes and `dubbo call` with several direct URLs.
#   round robin spreads 30 calls 10/10/10; failover survives a provider
#   killed -9 mid-run with zero failed calls; failfast surfaces the failure;
#   token and executes limits are enforced; a condition rule pins whoami to
#   one provider; a tag reaches only the tagged provider.
# Usage: cluster_test.sh path/to/dubbo
set -u
DUBBO=${1:?usage: cluster_test.sh path/to/dubbo}
IFACE=org.apache.dubbo.demo.DemoService
WORK=$(mktemp -d)
PIDS=()
pass=0
fail=0
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# start NAME [--param k=v ...]: starts a provider on a free port; sets PORT and PID
start() {
    local name=$1
    shift
    "$DUBBO" demo provider --host 127.0.0.1 --port 0 "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 200); do
        if grep -q "listening on" "$WORK/$name.log"; then break; fi
        sleep 0.02
    done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$WORK/$name.log")
    if [ -z "$PORT" ]; then
        cat "$WORK/$name.log"
        bad "provider $name did not start"
        exit 1
    fi
}

url() { echo "dubbo://127.0.0.1:$1/$IFACE${2:+?$2}"; }

start p1
P1=$PORT PID1=$PID
start p2
P2=$PORT PID2=$PID
start p3
P3=$PORT PID3=$PID
ALL="$(url "$P1");$(url "$P2");$(url "$P3")"

# ---- round robin: 30 calls spread 10/10/10 --------------------------------------------
out=$("$DUBBO" call "$ALL" whoami --count 30 --param loadbalance=roundrobin 2>&1)
c1=$(grep -c "127.0.0.1:$P1\"" <<<"$out")
c2=$(grep -c "127.0.0.1:$P2\"" <<<"$out")
c3=$(grep -c "127.0.0.1:$P3\"" <<<"$out")
if [ "$c1 $c2 $c3" = "10 10 10" ]; then ok "roundrobin spreads 30 calls 10/10/10"; else bad "roundrobin: $c1/$c2/$c3: $out"; fi

# ---- random still reaches everyone -----------------------------------------------------
out=$("$DUBBO" call "$ALL" whoami --count 60 2>&1)
n=$(sort -u <<<"$out" | grep -c 127.0.0.1)
if [ "$n" = 3 ]; then ok "random (default) reaches all three providers"; else bad "random reached $n: $out"; fi

# ---- condition rule: method = whoami => port = P2 ---------------------------------------
rule="configVersion: v3.0
scope: service
key: $IFACE
force: true
enabled: true
conditions:
  - method = whoami => port = $P2"
out=$("$DUBBO" call "$ALL" whoami --count 12 --rule "condition=$rule" 2>&1)
if [ "$(grep -c "127.0.0.1:$P2\"" <<<"$out")" = 12 ]; then ok "condition rule sends every whoami to $P2"; else bad "condition rule: $out"; fi
out=$("$DUBBO" call "$ALL" sayHello '"x"' --count 3 --rule "condition=$rule" 2>&1)
if [ "$(grep -c '"Hello x"' <<<"$out")" = 3 ]; then ok "condition rule leaves other methods alone"; else bad "condition rule, sayHello: $out"; fi

# ---- tag: only the tagged provider; untagged calls avoid it -------------------------------
start tagged --param dubbo.tag=gray
PT=$PORT
TAGGED="$(url "$PT" dubbo.tag=gray);$(url "$P1");$(url "$P3")"
out=$("$DUBBO" call "$TAGGED" whoami --count 10 --attachment dubbo.tag=gray 2>&1)
if [ "$(grep -c "127.0.0.1:$PT\"" <<<"$out")" = 10 ]; then ok "tag gray reaches only the gray provider"; else bad "tag: $out"; fi
out=$("$DUBBO" call "$TAGGED" whoami --count 20 2>&1)
if [ "$(grep -c "127.0.0.1:$PT\"" <<<"$out")" = 0 ] && [ "$(grep -c 127.0.0.1 <<<"$out")" = 20 ]; then
    ok "untagged calls never reach the gray provider"
else
    bad "untagged: $out"
fi

# ---- token ---------------------------------------------------------------------------------
start token --param token=s3cret
PK=$PORT
if "$DUBBO" call "$(url "$PK")" sayHello '"x"' >"$WORK/tok.out" 2>"$WORK/tok.err"; then
    bad "a call without the token was served"
elif grep -qi "token" "$WORK/tok.err"; then
    ok "token: a call without it is refused ($(head -c 120 "$WORK/tok.err"))"
else
    bad "token: refused without naming the token: $(cat "$WORK/tok.err")"
fi
if out=$("$DUBBO" call "$(url "$PK")" sayHello '"x"' --param token=s3cret 2>&1) && [ "$out" = '"Hello x"' ]; then
    ok "token: a call with it is served"
else
    bad "token: with the token: $out"
fi

# ---- executes: one at a time per method on the provider -------------------------------------
start exec --param executes=1
PE=$PORT
"$DUBBO" call "$(url "$PE")" sleep 800 --timeout 3000 >"$WORK/e1.out" 2>&1 &
e1=$!
sleep 0.2
if "$DUBBO" call "$(url "$PE")" sleep 10 --timeout 3000 --param cluster=failfast >"$WORK/e2.out" 2>&1; then
    bad "executes=1: a second concurrent call was served"
elif grep -q "limit" "$WORK/e2.out"; then
    ok "executes=1: the second concurrent call is refused ($(head -c 100 "$WORK/e2.out"))"
else
    bad "executes=1: refused without naming the limit: $(cat "$WORK/e2.out")"
fi
wait $e1 && ok "executes=1: the first call completes" || bad "executes: first call: $(cat "$WORK/e1.out")"

# ---- failfast: a dead provider's failure surfaces at once -------------------------------------
start ff1
F1=$PORT FPID1=$PID
start ff2
F2=$PORT
kill -9 "$FPID1"
sleep 0.2
start=$(date +%s%N)
if "$DUBBO" call "$(url "$F1");$(url "$F2")" whoami --count 20 --param cluster=failfast \
    --param loadbalance=roundrobin >"$WORK/ff.out" 2>&1; then
    bad "failfast: 20 calls over a dead provider all succeeded"
else
    ms=$((($(date +%s%N) - start) / 1000000))
    ok "failfast: the dead provider's failure surfaces (exit 1 after ${ms} ms: $(tail -1 "$WORK/ff.out" | head -c 100))"
fi

# ---- failover: kill -9 one provider during a run, zero failed calls ----------------------------
"$DUBBO" call "$ALL" sleep 30 --count 90 --param cluster=failover --param loadbalance=roundrobin \
    --timeout 2000 >"$WORK/fo.out" 2>&1 &
run=$!
sleep 1
kill -9 "$PID2"
if wait $run; then
    n=$(grep -c '^null$' "$WORK/fo.out")
    if [ "$n" = 90 ]; then ok "failover: provider killed -9 mid-run, 90/90 calls succeeded"; else bad "failover: $n/90: $(cat "$WORK/fo.out")"; fi
else
    bad "failover: calls failed after kill -9: $(tail -3 "$WORK/fo.out")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
