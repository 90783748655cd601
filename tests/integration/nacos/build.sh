#!/usr/bin/env bash
# Builds the Nacos 0.8.0 naming server (pom.xml) once per machine.
#
#   build.sh          build if needed; the last line on stdout is the output directory
#   build.sh --print  print the output directory if it is built, else exit 1 (never builds)
#
# Output: ${DUBBO_C_CACHE:-/var/cache/dubbo-c}/nacos-server-<16 hex of pom.xml + src/>/
#   classes/ lib/*.jar  classpath (one line)  stamp (written last)
# Maven's local repository is the cache's m2/, shared with the Java peer.
# Run: java -cp "$(cat "$DIR/classpath")" org.dubboc.nacos.NacosStandalone (see start.sh)
# Exit 77 (ctest's skip code) when java or mvn is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}
layout=1 # bump when the output directory is laid out differently

sum=$(
    cd "$here"
    echo "layout $layout"
    { echo pom.xml; find src -type f; } | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"
    done
)
out="$root/nacos-server-$(printf '%s\n' "$sum" | sha256sum | cut -c1-16)"

case "${1:-}" in
--print)
    [ -f "$out/stamp" ] && { echo "$out"; exit 0; }
    exit 1
    ;;
"") ;;
*)
    echo "usage: build.sh [--print]" >&2
    exit 2
    ;;
esac
[ -f "$out/stamp" ] && { echo "$out"; exit 0; }

for tool in java mvn; do
    command -v "$tool" >/dev/null || {
        echo "SKIP: $tool not on PATH (apt-get install openjdk-17-jdk-headless maven)" >&2
        exit 77
    }
done

mkdir -p "$root/m2"
exec 9>"$root/nacos-server.lock" # one build at a time
flock 9
[ -f "$out/stamp" ] && { echo "$out"; exit 0; }

work=$(mktemp -d "$root/nacos-server-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$here/pom.xml" "$here/src" "$work/"
echo "build.sh: building the Nacos 0.8.0 server into $out (once per machine)" >&2
start=$(date +%s)
if ! mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$root/m2" package >"$work/maven.log" 2>&1; then
    echo "build.sh: Maven failed; its output:" >&2
    cat "$work/maven.log" >&2
    exit 1
fi
stage="$work/out"
mkdir -p "$stage"
cp -r "$work/target/classes" "$work/target/lib" "$stage/"
cp_line="$out/classes"
IFS=: read -r -a entries <<<"$(cat "$work/target/classpath.relative")"
for e in "${entries[@]}"; do
    [ -z "$e" ] && continue
    [ -f "$stage/$e" ] || { echo "build.sh: $e missing from lib/" >&2; exit 1; }
    cp_line="$cp_line:$out/$e"
done
printf '%s\n' "$cp_line" >"$stage/classpath"
printf 'built %s in %s s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - start))" >"$stage/stamp.tmp"
rm -rf "$out"
mv "$stage" "$out"
mv "$out/stamp.tmp" "$out/stamp"
echo "$out"
