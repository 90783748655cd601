#!/usr/bin/env bash
# Builds the third-party gRPC tools that the Triple tests run, into a
# machine-wide cache, once per machine and per pinned version set:
#   $root/grpc-tools-<first 16 hex of sha256 over go.mod, go.sum and *.go>/
#       interop_client interop_server h2spec grpcurl ghz
#       interop_client_gzip interop_server_gzip stamp
# with root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}; Go modules and the build
# cache live in $root/gomod and $root/gocache (shared with tests/interop/go).
# An output directory with its stamp is complete and is never built again.
#
#   build.sh          build if needed; the last line on stdout is the directory
#   build.sh --print  print the directory if it is built, else exit 1
#
# Quiet when it works; on failure the go command's output goes to stderr and
# the exit status is non-zero. Needs the Go module proxy on first use only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}

mode=build
case ${1:-} in
"") ;;
--print) mode=print ;;
*)
    echo "usage: build.sh [--print]" >&2
    exit 2
    ;;
esac

# binary name -> the main package it is built from (versions: go.mod)
tools=(
    "interop_client google.golang.org/grpc/interop/client"
    "interop_server google.golang.org/grpc/interop/server"
    "h2spec github.com/summerwind/h2spec/cmd/h2spec"
    "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl"
    "ghz github.com/bojand/ghz/cmd/ghz"
    # ours, over grpc-go's interop package: the same cases with gzip
    "interop_client_gzip ./gzip_client"
    "interop_server_gzip ./gzip_server"
)

# the sources' fingerprint: each file's path and content, in a fixed order
fingerprint() {
    (
        cd "$here"
        {
            printf '%s\n' go.mod go.sum
            find . -name '*.go' -type f | sed 's|^\./||' | LC_ALL=C sort
        } | while IFS= read -r f; do
            printf '%s\0' "$f"
            cat "$f"
            printf '\0'
        done
    ) | sha256sum | cut -c1-16
}

out="$root/grpc-tools-$(fingerprint)"

complete() {
    [ -f "$out/stamp" ] || return 1
    local t
    for t in "${tools[@]}"; do
        [ -x "$out/${t%% *}" ] || return 1
    done
}

if [ "$mode" = print ]; then
    if complete; then
        echo "$out"
        exit 0
    fi
    exit 1
fi

if complete; then
    echo "$out"
    exit 0
fi

GO=$(command -v go || true)
if [ -z "$GO" ]; then
    GO=/usr/local/go/bin/go
fi
if [ ! -x "$GO" ]; then
    echo "build.sh: no go on PATH and no /usr/local/go/bin/go" >&2
    exit 1
fi

mkdir -p "$root/gomod" "$root/gocache"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
log="$tmp/build.log"
trap 'rm -rf "$tmp"' EXIT

export GOMODCACHE="$root/gomod"
export GOCACHE="$root/gocache"
# go.sum is committed: never edit go.mod/go.sum while building
export GOFLAGS="-mod=readonly -buildvcs=false"
# go.mod asks for go 1.26.0 (grpc-go v1.85.0 needs it): the installed Go
# builds it; never fetch another toolchain
export GOTOOLCHAIN=local
export CGO_ENABLED=0

mkdir "$tmp/tools"
for t in "${tools[@]}"; do
    name=${t%% *}
    pkg=${t#* }
    if ! (cd "$here" && "$GO" build -trimpath -o "$tmp/tools/$name" "$pkg") >>"$log" 2>&1; then
        echo "build.sh: go build of $pkg failed ($("$GO" version 2>/dev/null || echo "$GO")):" >&2
        cat "$log" >&2
        exit 1
    fi
done

# the stamp is written last, then the directory is published whole by a
# rename; a concurrent build that published first wins
{
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    "$GO" version
    (cd "$here" && "$GO" list -m google.golang.org/grpc github.com/summerwind/h2spec \
        github.com/fullstorydev/grpcurl github.com/bojand/ghz)
} >"$tmp/tools/stamp" 2>>"$log"
if [ -e "$out" ] && ! complete; then
    rm -rf "$out"
fi
mv -T "$tmp/tools" "$out" 2>/dev/null || true
if ! complete; then
    echo "build.sh: $out is incomplete after the build" >&2
    cat "$log" >&2
    exit 1
fi
echo "$out"
