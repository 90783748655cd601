#!/usr/bin/env bash
# Application-level discovery through etcd (docs/service-discovery.md),
# dubbo-go's layout: run by configurator_etcd.sh, which starts a throwaway
# etcd and sets DUBBO_ETCD. Our provider with register-mode=instance puts
# /services/<app>/<host>:<port> (dubbo-go's DefaultServiceInstance JSON, on
# its lease) and /dubbo/mapping/<interface>; our consumer with
# migration=FORCE_APPLICATION finds it through the mapping and calls it;
# SIGTERM withdraws the instance.
# Usage: discovery_etcd_test.sh path/to/dubbo
set -u
DUBBO=${1:?usage: discovery_etcd_test.sh path/to/dubbo}
: "${DUBBO_ETCD:?run by configurator_etcd.sh}"
WORK=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
IFACE=org.apache.dubbo.demo.DemoService
REG="etcd://$DUBBO_ETCD"
export ETCDCTL_API=3
get() { etcdctl --endpoints "http://$DUBBO_ETCD" get "$@" 2>&1; }
fails=0 passes=0
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$DUBBO" demo provider --host 127.0.0.1 --port "$PORT" --application eapp \
    --registry "$REG?register-mode=instance" >"$WORK/provider.log" 2>&1 &
PID=$!
inst=""
for _ in $(seq 1 50); do
    inst=$(get --print-value-only "/services/eapp/127.0.0.1:$PORT")
    [ -n "$inst" ] && break
    sleep 0.1
done
case "$inst" in
*'"ServiceName":"eapp"'*'"Host":"127.0.0.1"'*dubbo.metadata.revision*)
    ok "instance at /services/eapp/127.0.0.1:$PORT in dubbo-go's form" ;;
*) bad "instance: $inst" ;;
esac
lease=$(get -w json "/services/eapp/127.0.0.1:$PORT" | grep -o '"lease":[0-9]*')
[ -n "$lease" ] && ok "the instance hangs on the registry's lease ($lease)" ||
    bad "no lease on the instance key"
mapping=$(get --print-value-only "/dubbo/mapping/$IFACE")
case ",$mapping," in *",eapp,"*) ok "/dubbo/mapping/$IFACE names eapp" ;;
*) bad "mapping: $mapping" ;; esac
out=$("$DUBBO" call "$REG/$IFACE?migration=FORCE_APPLICATION" sayHello '"etcd"' 2>&1)
[ "$out" = '"Hello etcd"' ] && ok "FORCE_APPLICATION call through etcd: $out" ||
    bad "FORCE_APPLICATION call: $out"
out=$("$DUBBO" list "$REG" 2>&1)
case "$out" in *"applications:"*"  eapp"*"127.0.0.1:$PORT  revision"*"      $IFACE:dubbo"*)
    ok "dubbo list: the application, its instance and its services" ;;
*) bad "dubbo list: $out" ;; esac
out=$("$DUBBO" call "$REG/$IFACE" sayHello '"x"' 2>&1)
case "$out" in *"No provider available"*) ok "FORCE_INTERFACE finds no interface-level provider" ;;
*) bad "FORCE_INTERFACE: $out" ;; esac
kill -TERM "$PID"
wait "$PID" 2>/dev/null
PID=""
left=$(get --print-value-only "/services/eapp/127.0.0.1:$PORT")
[ -z "$left" ] && ok "SIGTERM withdraws the instance" || bad "instance left: $left"
if [ $fails -ne 0 ]; then tail -20 "$WORK/provider.log"; fi
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
