#!/usr/bin/env bash
# Regenerates pbbench/user.pb.go from bench/protobuf/user.proto with protoc
# (Debian's 3.21) and the protoc-gen-go that go.mod pins
# (google.golang.org/protobuf v1.33.0, see tools.go), as package main of
# this folder. The output is committed: the module must build and `go mod
# tidy` must see its imports without running protoc (bench/run-protobuf.sh
# only builds it). Rerun after changing user.proto.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../../.." && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}
export GOMODCACHE="$root/gomod" GOCACHE="$root/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=readonly
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$here/.." && go build -trimpath -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" -I "$top/bench/protobuf" \
    --go_out="$here" --go_opt=paths=source_relative \
    --go_opt='Muser.proto=dubbo-c/interop/go/pbbench;main' \
    "$top/bench/protobuf/user.proto"
