#!/usr/bin/env bash
# Builds the third-party gRPC tools that the Triple tests run, into a
# machine-wide cache, once per machine and per pinned version set:
#   $root/grpc-tools-<first 16 hex of sha256 over go.mod, go.sum and *.go>/
#       interop_client interop_server h2spec grpcurl ghz
#       interop_client_gzip interop_server_gzip greeter_server stamp
# (go.mod asks for go 1.26.0, which grpc-go v1.85.0 needs.) How, and the
# --print mode: tests/interop/go_build.sh (Go's caches shared with
# tests/interop/go).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=grpc-tools
# binary name -> the main package it is built from (versions: go.mod)
binaries=(
    "interop_client google.golang.org/grpc/interop/client"
    "interop_server google.golang.org/grpc/interop/server"
    "h2spec github.com/summerwind/h2spec/cmd/h2spec"
    "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl"
    "ghz github.com/bojand/ghz/cmd/ghz"
    # ours, over grpc-go's interop package: the same cases with gzip
    "interop_client_gzip ./gzip_client"
    "interop_server_gzip ./gzip_server"
    # ours: helloworld.Greeter + TestService, the grpc-go server of bench/run-triple.sh
    "greeter_server ./greeter_server"
)
modules=(google.golang.org/grpc github.com/summerwind/h2spec github.com/fullstorydev/grpcurl
    github.com/bojand/ghz)
# shellcheck source=../go_build.sh
source "$here/../go_build.sh"
