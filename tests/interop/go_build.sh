# The build of a Go program set into the machine-wide cache, shared by
# tests/interop/go/build.sh (the dubbo-go peer) and tests/interop/grpc/
# build.sh (the gRPC tools). Sourced, not run: the caller sets
#   here        its folder (go.mod, go.sum, *.go: the fingerprint's inputs)
#   prefix      the output directory's name before the fingerprint
#   binaries    ("name package" ...): what `go build` makes, and from what
#   modules     (module ...): listed in the stamp with their versions
# and passes its arguments on. Output:
#   ${DUBBO_C_CACHE:-/var/cache/dubbo-c}/<prefix>-<first 16 hex of sha256
#   over go.mod, go.sum and *.go>/ with the binaries and a stamp; Go modules
#   and the build cache in $root/gomod and $root/gocache. An output
#   directory with its stamp is complete and is never built again.
#
#   build.sh          build if needed; the last line on stdout is the directory
#   build.sh --print  print the directory if it is built, else exit 1
#
# Quiet when it works; on failure the go command's output goes to stderr
# and the exit status is non-zero. Needs the Go module proxy on first use.
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

out="$root/$prefix-$(fingerprint)"

complete() {
    [ -f "$out/stamp" ] || return 1
    local b
    for b in "${binaries[@]}"; do
        [ -x "$out/${b%% *}" ] || return 1
    done
}

if complete; then
    echo "$out"
    exit 0
fi
[ "$mode" = print ] && exit 1

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
# the installed Go builds whatever go.mod asks for; never fetch a toolchain
export GOTOOLCHAIN=local
export CGO_ENABLED=0

mkdir "$tmp/bin"
for b in "${binaries[@]}"; do
    name=${b%% *}
    pkg=${b#* }
    if ! (cd "$here" && "$GO" build -trimpath -o "$tmp/bin/$name" "$pkg") >>"$log" 2>&1; then
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
    (cd "$here" && "$GO" list -m "${modules[@]}")
} >"$tmp/bin/stamp" 2>>"$log"
if [ -e "$out" ] && ! complete; then
    rm -rf "$out"
fi
mv -T "$tmp/bin" "$out" 2>/dev/null || true
if ! complete; then
    echo "build.sh: $out is incomplete after the build" >&2
    cat "$log" >&2
    exit 1
fi
echo "$out"
