#!/usr/bin/env bash
# Regenerates java.txt: the Dubbo frames Java Dubbo 3.3.6 writes with its
# protobuf serialization (org.apache.dubbo.extensions:dubbo-serialization-
# protobuf 3.2.0, the newest published), one "name hex" line each:
# request, response, exception, error, heartbeat, heartbeat-response.
# Written by Java's own codec (DubboCountCodec) from java/Record.java, no
# network. With --check it also has Java decode the frames our C encoder
# writes (c-*.hex, made by `protobuf_serialization_test --write-c DIR`) and
# prints what Java understood.
# Needs mvn, javac/java 17 and protoc (helloworld's Java classes).
# SERIALIZATION=protobuf-json and OUT=FILE record the JSON form (id 21)
# instead: ../protobuf-json/regenerate.sh does.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/java" && mvn -B -q dependency:build-classpath -Dmdep.outputFile="$work/cp.txt") >&2
mkdir -p "$work/gen" "$work/cls"
protoc --proto_path="$root/tools/proto" --java_out="$work/gen" helloworld.proto
javac -nowarn -d "$work/cls" -cp "$(cat "$work/cp.txt")" "$work"/gen/helloworld/*.java \
  "$here/java/Record.java" 2>&1 | grep -v '^Note:' >&2 || true
ser=${SERIALIZATION:-protobuf}
out=${OUT:-$here/java.txt}
run() { java -Dserialization="$ser" -cp "$work/cls:$(cat "$work/cp.txt")" Record "$@" 2>"$work/java.log"; }
if [[ "${1:-}" == "--check" ]]; then
  shift
  run decode "$@"
else
  run > "$out"
  echo "wrote $out" >&2
fi
