#!/usr/bin/env bash
# Builds the C++ gRPC peer (cpp_peer.cc) against Debian's grpc C++ 1.51:
# protoc + grpc_cpp_plugin make the stubs of tools/proto/helloworld.proto
# and tools/proto/grpc/testing/*.proto, g++ the binary. Needs
# libgrpc++-dev, libprotobuf-dev, protobuf-compiler, protobuf-compiler-grpc.
#
#   build.sh          build if needed; the last line on stdout is the directory
#   build.sh --print  print the directory if it is built, else exit 1
#
# The directory is ${DUBBO_C_CACHE:-/var/cache/dubbo-c}/grpc-cpp-peer-<16 hex
# of sha256 over this script, cpp_peer.cc and the protos>/ holding cpp_peer
# and a stamp; one with its stamp is complete and never built again (the
# source tree is not written). Quiet when it works; on failure the
# compiler's output goes to stderr and the exit status is non-zero.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
protos=$(cd "$here/../../../../tools/proto" && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}
proto_files=(helloworld.proto grpc/testing/empty.proto grpc/testing/messages.proto grpc/testing/test.proto)

case ${1:-} in
"" | --print) ;;
*)
    echo "usage: build.sh [--print]" >&2
    exit 2
    ;;
esac

sum=$(
    {
        printf '%s\0' build.sh cpp_peer.cc
        cat "$here/build.sh" "$here/cpp_peer.cc"
        for f in "${proto_files[@]}"; do
            printf '%s\0' "$f"
            cat "$protos/$f"
        done
    } | sha256sum | cut -c1-16
)
out="$root/grpc-cpp-peer-$sum"

if [ -f "$out/stamp" ] && [ -x "$out/cpp_peer" ]; then
    echo "$out"
    exit 0
fi
[ "${1:-}" = --print ] && exit 1

for tool in protoc grpc_cpp_plugin g++ pkg-config; do
    if ! command -v "$tool" >/dev/null; then
        echo "build.sh: no $tool (scripts/setup.sh installs protobuf-compiler, protobuf-compiler-grpc, g++)" >&2
        exit 1
    fi
done
if ! pkg-config --exists grpc++ protobuf; then
    echo "build.sh: pkg-config finds no grpc++ or protobuf (apt-get install libgrpc++-dev libprotobuf-dev)" >&2
    exit 1
fi

mkdir -p "$root"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log="$tmp/build.log"
mkdir "$tmp/gen" "$tmp/obj" "$tmp/out"

fail() {
    echo "build.sh: $1:" >&2
    cat "$log" >&2
    exit 1
}

(cd "$protos" && protoc -I . --cpp_out="$tmp/gen" --grpc_out="$tmp/gen" \
    --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" "${proto_files[@]}") >>"$log" 2>&1 ||
    fail "protoc failed"

# the generated sources and the peer, compiled two at a time (a 2-core
# machine), then linked
read -r -a cflags <<<"$(pkg-config --cflags grpc++ protobuf)"
read -r -a libs <<<"$(pkg-config --libs grpc++ protobuf)"
export tmp
srcs=("$here/cpp_peer.cc")
while IFS= read -r f; do srcs+=("$f"); done < <(find "$tmp/gen" -name '*.cc' | LC_ALL=C sort)
printf '%s\0' "${srcs[@]}" |
    xargs -0 -P 2 -I{} sh -c 'o="$tmp/obj/$(echo "$1" | sha256sum | cut -c1-12).o"; exec g++ -std=c++17 -O1 -c "$@" -I"$tmp/gen" -o "$o"' \
        sh {} "${cflags[@]}" >>"$log" 2>&1 ||
    fail "compiling failed"
g++ -o "$tmp/out/cpp_peer" "$tmp"/obj/*.o "${libs[@]}" -lpthread >>"$log" 2>&1 || fail "linking failed"

{
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "grpc++ $(pkg-config --modversion grpc++), protobuf $(pkg-config --modversion protobuf)"
    protoc --version
    g++ --version | head -1
} >"$tmp/out/stamp"
# published whole by a rename; a concurrent build that published first wins
mv -T "$tmp/out" "$out" 2>/dev/null || true
if ! [ -f "$out/stamp" ] || ! [ -x "$out/cpp_peer" ]; then
    echo "build.sh: $out is incomplete after the build" >&2
    exit 1
fi
echo "$out"
