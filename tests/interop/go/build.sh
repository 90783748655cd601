#!/usr/bin/env bash
# Builds the dubbo-go reference peer (Dubbo-protocol provider and consumer,
# Triple triprovider and triconsumer) into a
# machine-wide cache, once per machine and per source version:
#   $root/go-peer-<first 16 hex of sha256 over go.mod, go.sum and *.go>/
#       provider consumer triprovider triconsumer stamp
# (go.mod asks for go 1.24: the installed, newer Go builds it.) How, and the
# --print mode: tests/interop/go_build.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=go-peer
binaries=("provider ./provider" "consumer ./consumer" "triprovider ./triprovider" "triconsumer ./triconsumer")
modules=(dubbo.apache.org/dubbo-go/v3 github.com/apache/dubbo-go-hessian2)
# shellcheck source=../go_build.sh
source "$here/../go_build.sh"
