#!/usr/bin/env bash
# Builds the dubbo-go reference peer (provider and consumer binaries) into a
# machine-wide cache, once per machine and per source version:
#   $root/go-peer-<first 16 hex of sha256 over go.mod, go.sum and *.go>/
#       provider consumer stamp
# with root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}; Go modules and the build
# cache live in $root/gomod and $root/gocache. An output directory with its
# stamp is complete and is never built again.
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

out="$root/go-peer-$(fingerprint)"

complete() {
    [ -f "$out/stamp" ] && [ -x "$out/provider" ] && [ -x "$out/consumer" ]
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
# go.mod asks for go 1.24: the installed Go (newer) builds it; never fetch one
export GOTOOLCHAIN=local
export CGO_ENABLED=0

build() {
    (cd "$here" && "$GO" build -trimpath -o "$tmp/$1" "./$1") >>"$log" 2>&1
}

if ! build provider || ! build consumer; then
    echo "build.sh: go build failed ($("$GO" version 2>/dev/null || echo "$GO")):" >&2
    cat "$log" >&2
    exit 1
fi

mkdir "$tmp/peer"
mv "$tmp/provider" "$tmp/consumer" "$tmp/peer/"
# the stamp is written last, then the directory is published whole by a
# rename; a concurrent build that published first wins
{
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    "$GO" version
    (cd "$here" && "$GO" list -m dubbo.apache.org/dubbo-go/v3 github.com/apache/dubbo-go-hessian2)
} >"$tmp/peer/stamp" 2>>"$log"
if [ -e "$out" ] && ! complete; then
    rm -rf "$out"
fi
mv -T "$tmp/peer" "$out" 2>/dev/null || true
if ! complete; then
    echo "build.sh: $out is incomplete after the build" >&2
    cat "$log" >&2
    exit 1
fi
echo "$out"
