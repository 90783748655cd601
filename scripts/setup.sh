#!/usr/bin/env bash
# Install everything dubbo-c needs to build, test and benchmark on Debian 12:
# Debian packages (only those missing), the npm packages of the interop peers
# (tests/interop/peers) and the Java Dubbo and dubbo-go reference peers
# (tests/interop/java, tests/interop/go). Idempotent: a second run installs
# and builds nothing. `--demo`: only what building dubbo-c needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# What building dubbo-c needs (scripts/demo.sh installs only these:
# `setup.sh --demo`).
BUILD_PKGS=(
  build-essential cmake pkg-config git    # toolchain
  libjansson-dev                          # JSON parsing (typed JSON, config)
  libuv1-dev                              # the event loop of the transport
  libyaml-dev                             # routing rules and configuration (YAML)
  libcurl4-openssl-dev                    # the etcd registry's client (its JSON gateway)
  libzookeeper-mt-dev                     # the official ZooKeeper C client
  libnghttp2-dev                          # HTTP/2 for Triple
  libhttp-parser-dev                      # HTTP/1.1 messages for REST
  libssl-dev openssl                      # TLS on every protocol (openssl: test certificates)
  curl                                    # the demo's REST calls (and the REST tests')
  libprotobuf-c-dev protobuf-c-compiler   # protobuf messages for Triple (protoc-c at build time)
  zlib1g-dev                              # gzip message compression (Triple)
  nghttp2-client                          # nghttp: the demo's Triple call (and raw HTTP/2 in tests), h2load
)
# What the tests add: peers, servers, tools.
TEST_PKGS=(
  python3                                 # test drivers (tests/interop/*.py)
  clang libclang-rt-14-dev                # libFuzzer for fuzz/
  clang-format                            # the format check (scripts/check-format.sh)
  doxygen                                 # the API reference (scripts/apidoc.sh)
  gnuplot-nox                             # the benchmark charts (bench/plot.sh)
  libtsan2                                # ThreadSanitizer runtime (scripts/tsan.sh)
  etcd-server etcd-client                 # etcd 3.4 for the integration tests
  zookeeper                               # ZooKeeper 3.8 for the integration tests
  openjdk-17-jdk-headless libhessian-java # Caucho Hessian 4.0.38: the Java peer
  maven                                   # builds the Java Dubbo 3.3 peer (tests/interop/java)
  nodejs npm                              # hessian.js and the Node Dubbo peers
  libgrpc++-dev protobuf-compiler-grpc    # grpc C++ 1.51: Triple interop peer and benchmark ceiling
  libprotobuf-dev                         # the protobuf headers its generated C++ code includes
  protobuf-compiler                       # protoc: C++/Python stubs of the gRPC peers
  python3-grpcio python3-protobuf         # python grpcio 1.51: Triple interop peer
  chromium                                # headless browser for the REST demo page (interop/rest-browser)
  wrk nginx-light                         # the REST benchmark (bench/run-rest.sh): load, and the nginx it is compared with
)
demo=false
[ "${1:-}" = "--demo" ] && demo=true
PKGS=("${BUILD_PKGS[@]}")
$demo || PKGS+=("${TEST_PKGS[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node/npm or Maven not from Debian (already on PATH) is fine too.
if command -v mvn >/dev/null; then missing=("${missing[@]/maven/}"); fi
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

if $demo; then echo "setup: ok (demo)"; exit 0; fi

# npm peers, pinned by package-lock.json; reinstalled only when the lock changes.
peers=tests/interop/peers
if [ -f "$peers/package.json" ]; then
  stamp="$peers/node_modules/.dubbo-c-stamp"
  sum=$(cat "$peers/package.json" "$peers/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    echo "setup: installing npm peers in $peers"
    (cd "$peers" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
                    else npm install --no-audit --no-fund --loglevel=error; fi)
    echo "$sum" > "$stamp"
  fi
fi
# The reference peers, Java Dubbo 3.3 and dubbo-go 3.3 (tests/interop/java,
# tests/interop/go), and grpc-go's interop client/server, h2spec, grpcurl and ghz
# (tests/interop/grpc): built once per machine into ${DUBBO_C_CACHE:-/var/cache/dubbo-c}
# (dependencies from Maven Central and the Go module proxy, pinned by pom.xml
# and go.sum); a build whose sources are unchanged is not redone.
for peer in java go grpc grpc-peers/cpp; do
  if [ -f "tests/interop/$peer/build.sh" ] && ! bash "tests/interop/$peer/build.sh" --print >/dev/null 2>&1; then
    echo "setup: building the $peer reference peer (once per machine)"
    bash "tests/interop/$peer/build.sh" >/dev/null
  fi
done
# The Nacos server of the nacos registry's tests (Nacos 0.8.0 naming, the
# newest server Maven Central serves: docs/registry-nacos.md), built once per
# machine into the same cache.
if ! bash tests/integration/nacos/build.sh --print >/dev/null 2>&1; then
  echo "setup: building the Nacos server of the tests (once per machine)"
  bash tests/integration/nacos/build.sh >/dev/null
fi
echo "setup: ok"
