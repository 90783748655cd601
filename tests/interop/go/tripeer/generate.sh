#!/usr/bin/env bash
# Regenerates tripeer/helloworld.pb.go from tools/proto/helloworld.proto
# with protoc (Debian's 3.21) and the protoc-gen-go that go.mod pins
# (google.golang.org/protobuf v1.33.0, see tools.go). The output is
# committed so that building the peers needs neither tool.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../../.." && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}
export GOMODCACHE="$root/gomod" GOCACHE="$root/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=readonly
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$here/.." && go build -trimpath -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" -I "$top/tools/proto" \
    --go_out="$here" --go_opt=paths=source_relative \
    --go_opt=Mhelloworld.proto=dubbo-c/interop/go/tripeer \
    "$top/tools/proto/helloworld.proto"
