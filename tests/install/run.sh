#!/usr/bin/env bash
# dubbo-c as a user gets it: builds the library WITHOUT sanitizers in its own
# build tree (the test build's ASan objects would make every consumer link
# the sanitizer runtimes, which is not what an installed library asks),
# installs it with `cmake --install` into a fresh temporary prefix, checks
# what was installed (headers, libdubbo.so with its soname, libdubbo.a,
# dubbo.pc, the CMake package) and that libdubbo.so exports the public
# dubbo_* functions only, then builds tests/install/consumer/ outside the
# tree three ways (pkg-config, pkg-config --static, find_package(dubbo)) and
# runs each: a local round trip and a call to a demo provider of the build
# tree.
# Usage: run.sh SOURCE_DIR WORK_DIR CC path/to/dubbo VERSION
# WORK_DIR/lib keeps the library's build tree between runs (incremental).
set -u
SRC=${1:?usage: run.sh SOURCE_DIR WORK_DIR CC path/to/dubbo VERSION}
WORKDIR=${2:?}
export CC=${3:?}
DUBBO=${4:?}
VERSION=${5:?}
CONSUMER=$SRC/tests/install/consumer
JOBS=${DUBBO_INSTALL_JOBS:-2}
tmp=$(mktemp -d)
prefix=$tmp/prefix
provider=
trap '[ -n "$provider" ] && kill -9 "$provider" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }
# Sanitizer settings of the calling test run do not concern these builds.
unset ASAN_OPTIONS UBSAN_OPTIONS CFLAGS LDFLAGS

# 1. The library, as a user builds it (release flags, no tests).
lib=$WORKDIR/lib
t0=$(date +%s)
if cmake -S "$SRC" -B "$lib" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUBBO_BUILD_TESTS=OFF \
        -DDUBBO_BUILD_BENCH=OFF -DDUBBO_SANITIZE=OFF -DDUBBO_TSAN=OFF -DDUBBO_FUZZ=OFF \
        >"$tmp/configure.log" 2>&1 &&
    cmake --build "$lib" -j"$JOBS" --target dubbo dubbo_shared >"$tmp/build.log" 2>&1; then
    ok "library built in $lib ($(($(date +%s) - t0)) s)"
else
    cat "$tmp/configure.log" "$tmp/build.log" | tail -40
    bad "library build"
    finish
fi
if cmake --install "$lib" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    ok "cmake --install into a temporary prefix"
else
    cat "$tmp/install.log"
    bad "cmake --install"
    finish
fi

# 2. What was installed.
libdir=$(cd "$prefix" && dirname "$(find . -name libdubbo.a | head -1)")
libdir=$prefix/${libdir#./}
soname=$(objdump -p "$libdir/libdubbo.so" 2>/dev/null | awk '/SONAME/ {print $2}')
want_so=libdubbo.so.$(echo "$VERSION" | cut -d. -f1-2)
[ "$soname" = "$want_so" ] && ok "libdubbo.so's soname is $soname" || bad "soname '$soname', want $want_so"
for f in libdubbo.a "libdubbo.so.$VERSION" pkgconfig/dubbo.pc cmake/dubbo/dubboConfig.cmake \
         cmake/dubbo/dubboConfigVersion.cmake cmake/dubbo/dubboTargets.cmake; do
    [ -e "$libdir/$f" ] && ok "installed $f" || bad "not installed: $f"
done
want_headers=$(cd "$SRC/include/dubbo" && ls ./*.h | sed 's|^\./||'; echo version.h)
got_headers=$(cd "$prefix/include/dubbo" && ls)
if [ "$(sort <<<"$want_headers")" = "$(sort <<<"$got_headers")" ]; then
    ok "include/dubbo holds the public headers and the generated version.h, nothing else"
else
    bad "installed headers: $(echo $got_headers); want $(echo $want_headers)"
fi
grep -q "DUBBO_VERSION_STRING \"$VERSION\"" "$prefix/include/dubbo/version.h" &&
    ok "version.h says $VERSION" || bad "version.h: $(grep STRING "$prefix/include/dubbo/version.h")"

# 3. Exported symbols: exactly the functions the installed headers declare.
nm -D --defined-only "$libdir/libdubbo.so" | awk '{print $3}' | sort -u >"$tmp/exported"
others=$(grep -v '^dubbo_' "$tmp/exported"; grep '^dubbo__' "$tmp/exported")
[ -z "$others" ] && ok "libdubbo.so exports $(wc -l <"$tmp/exported") symbols, all dubbo_*, no dubbo__*" ||
    bad "exported besides the public API: $(echo $others)"
# A function declared at the start of a line in a public header, DUBBO_API or
# not (static inline ones aside).
cat "$prefix"/include/dubbo/*.h | grep -v -E '^(static|typedef)' |
    sed -n -E 's/^(DUBBO_API )?[A-Za-z][^;(]*[ *](dubbo_[a-z0-9_]+)\(.*/\2/p' |
    grep -v '^dubbo__' | sort -u >"$tmp/declared"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] && ok "every function of the public headers ($(wc -l <"$tmp/declared")) is exported" ||
    bad "declared but not exported (DUBBO_API missing?): $(echo $missing)"
[ -z "$extra" ] && ok "nothing is exported that no public header declares" ||
    bad "exported but not declared: $(echo $extra)"

# 4. A provider of the build tree for the consumers to call.
export DUBBO_REGISTRY="file://$tmp/registry"
"$DUBBO" demo provider --host 127.0.0.1 --port 0 >"$tmp/provider.log" 2>&1 &
provider=$!
for _ in $(seq 250); do grep -q "listening on" "$tmp/provider.log" && break; sleep 0.02; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/provider.log")
[ -n "$port" ] || { cat "$tmp/provider.log"; bad "demo provider did not start"; finish; }
url=dubbo://127.0.0.1:$port/org.apache.dubbo.demo.DemoService

# run NAME BINARY: runs a consumer against the provider (no LD_LIBRARY_PATH:
# each build must find libdubbo.so by itself or be told below).
run() {
    local name=$1
    shift
    if out=$(DUBBO_LOG=warn "$@" "$url" 2>&1) && grep -q '^ok$' <<<"$out"; then
        ok "$name: $(tr '\n' ' ' <<<"$out")"
    else
        bad "$name: $out"
    fi
}

# 5. pkg-config, shared: what the README shows.
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs dubbo) || bad "pkg-config --cflags --libs dubbo"
echo "pkg-config --cflags --libs dubbo: $flags"
[ "$(pkg-config --modversion dubbo)" = "$VERSION" ] && ok "pkg-config --modversion dubbo: $VERSION" ||
    bad "pkg-config --modversion: $(pkg-config --modversion dubbo)"
# shellcheck disable=SC2086
if $CC -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_shared" "$CONSUMER/consumer.c" $flags 2>"$tmp/cc.log"; then
    ok "built with \$(pkg-config --cflags --libs dubbo)"
    objdump -p "$tmp/pc_shared" | grep -q "NEEDED *$want_so\$" && ok "it needs $want_so" ||
        bad "pc_shared does not need $want_so: $(objdump -p "$tmp/pc_shared" | grep NEEDED)"
    LD_LIBRARY_PATH=$libdir run "pkg-config (shared, LD_LIBRARY_PATH)" "$tmp/pc_shared"
else
    cat "$tmp/cc.log"
    bad "cc with pkg-config flags"
fi

# 6. pkg-config --static: libdubbo.a and its private dependencies.
static_flags=$(pkg-config --static --cflags --libs dubbo | sed 's/-ldubbo /-Wl,-Bstatic -ldubbo -Wl,-Bdynamic /')
echo "pkg-config --static --libs dubbo: $(pkg-config --static --libs dubbo)"
# shellcheck disable=SC2086
if $CC -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_static" "$CONSUMER/consumer.c" $static_flags 2>"$tmp/cc.log"; then
    ok "built with libdubbo.a and \$(pkg-config --static --libs dubbo)"
    objdump -p "$tmp/pc_static" | grep -q "NEEDED *libdubbo" && bad "pc_static needs libdubbo.so"
    run "pkg-config --static" "$tmp/pc_static"
else
    cat "$tmp/cc.log"
    bad "cc with pkg-config --static flags"
fi

# 7. CMake: find_package(dubbo) and dubbo::dubbo (the build tree's RPATH
# finds the library).
if cmake -S "$CONSUMER" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$prefix" \
        -DDUBBO_EXPECTED_VERSION="$VERSION" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" \
        >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cmake-consumer" >>"$tmp/cmake.log" 2>&1; then
    ok "built with find_package(dubbo $VERSION) and dubbo::dubbo"
    run "find_package" "$tmp/cmake-consumer/install_consumer"
else
    cat "$tmp/cmake.log"
    bad "cmake find_package(dubbo)"
fi
# A version the package must refuse (0.x: another minor is another ABI).
next=$(echo "$VERSION" | awk -F. '{print $1 "." $2 + 1}')
if cmake -S "$CONSUMER" -B "$tmp/cmake-refuse" -DCMAKE_PREFIX_PATH="$prefix" \
        -DDUBBO_EXPECTED_VERSION="$next" >"$tmp/refuse.log" 2>&1; then
    bad "find_package(dubbo $next) accepted $VERSION"
else
    ok "find_package(dubbo $next) refuses $VERSION"
fi
finish
