#!/usr/bin/env bash
# Runs the examples end to end: starts user_provider on a free port, runs
# user_consumer against it, checks what it prints, and stops the provider
# with SIGTERM (it must say "stopped" and exit 0).
# Usage: examples/run_examples.sh path/to/user_provider path/to/user_consumer
set -u
PROVIDER=${1:?usage: run_examples.sh path/to/user_provider path/to/user_consumer}
CONSUMER=${2:?usage: run_examples.sh path/to/user_provider path/to/user_consumer}
tmp=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PROVIDER" 0 >"$tmp/provider.out" 2>"$tmp/provider.err" &
pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$tmp/provider.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/provider.out")
if [ -z "$port" ]; then
  echo "FAIL: user_provider did not start"
  cat "$tmp/provider.out" "$tmp/provider.err"
  exit 1
fi

status=0
rc=0
"$CONSUMER" "dubbo://127.0.0.1:$port/com.example.UserService" >"$tmp/consumer.out" \
  2>"$tmp/consumer.err" || rc=$?
want='getUser(42) = User{name=user42, age=62, email=user42@example.com}
greet(Ann) = Hello, Ann (36)!'
if [ "$rc" != 0 ] || [ "$(cat "$tmp/consumer.out")" != "$want" ]; then
  echo "FAIL: user_consumer exit $rc"
  echo "  stdout: $(cat "$tmp/consumer.out")"
  echo "  want:   $want"
  echo "  stderr: $(cat "$tmp/consumer.err")"
  status=1
fi

kill -TERM "$pid"
prc=0
wait "$pid" || prc=$?
pid=
if [ "$prc" != 0 ] || ! grep -q '^stopped$' "$tmp/provider.out"; then
  echo "FAIL: user_provider exit $prc after SIGTERM"
  cat "$tmp/provider.out" "$tmp/provider.err"
  status=1
fi

# A consumer with nobody to talk to fails with a message, exit 1.
rc=0
"$CONSUMER" "dubbo://127.0.0.1:$port/com.example.UserService" >/dev/null 2>"$tmp/consumer.err" ||
  rc=$?
if [ "$rc" != 1 ] || ! grep -q "127.0.0.1:$port" "$tmp/consumer.err"; then
  echo "FAIL: consumer without provider: exit $rc, stderr: $(cat "$tmp/consumer.err")"
  status=1
fi

[ "$status" = 0 ] && echo "examples: ok"
exit "$status"
