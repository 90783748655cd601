#!/usr/bin/env bash
# Real processes: `dubbo demo provider` in the background and `dubbo call`
# against it. Every demo method; a provider killed with SIGKILL under a call
# (the call fails fast, not at its timeout); a restart on the same port; and
# SIGTERM with a call in flight (the call succeeds, the provider says
# "stopped" and exits 0).
# Usage: tests/unit/rpc_process_test.sh path/to/dubbo
set -u
DUBBO=${1:?usage: rpc_process_test.sh path/to/dubbo}
tmp=$(mktemp -d)
provider_pid=
bg_pids=()

# Kill only what this script started.
cleanup() {
  for p in ${provider_pid:+"$provider_pid"} "${bg_pids[@]}"; do
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_provider PORT: start it, wait for "listening on", set $port and $url.
start_provider() {
  local n=$((${n_started:-0} + 1))
  n_started=$n
  out="$tmp/provider$n.out"
  err="$tmp/provider$n.err"
  "$DUBBO" demo provider --host 127.0.0.1 --port "$1" >"$out" 2>"$err" &
  provider_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^listening on ' "$out" 2>/dev/null && break
    if ! kill -0 "$provider_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! grep -q '^listening on ' "$out"; then
    echo "provider did not start:"
    cat "$out" "$err"
    exit 1
  fi
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$out")
  url="dubbo://127.0.0.1:$port/org.apache.dubbo.demo.DemoService"
}

# expect NAME STATUS EXPECTED_STDOUT STDERR_SUBSTRING -- dubbo ARGS...
expect() {
  local name=$1 status=$2 want_out=$3 want_err=$4
  shift 5
  local rc=0
  "$DUBBO" "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
  local got
  got=$(cat "$tmp/out")
  if [ "$rc" = "$status" ] && { [ "$want_out" = "*" ] || [ "$got" = "$want_out" ]; } &&
    { [ -z "$want_err" ] || grep -qF -- "$want_err" "$tmp/err"; }; then
    pass
  else
    fail "$name: exit $rc (want $status)"
    echo "  stdout: $got"
    [ "$want_out" = "*" ] || echo "  want:   $want_out"
    echo "  stderr: $(cat "$tmp/err")"
    [ -z "$want_err" ] || echo "  want stderr to contain: $want_err"
  fi
}

# ---- every demo method ------------------------------------------------------
start_provider 0
first_port=$port
# shellcheck disable=SC2016 # typed JSON, not shell expansions
user='{"$class":"com.example.User","$":{"name":"Ann","age":42}}'
expect sayHello 0 '"Hello world"' "" -- call "$url" sayHello '"world"'
expect echo_object 0 "$user" "" -- call "$url" echo "$user" --types 'Ljava/lang/Object;'
expect echo_list 0 '[1,"two",null]' "" -- call "$url" echo '[1,"two",null]' --types 'Ljava/lang/Object;'
expect whoami 0 "\"127.0.0.1:$port\"" "" -- call "$url" whoami
expect sleep 0 'null' "" -- call "$url" sleep 100
expect fail 1 "" "bad thing" -- call "$url" fail '"bad thing"'
grep -qF 'java.lang.IllegalStateException' "$tmp/err" || fail "fail: exception class on stderr"
expect no_method 1 "" "nope" -- call "$url" nope
expect no_service 1 "" "org.example.Missing" -- \
  call "dubbo://127.0.0.1:$port/org.example.Missing" sayHello '"x"'
expect count 0 $'"Hello x"\n"Hello x"\n"Hello x"' "" -- call "$url" sayHello '"x"' --count 3
expect async 0 '"Hello a"' "" -- call "$url" sayHello '"a"' --async
expect oneway 0 '' "" -- call "$url" sayHello '"o"' --oneway
t0=$(now_ms)
expect timeout 1 "" "timed out" -- call "$url" sleep 1000 --timeout 200
t=$(($(now_ms) - t0))
[ "$t" -lt 900 ] || fail "timeout: took $t ms"

# ---- SIGKILL under a call: it fails fast with "connection lost" ---------------
"$DUBBO" call "$url" sleep 2000 --timeout 5000 >"$tmp/kill.out" 2>"$tmp/kill.err" &
call_pid=$!
bg_pids+=("$call_pid")
sleep 0.5
t0=$(now_ms)
kill -9 "$provider_pid"
wait "$provider_pid" 2>/dev/null
provider_pid=
rc=0
wait "$call_pid" || rc=$?
t=$(($(now_ms) - t0))
if [ "$rc" = 1 ] && [ "$t" -lt 2000 ] && grep -qi 'lost\|closed' "$tmp/kill.err" &&
  grep -qF "127.0.0.1:$first_port" "$tmp/kill.err"; then
  pass
else
  fail "kill -9: call exit $rc after $t ms; stderr: $(cat "$tmp/kill.err")"
fi
expect refused 1 "" "127.0.0.1:$first_port" -- call "$url" whoami

# ---- restart on the same port --------------------------------------------------
start_provider "$first_port"
[ "$port" = "$first_port" ] || fail "restart: port $port, want $first_port"
expect restart_count 0 $'"Hello r"\n"Hello r"\n"Hello r"' "" -- call "$url" sayHello '"r"' --count 3

# ---- SIGTERM with a call in flight: the call succeeds, the provider stops ------
"$DUBBO" call "$url" sleep 1000 --timeout 5000 >"$tmp/term.out" 2>"$tmp/term.err" &
call_pid=$!
bg_pids+=("$call_pid")
sleep 0.3
kill -TERM "$provider_pid"
rc=0
wait "$call_pid" || rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$tmp/term.out")" = null ]; then
  pass
else
  fail "SIGTERM: in-flight call exit $rc, stdout $(cat "$tmp/term.out"), stderr $(cat "$tmp/term.err")"
fi
prc=0
wait "$provider_pid" || prc=$?
provider_pid=
if [ "$prc" = 0 ] && grep -q '^stopped$' "$out"; then
  pass
else
  fail "SIGTERM: provider exit $prc; stdout: $(cat "$out"); stderr: $(cat "$err")"
fi
t0=$(now_ms)
expect after_stop 1 "" "127.0.0.1:$port" -- call "$url" whoami --timeout 3000
t=$(($(now_ms) - t0))
[ "$t" -lt 1500 ] || fail "after_stop: took $t ms"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
