#!/usr/bin/env bash
# Drives the `dubbo` binary: hessian2 decode/encode from arguments, hex and
# stdin, several values per stream, --help/--version, and the exit status of
# bad usage (2) and bad input (1, with a message on stderr). Then `dubbo call`
# and `dubbo bench` against demo providers: --param warnings, bench through
# the cluster layer (roundrobin over two providers, a rule, a registry URL,
# failover and failfast with a provider killed mid-run, a refused address).
# Usage: tests/unit/cli_test.sh path/to/dubbo
set -u
DUBBO=${1:?usage: cli_test.sh path/to/dubbo}
tmp=$(mktemp -d)
pids=()
# Kill only what this script started.
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
passed=0
failed=0

# expect NAME STATUS EXPECTED_STDOUT STDERR_SUBSTRING -- COMMAND...
# Runs COMMAND (stdin from $stdin_data if set), checks its exit status, its
# exact stdout (unless EXPECTED is "*"), and that stderr contains the
# substring (unless it is "").
expect() {
  local name=$1 status=$2 want_out=$3 want_err=$4
  shift 5
  local rc=0
  if [ -n "${stdin_data+x}" ]; then
    printf '%b' "$stdin_data" | "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  else
    "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
  fi
  local out
  out=$(cat "$tmp/out")
  local ok=1
  [ "$rc" = "$status" ] || ok=0
  [ "$want_out" = "*" ] || [ "$out" = "$want_out" ] || ok=0
  [ -z "$want_err" ] || grep -qF -- "$want_err" "$tmp/err" || ok=0
  if [ $ok = 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc (want $status)"
    echo "  stdout: $out"
    [ "$want_out" = "*" ] || echo "  want:   $want_out"
    echo "  stderr: $(cat "$tmp/err")"
    [ -z "$want_err" ] || echo "  want stderr to contain: $want_err"
  fi
}

D=$DUBBO
H2=("$D" hessian2)

# ---- help, version, usage errors -----------------------------------------
expect version 0 "*" "" -- "$D" --version
grep -q '^dubbo (dubbo-c) [0-9]' "$tmp/out" || { failed=$((failed + 1)); echo "FAIL version text"; }
expect help 0 "*" "" -- "$D" --help
grep -q 'hessian2' "$tmp/out" || { failed=$((failed + 1)); echo "FAIL help lists hessian2"; }
expect help_short 0 "*" "" -- "$D" -h
expect h2_help 0 "*" "" -- "${H2[@]}" --help
grep -q 'decode' "$tmp/out" && grep -q 'encode' "$tmp/out" ||
  { failed=$((failed + 1)); echo "FAIL hessian2 help lists decode and encode"; }
expect decode_help 0 "*" "" -- "${H2[@]}" decode --help
grep -q 'Examples' "$tmp/out" || { failed=$((failed + 1)); echo "FAIL decode help has examples"; }
expect encode_help 0 "*" "" -- "${H2[@]}" encode -h
grep -q 'Examples' "$tmp/out" || { failed=$((failed + 1)); echo "FAIL encode help has examples"; }

expect no_args 2 "" "usage:" -- "$D"
expect unknown_command 2 "" "unknown command 'frobnicate'" -- "$D" frobnicate
expect unknown_option 2 "" "unknown option '--frob'" -- "$D" --frob
expect h2_no_sub 2 "" "usage:" -- "${H2[@]}"
expect h2_unknown_sub 2 "" "unknown command 'recode'" -- "${H2[@]}" recode
expect decode_unknown_option 2 "" "unknown option '-x'" -- "${H2[@]}" decode -x
expect decode_stray_arg 2 "" "unexpected argument 'e5'" -- "${H2[@]}" decode e5

# dubbo protobuf: JSON <-> protobuf by a .proto (needs protoc)
if command -v protoc >/dev/null; then
  HW=(--proto "$(dirname "$0")/../../tools/proto/helloworld.proto" --type helloworld.HelloRequest)
  expect pb_encode 0 "0a05776f726c64" "" -- "$DUBBO" protobuf encode "${HW[@]}" --hex '{"name":"world"}'
  expect pb_encode_delimited 0 "070a05776f726c64" "" -- \
    "$DUBBO" protobuf encode "${HW[@]}" --hex --delimited '{"name":"world"}'
  stdin_data='0a05776f726c64'
  expect pb_decode 0 '{"name":"world"}' "" -- "$DUBBO" protobuf decode "${HW[@]}" --hex
  stdin_data='07 0a05776f726c64 02 0a00'  # the second: name "", proto3's default: no value
  expect pb_decode_delimited 0 $'{"name":"world"}\n{}' "" -- \
    "$DUBBO" protobuf decode "${HW[@]}" --hex --delimited
  stdin_data='0a0z'
  expect pb_decode_bad_hex 1 "" "bad hex digit 'z' at position 3" -- \
    "$DUBBO" protobuf decode "${HW[@]}" --hex
  stdin_data='0a09'
  expect pb_decode_truncated 1 "" "truncated (length 9, 0 left) at byte 1 in field name" -- \
    "$DUBBO" protobuf decode "${HW[@]}" --hex
  unset stdin_data
  expect pb_unknown_field 1 "" 'has no field "nme" (fields: name)' -- \
    "$DUBBO" protobuf encode "${HW[@]}" '{"nme":"x"}'
  expect pb_no_type 2 "" "--type TYPE are needed" -- "$DUBBO" protobuf decode --proto x.proto
fi
expect encode_unknown_option 2 "" "unknown option '--pretty'" -- "${H2[@]}" encode --pretty 1

# ---- decode ---------------------------------------------------------------
expect decode_long 0 '{"$class":"long","$":5}' "" -- "${H2[@]}" decode --hex e5
expect decode_hex_eq 0 '{"$class":"long","$":5}' "" -- "${H2[@]}" decode --hex=E5
expect decode_double 0 '{"$class":"double","$":1.234}' "" -- "${H2[@]}" decode --hex '5f000004d2'
expect decode_date 0 '{"$class":"java.util.Date","$":770467200000}' "" -- \
  "${H2[@]}" decode --hex '4b00c3f0a0'
expect decode_typed_list 0 '{"$class":"[int","$":[1,2,3]}' "" -- \
  "${H2[@]}" decode --hex '7304 5b696e74
  91 92 93'
expect decode_several 0 $'1\n"hello"\nnull\n{"$class":"long","$":-1}' "" -- \
  "${H2[@]}" decode --hex '91 05 68656c6c6f 4e 59ffffffff'
stdin_data='\x91\x05hello'
expect decode_stdin_raw 0 $'1\n"hello"' "" -- "${H2[@]}" decode
stdin_data='91\n05 68 65 6c 6c 6f\n'
expect decode_stdin_hex 0 $'1\n"hello"' "" -- "${H2[@]}" decode --hex
unset stdin_data
# references carry over from value to value, as in one Hessian stream
expect decode_ref_across_values 0 $'[1]\n{"$ref":0}' "" -- "${H2[@]}" decode --hex '79 91 51 90'
expect decode_object 0 '{"$class":"P","$":{"x":1}}' "" -- "${H2[@]}" decode --hex '43 01 50 91 01 78 60 91'

expect bad_hex_digit 1 "" "bad hex digit 'g' at position 1" -- "${H2[@]}" decode --hex 'eg'
expect odd_hex 1 "" "odd number of hex digits (3)" -- "${H2[@]}" decode --hex 'e5 9'
expect empty_input 1 "" "no input bytes" -- "${H2[@]}" decode --hex ''
expect truncated 1 "" "hessian2:" -- "${H2[@]}" decode --hex '53 00'
grep -q 'DUBBO_ETRUNCATED' "$tmp/err" || { failed=$((failed + 1)); echo "FAIL truncated names the code"; }
# values before the bad one are printed
expect partial 1 '1' "hessian2:" -- "${H2[@]}" decode --hex '91 05 68'

# ---- encode ---------------------------------------------------------------
expect encode_long 0 'e5' "" -- "${H2[@]}" encode --hex '{"$class":"long","$":5}'
expect encode_negative_int 0 '8b' "" -- "${H2[@]}" encode --hex -5
expect encode_after_dashdash 0 '8b' "" -- "${H2[@]}" encode --hex -- -5
expect encode_two_args 0 '0873617948656c6c6f7905776f726c64' "" -- \
  "${H2[@]}" encode --hex '"sayHello"' '["world"]'
# one class definition and one reference table for all documents
expect encode_class_shared 0 '43015091017860916092' "" -- \
  "${H2[@]}" encode --hex '{"$class":"P","$":{"x":1}}' '{"$class":"P","$":{"x":2}}'
expect encode_ref_across_docs 0 '79915190' "" -- "${H2[@]}" encode --hex '[1]' '{"$ref":0}'
expect encode_several_in_one_arg 0 '919293' "" -- "${H2[@]}" encode --hex '1 2' ' 3 '
stdin_data='1\n{"$class":"long","$":5}\n  "hi" '
expect encode_stdin 0 '91e5026869' "" -- "${H2[@]}" encode --hex
unset stdin_data

expect encode_bad_json 1 "" "argument 2: typed JSON: line 1, column 4" -- "${H2[@]}" encode --hex '1' '[1,,]'
expect encode_bad_typed 1 "" 'at $.args[0]: "$class":"long" needs an integer' -- \
  "${H2[@]}" encode --hex '{"args":[{"$class":"long","$":"x"}]}'
expect encode_empty_arg 1 "" "argument 1: no JSON value" -- "${H2[@]}" encode --hex ' '
stdin_data=''
expect encode_empty_stdin 1 "" "no JSON value" -- "${H2[@]}" encode
stdin_data='[1,\n2,,]'
expect encode_stdin_bad 1 "" "standard input: typed JSON: line 2, column 3" -- "${H2[@]}" encode
unset stdin_data

# raw bytes both ways: encode | decode gives the documents back
docs=('{"$class":"com.example.User","$":{"name":"Ann","age":42,"tags":["a","b"]}}'
      '{"$class":"double","$":0.1}' '{"$map":[[1,"one"]]}' '"x\ud800y"'
      '{"$class":"[B","$":"AAEC"}' '{"$class":"java.util.TreeMap","$map":{"k":[true,null]}}')
"${H2[@]}" encode "${docs[@]}" >"$tmp/raw" 2>"$tmp/err"
"${H2[@]}" decode <"$tmp/raw" >"$tmp/json" 2>>"$tmp/err"
if [ "$(cat "$tmp/json")" = "$(printf '%s\n' "${docs[@]}")" ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAIL raw round trip"; cat "$tmp/json" "$tmp/err"
fi
# and decode | encode gives the bytes back
hex=$("${H2[@]}" encode --hex "${docs[@]}")
again=$("${H2[@]}" decode --hex "$hex" | "${H2[@]}" encode --hex)
if [ -n "$hex" ] && [ "$hex" = "$again" ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAIL hex round trip: $hex vs $again"
fi

# ---- call and bench against demo providers -----------------------------------
check() { # check NAME CONDITION-STATUS: count a pass or a failure
  if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi
}
IFACE=org.apache.dubbo.demo.DemoService
# start_provider NAME ARGS...: a demo provider on a free port with an access
# log ($tmp/NAME.log, one line per call served); sets $port and $pid.
start_provider() {
  local name=$1
  shift
  "$D" demo provider --host 127.0.0.1 --port 0 --param "accesslog=$tmp/$name.log" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
  pid=$!
  pids+=("$pid")
  disown "$pid" # no "Killed" notice when a test kills it
  for _ in $(seq 100); do
    grep -q '^listening on ' "$tmp/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/$name.out")
  if [ -z "$port" ]; then
    echo "provider $name did not start:"
    cat "$tmp/$name.out" "$tmp/$name.err"
    exit 1
  fi
}
served() { # calls provider NAME has served so far
  if [ -f "$tmp/$1.log" ]; then wc -l <"$tmp/$1.log"; else echo 0; fi
}
# the number after "errors" in bench's first line
bench_errors() { sed -n 's/^calls [0-9]* errors \([0-9]*\) in .*/\1/p' "$tmp/out"; }

start_provider p1 --registry "file://$tmp/reg"
port1=$port
start_provider p2 --registry "file://$tmp/reg"
port2=$port
url1="dubbo://127.0.0.1:$port1/$IFACE"
url2="dubbo://127.0.0.1:$port2/$IFACE"

expect bench_help 0 "*" "" -- "$D" bench --help
grep -q 'URL\[;URL\.\.\.\]' "$tmp/out" && grep -q -- '--param K=V' "$tmp/out" &&
  grep -q 'Exit status: 0 when every call succeeded; 1 when any call failed' "$tmp/out"
check "bench help: URL forms, --param, exit status" $?

# --param keys the reference does not read get a warning, with close known keys
warn_retires='dubbo call: warning: unknown --param "retires" (did you mean "retries"?); passed on anyway'
expect call_param_typo 0 "\"127.0.0.1:$port1\"" "$warn_retires" -- \
  "$D" call "$url1" whoami --param retires=2
expect call_params_known 0 "\"127.0.0.1:$port1\"" "" -- \
  "$D" call "$url1" whoami --param retries=2 --param sayHello.timeout=100
! grep -q 'warning' "$tmp/err"
check "call: no warning for retries and sayHello.timeout" $?
expect call_param_method_typo 0 "*" \
  'unknown --param "sayHello.timout" (did you mean "sayHello.timeout"?)' -- \
  "$D" call "$url1" whoami --param sayHello.timout=100
expect bench_param_typo 0 "*" \
  'dubbo bench: warning: unknown --param "retires" (did you mean "retries"?); passed on anyway' -- \
  "$D" bench "$url1" whoami --param retires=2 --duration 0.2
expect bench_params_known 0 "*" "" -- \
  "$D" bench "$url1" whoami --param retries=2 --param sayHello.timeout=100 --duration 0.2
! grep -q 'warning' "$tmp/err"
check "bench: no warning for retries and sayHello.timeout" $?

# roundrobin over two providers: both serve, in turn (random would be
# uneven by tens of calls)
before1=$(served p1) before2=$(served p2)
expect bench_roundrobin 0 "*" "" -- "$D" bench "$url1;$url2" whoami \
  --param loadbalance=roundrobin --param cluster=failover --concurrency 2 --duration 1
n1=$(($(served p1) - before1)) n2=$(($(served p2) - before2))
[ "$(bench_errors)" = 0 ] && [ "$n1" -gt 100 ] && [ "$n2" -gt 100 ] &&
  [ $((n1 - n2)) -le 2 ] && [ $((n2 - n1)) -le 2 ]
check "bench roundrobin: served $n1 and $n2, want both > 100 and within 2" $?

# a rule applies: every call to the second provider
rule="configVersion: v3.0
scope: service
key: $IFACE
force: true
conditions:
  - => port = $port2"
before1=$(served p1) before2=$(served p2)
expect bench_rule 0 "*" "" -- "$D" bench "$url1;$url2" sayHello '"x"' --rule "condition=$rule" \
  --concurrency 2 --duration 0.5
n1=$(($(served p1) - before1)) n2=$(($(served p2) - before2))
[ "$n1" = 0 ] && [ "$n2" -gt 10 ]
check "bench rule: served $n1 and $n2, want 0 and > 10" $?
expect bench_rule_missing_file 2 "" "--rule condition: cannot open $tmp/none.yaml" -- \
  "$D" bench "$url1" sayHello '"x"' --rule "condition=@$tmp/none.yaml"

# a registry URL: the providers it lists
before1=$(served p1) before2=$(served p2)
expect bench_registry 0 "*" "" -- "$D" bench "file://$tmp/reg/$IFACE" whoami \
  --param loadbalance=roundrobin --concurrency 2 --duration 0.5
n1=$(($(served p1) - before1)) n2=$(($(served p2) - before2))
[ "$(bench_errors)" = 0 ] && [ "$n1" -gt 10 ] && [ "$n2" -gt 10 ]
check "bench registry: served $n1 and $n2, want both > 10" $?

# bench_with_kill NAME PID ARGS...: bench in the background, provider PID
# killed with SIGKILL a second in; leaves the exit status in $rc.
bench_with_kill() {
  local victim=$2
  shift 2
  "$D" bench "$@" >"$tmp/out" 2>"$tmp/err" </dev/null &
  local bench_pid=$!
  sleep 1
  kill -9 "$victim"
  rc=0
  wait "$bench_pid" || rc=$?
}

# failover: a provider killed mid-run costs no call
start_provider p3 --registry none
port3=$port
before1=$(served p1)
bench_with_kill failover "$pid" "$url1;dubbo://127.0.0.1:$port3/$IFACE" sayHello '"x"' \
  --param cluster=failover --param loadbalance=roundrobin --concurrency 3 --duration 3
n1=$(($(served p1) - before1)) n3=$(served p3) errs=$(bench_errors)
[ "$rc" = 0 ] && [ "$errs" = 0 ] && [ "$n3" -gt 10 ] && [ "$n1" -gt $((2 * n3)) ]
check "bench failover with a provider killed: exit $rc, errors ${errs:-none}, served $n1 and $n3 (want 0, 0, > 2x and > 10)" $?
[ "$rc" = 0 ] || cat "$tmp/out" "$tmp/err"

# failfast: the same loses the calls in flight on the killed provider (300 ms
# each, so some are), counted and named; exit status 1. (Calls after the kill
# no longer pick it: it is unavailable until a reconnect succeeds.)
start_provider p4 --registry none
bench_with_kill failfast "$pid" "$url1;dubbo://127.0.0.1:$port/$IFACE" sleep 300 \
  --param cluster=failfast --param loadbalance=roundrobin --concurrency 3 --duration 2
errs=$(bench_errors)
[ "$rc" = 1 ] && [ "${errs:-0}" -gt 0 ] && grep -q "^dubbo bench: $errs of [0-9]* calls failed:" "$tmp/err" &&
  grep -q "^  [0-9]* x dubbo: .*127.0.0.1:$port" "$tmp/err"
check "bench failfast with a provider killed: exit $rc, errors ${errs:-none}, listed on stderr" $?
[ "$rc" = 1 ] || cat "$tmp/out" "$tmp/err"

# nothing listening: exit status 1, the error named
expect bench_refused 1 "" "connection refused" -- \
  "$D" bench "dubbo://127.0.0.1:$port3/$IFACE" sayHello '"x"' --duration 1
expect bench_bad_concurrency 2 "" "bad --concurrency '0'" -- \
  "$D" bench "$url1" sayHello --concurrency 0

# --raw: the bare async client against one provider; no cluster options
expect bench_raw 0 "*" "" -- "$D" bench --raw "$url1" sayHello '"x"' --concurrency 4 --duration 0.5
grep -q "^calls [1-9][0-9]* errors 0 " "$tmp/out"
check "bench --raw counts its calls" $?
expect bench_raw_no_param 2 "" "--raw takes one dubbo:// URL and no --param or --rule" -- \
  "$D" bench --raw "$url1" sayHello '"x"' --param retries=0
expect bench_raw_refused 1 "" "connection refused" -- \
  "$D" bench --raw "dubbo://127.0.0.1:$port3/$IFACE" sayHello '"x"' --duration 0.5

# --json: one object, its shape and that its parts add up (calls = the
# histogram's counts = the per-second calls)
json_shape() { # FILE CONCURRENCY: 0 when the JSON report is well-formed
  python3 - "$1" "$2" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, f"{len(lines)} lines"
d = json.loads(lines[0])
assert list(d) == ["calls", "errors", "seconds", "concurrency", "qps", "latency_us",
                   "histogram", "per_second"], list(d)
assert d["calls"] > 0 and d["errors"] == 0 and d["concurrency"] == int(sys.argv[2])
assert abs(d["qps"] - d["calls"] / d["seconds"]) < 1 + d["qps"] * 1e-3
lat = d["latency_us"]
assert list(lat) == ["p50", "p90", "p99", "p999", "max"], list(lat)
assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
h = d["histogram"]
assert h and all(list(b) == ["from_us", "to_us", "count"] for b in h)
assert all(a["to_us"] == b["from_us"] for a, b in zip(h, h[1:]))
assert h[0]["count"] and h[-1]["count"] and sum(b["count"] for b in h) == d["calls"]
assert h[0]["from_us"] <= lat["p50"] < h[-1]["to_us"] and lat["max"] < h[-1]["to_us"]
ps = d["per_second"]
assert [s["second"] for s in ps] == list(range(1, len(ps) + 1)) and len(ps) == 2, ps
for s in ps:
    assert list(s) == ["second", "seconds", "calls", "errors", "qps", "p50_us", "p99_us"], s
    assert 0 < s["seconds"] <= 1 and s["calls"] > 0 and s["p50_us"] <= s["p99_us"], s
assert ps[0]["seconds"] == 1 and sum(s["calls"] for s in ps) == d["calls"]
assert sum(s["errors"] for s in ps) == d["errors"]
PY
}
if command -v python3 >/dev/null; then
  expect bench_json 0 "*" "" -- "$D" bench "$url1" sayHello '"x"' --concurrency 2 --duration 1.5 --json
  json_shape "$tmp/out" 2
  check "bench --json: calls, errors, seconds, concurrency, qps, latency_us, histogram, per_second" $?
  expect bench_raw_json 0 "*" "" -- "$D" bench --raw "$url1" sayHello '"x"' --concurrency 4 \
    --duration 1.5 --json
  json_shape "$tmp/out" 4
  check "bench --raw --json: the same shape" $?
fi

# --histogram: the three report lines as before, then the buckets; not a
# terminal, so nothing on stderr (no progress line)
expect bench_histogram 0 "*" "" -- "$D" bench "$url1" sayHello '"x"' --duration 0.5 --histogram
head -3 "$tmp/out" | grep -c -E '^(calls [1-9][0-9]* errors 0 in [0-9.]+ s, concurrency 1|qps [0-9]+|latency_us p50 [0-9]+ p90 [0-9]+ p99 [0-9]+ max [0-9]+)$' |
  grep -qx 3 && sed -n 5p "$tmp/out" | grep -q '^latency_us histogram ([1-9][0-9]* calls)$' &&
  [ "$(tail -n +6 "$tmp/out" | grep -cvE '^ +[0-9]+ - [0-9]+ +[0-9]+ +[0-9.]+% #*$')" = 0 ] &&
  tail -n +6 "$tmp/out" | grep -q '#' && [ ! -s "$tmp/err" ]
check "bench --histogram: report, then buckets with bars; stderr empty" $?

# on a terminal: the progress line each second, rewritten in place, erased
# before the report; the histogram without --histogram
if command -v script >/dev/null; then
  script -qec "'$D' bench '$url1' sayHello '\"x\"' --duration 1.3" /dev/null </dev/null >"$tmp/tty" 2>&1
  grep -q $'\r   1.0 s  calls [1-9][0-9]*  errors 0  qps [1-9][0-9]*  p99 [0-9]* us\e\[K' "$tmp/tty" &&
    grep -q $'\r\e\[Kcalls [1-9][0-9]* errors 0 in ' "$tmp/tty" && grep -q '^latency_us histogram' "$tmp/tty"
  check "bench on a terminal: progress each second, erased; the histogram" $?
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
