#!/usr/bin/env bash
# The nacos registry against a real Nacos server on loopback: Nacos 0.8.0's
# naming server, the newest Maven Central serves (nacos/build.sh, start.sh;
# docs/registry-nacos.md says why that version). Two demo providers register
# through nacos://, the CLI calls through the registry, one provider is
# killed with SIGKILL and leaves when Nacos expires its ephemeral instance,
# the other leaves at once on SIGTERM (it deregisters), and a namespace
# keeps its instances to itself. Then, on the same server, nacos_config_test
# (Nacos config: publish/get/remove, listening, router rules and
# configurators from it, a rule steering our consumer between two of our
# providers).
# Exit 77 (skip) only when java or mvn is missing.
# Usage: nacos_test.sh path/to/dubbo [path/to/nacos_config_test]
set -u
DUBBO=${1:?usage: nacos_test.sh path/to/dubbo [path/to/nacos_config_test]}
CONFIG_TEST=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fails=0 passes=0
ok() {
    echo "ok: $*"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

IFACE=org.apache.dubbo.demo.DemoService
PORT=$(free_port)
t0=$(now_ms)
NACOS_PID=$(bash "$HERE/nacos/start.sh" "$WORK/nacos" "$PORT")
rc=$?
[ $rc -ne 0 ] && exit $rc # 77: skip, with the reason on stderr
pids+=("$NACOS_PID")
echo "Nacos 0.8.0 (real server, not a fake) up on 127.0.0.1:$PORT in $(($(now_ms) - t0)) ms"
REG="nacos://127.0.0.1:$PORT"
API="http://127.0.0.1:$PORT/nacos/v1/ns"

export DUBBO_IP_TO_REGISTRY=127.0.0.1
provider() { # port, registry URL
    "$DUBBO" demo provider --host 127.0.0.1 --port "$1" --registry "$2" >"$WORK/provider-$1.log" 2>&1 &
    pids+=($!)
    echo $!
}
# the provider URLs `dubbo list` finds for the interface (at a port)
listed() { "$DUBBO" list "$1" "$IFACE" 2>&1 | grep -c "^  dubbo://127.0.0.1:${2:-}" || true; }
wait_listed() { # registry, count, seconds[, port] -> 0 when reached; prints the ms it took
    local start end
    start=$(now_ms)
    end=$((start + $3 * 1000))
    while [ "$(now_ms)" -lt "$end" ]; do
        if [ "$(listed "$1" "${4:-}")" = "$2" ]; then
            echo $(($(now_ms) - start))
            return 0
        fi
        sleep 0.2
    done
    return 1
}

PA=$(free_port)
PB=$(free_port)
A=$(provider "$PA" "$REG")
B=$(provider "$PB" "$REG")
if ms=$(wait_listed "$REG" 2 10); then ok "both providers registered, listed after $ms ms"; else
    bad "providers not listed: $("$DUBBO" list "$REG" "$IFACE" 2>&1)"
fi

# what Nacos holds: Java Dubbo's service name and instance metadata
body=$(curl -s --noproxy '*' "$API/instance/list?serviceName=providers:$IFACE::&groupName=DEFAULT_GROUP")
for want in '"ip":"127.0.0.1"' "\"port\":$PA" '"protocol":"dubbo"' "\"path\":\"$IFACE\"" \
    '"category":"providers"' '"side":"provider"' "\"interface\":\"$IFACE\"" '"methods":"'; do
    case "$body" in
    *"$want"*) ;;
    *) bad "instance list of providers:$IFACE:: lacks $want: $body" ;;
    esac
done
ok "Nacos holds providers:$IFACE:: with the URL's parameters as metadata"

out=$("$DUBBO" call "$REG/$IFACE" sayHello '"x"' 2>&1)
if [ "$out" = '"Hello x"' ]; then ok "call through $REG: $out"; else bad "call through $REG: $out"; fi

# SIGKILL: no deregistration; Nacos stops seeing beats and expires the
# instance (unhealthy 15 s after the last beat, sent every 5 s)
kill -9 "$A"
t0=$(now_ms)
if ms=$(wait_listed "$REG" 0 40 "$PA/"); then
    ok "killed provider gone after $ms ms (Nacos's 15 s beat timeout)"
    # 15 s after its last beat (0-5 s before the kill), found by Nacos's
    # check every 5 s, seen at the next poll: between 10 and 21 s
    [ "$ms" -le 25000 ] || bad "killed provider took $ms ms to go (want <= 25000)"
    [ "$ms" -ge 9000 ] || bad "killed provider gone after $ms ms: sooner than Nacos's beat timeout allows"
else
    bad "killed provider still listed after $(($(now_ms) - t0)) ms"
fi
out=$("$DUBBO" call "$REG/$IFACE" sayHello '"y"' 2>&1)
if [ "$out" = '"Hello y"' ]; then ok "the other provider still answers"; else bad "call after the kill: $out"; fi

# SIGTERM: graceful shutdown deregisters at once. (The killed provider's
# instance, unhealthy, is deleted 30 s after its last beat; until then
# Nacos's protection threshold, 0 by default, hands it out again as soon as
# no healthy instance is left: that is Nacos, for every client.)
kill -TERM "$B"
wait "$B" 2>/dev/null
if ms=$(wait_listed "$REG" 0 5 "$PB/"); then ok "stopped provider deregistered, gone after $ms ms"; else
    bad "stopped provider still listed"
fi

# a namespace: its instances are not in the default one's lists
NS="$REG?namespace=dubbo-c-test"
PC=$(free_port)
C=$(provider "$PC" "$NS")
if ms=$(wait_listed "$NS" 1 10 "$PC/"); then ok "provider in namespace dubbo-c-test listed after $ms ms"; else
    bad "provider in namespace not listed"
fi
[ "$(listed "$REG" "$PC/")" = 0 ] && ok "the default namespace does not see it" ||
    bad "the default namespace sees the other namespace's provider"
out=$("$DUBBO" call "$REG/$IFACE?namespace=dubbo-c-test" sayHello '"z"' 2>&1)
if [ "$out" = '"Hello z"' ]; then ok "call through the namespace"; else bad "call through the namespace: $out"; fi
kill -TERM "$C"
wait "$C" 2>/dev/null

# errors name the server, the operation and Nacos's answer
out=$("$DUBBO" list "nacos://127.0.0.1:$PORT?context-path=/nope" 2>&1)
case "$out" in
*"nacos http://127.0.0.1:$PORT/nope: service list: HTTP 404"*) ok "a refusal names server, operation and answer" ;;
*) bad "refusal message: $out" ;;
esac

# Application-level discovery through Nacos (docs/service-discovery.md):
# Java's layout, the instance as a naming instance of service <application>
# with Dubbo's instance metadata, the mapping as config <interface> in group
# "mapping"; our consumer with migration=FORCE_APPLICATION finds it through
# the mapping and MetadataService. (Java itself cannot take part: its
# nacos-client 2.x needs a 2.x server.)
PF=$(free_port)
"$DUBBO" demo provider --host 127.0.0.1 --port "$PF" --application napp \
    --registry "$REG?register-mode=instance" >"$WORK/provider-$PF.log" 2>&1 &
F=$!
pids+=("$F")
inst=""
for _ in $(seq 1 50); do
    inst=$(curl -s --noproxy '*' "$API/instance/list?serviceName=napp")
    case "$inst" in *"\"port\":$PF"*) break ;; esac
    sleep 0.2
done
case "$inst" in
*"\"port\":$PF"*dubbo.metadata.revision*|*dubbo.metadata.revision*"\"port\":$PF"*)
    ok "instance of napp registered as a Nacos naming instance with Dubbo's metadata" ;;
*) bad "instance of napp: $inst" ;;
esac
# the mapping is published after the instance: waited for too (a loaded
# CI machine once read it before it was there)
mapping=""
for _ in $(seq 1 50); do
    mapping=$(curl -s --noproxy '*' "http://127.0.0.1:$PORT/nacos/v1/cs/configs?dataId=$IFACE&group=mapping")
    case ",$mapping," in *",napp,"*) break ;; esac
    sleep 0.2
done
case ",$mapping," in *",napp,"*) ok "mapping config $IFACE (group mapping) names napp" ;;
*) bad "mapping config: $mapping" ;; esac
out=$("$DUBBO" call "$REG/$IFACE?migration=FORCE_APPLICATION" sayHello '"app"' \
    --param provided-by=napp 2>&1)
if [ "$out" = '"Hello app"' ]; then ok "FORCE_APPLICATION call through Nacos: $out"; else
    bad "FORCE_APPLICATION call through Nacos: $out"; fi
out=$("$DUBBO" call "$REG/$IFACE?migration=FORCE_APPLICATION" whoami 2>&1)
case "$out" in *":$PF\""*) ok "through the mapping alone: $out" ;;
*) bad "FORCE_APPLICATION through the mapping: $out" ;; esac
out=$("$DUBBO" list "$REG" 2>&1)
case "$out" in *"applications:"*"  napp"*"127.0.0.1:$PF  revision"*"      $IFACE:dubbo"*)
    ok "dubbo list: the application, its instance and its services" ;;
*) bad "dubbo list: $out" ;; esac
kill -TERM "$F"
wait "$F" 2>/dev/null
inst=$(curl -s --noproxy '*' "$API/instance/list?serviceName=napp")
case "$inst" in *"\"port\":$PF"*) bad "napp's instance still there after SIGTERM: $inst" ;;
*) ok "napp's instance deregistered at shutdown" ;; esac

# Nacos config: two providers of our own for the consumer the rules steer
if [ -n "$CONFIG_TEST" ]; then
    PD=$(free_port)
    PE=$(free_port)
    D=$(provider "$PD" "$REG")
    E=$(provider "$PE" "$REG")
    wait_listed "$REG" 1 10 "$PD/" >/dev/null && wait_listed "$REG" 1 10 "$PE/" >/dev/null ||
        bad "providers for the config test not listed"
    if DUBBO_NACOS=127.0.0.1:$PORT DUBBO_NACOS_P1=$PD DUBBO_NACOS_P2=$PE "$CONFIG_TEST"; then
        ok "nacos_config_test (config client, listening, rules from Nacos config)"
    else
        bad "nacos_config_test"
    fi
    kill -TERM "$D" "$E"
    wait "$D" "$E" 2>/dev/null
fi

if [ $fails -ne 0 ]; then
    echo "--- Nacos log (tail) ---"
    tail -20 "$WORK/nacos/server.log"
    for f in "$WORK"/provider-*.log; do
        echo "--- $f ---"
        tail -5 "$f"
    done
fi
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
