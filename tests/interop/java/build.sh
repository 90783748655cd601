#!/usr/bin/env bash
# Builds the Java Dubbo 3.3 reference peer once per machine.
#
#   build.sh          build if needed; the last line on stdout is the output directory
#   build.sh --print  print the output directory if it is built, else exit 1 (never builds)
#
# Cache root ${DUBBO_C_CACHE:-/var/cache/dubbo-c}:
#   m2/                           Maven's local repository (-Dmaven.repo.local)
#   java-peer-<16 hex>/           one per content of pom.xml + src/ (sha256, first 16 hex):
#       classes/  lib/*.jar       compiled peer, every runtime dependency
#       classpath                 the full runtime classpath on one line
#       stamp                     written last: the directory is complete
# Run a program with:  java -cp "$(cat "$DIR/classpath")" org.dubboc.interop.JavaProvider ...
# Exit 77 (the ctest skip code) when java or mvn is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${DUBBO_C_CACHE:-/var/cache/dubbo-c}
# bump when this script lays the output directory out differently
layout=1

# the content hash: layout version, then every input file's path and sha256, in a fixed order
digest() {
    (
        cd "$here"
        echo "layout $layout"
        { echo pom.xml; find src -type f; } | LC_ALL=C sort | while IFS= read -r f; do
            printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"
        done
    ) | sha256sum | cut -c1-16
}

out="$root/java-peer-$(digest)"

if [ "${1:-}" = "--print" ]; then
    if [ -f "$out/stamp" ]; then
        echo "$out"
        exit 0
    fi
    exit 1
elif [ $# -gt 0 ]; then
    echo "usage: build.sh [--print]" >&2
    exit 2
fi

if [ -f "$out/stamp" ]; then
    echo "$out"
    exit 0
fi

for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not on PATH (apt-get install openjdk-17-jdk-headless maven)" >&2
        exit 77
    fi
done

mkdir -p "$root/m2"
# one build at a time on this machine (they share the Maven repository)
exec 9>"$root/java-peer.lock"
flock 9
if [ -f "$out/stamp" ]; then # built by whoever held the lock before us
    echo "$out"
    exit 0
fi

work=$(mktemp -d "$root/java-peer-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/pom.xml" "$work/"
cp -r "$here/src" "$work/"

echo "build.sh: building the Java peer into $out (once per machine)" >&2
start=$(date +%s)
if ! mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$root/m2" package >"$work/maven.log" 2>&1; then
    echo "build.sh: Maven failed; its output:" >&2
    cat "$work/maven.log" >&2
    exit 1
fi

stage="$work/out"
mkdir -p "$stage"
cp -r "$work/target/classes" "$stage/classes"
cp -r "$work/target/lib" "$stage/lib"
# lib/x.jar:lib/y.jar (Maven's resolution order) -> absolute paths in the final directory
rel=$(cat "$work/target/classpath.relative")
cp_line="$out/classes"
IFS=: read -r -a entries <<<"$rel"
for e in "${entries[@]}"; do
    [ -n "$e" ] && cp_line="$cp_line:$out/$e"
done
printf '%s\n' "$cp_line" >"$stage/classpath"
# every entry must exist once moved into place
for e in "${entries[@]}"; do
    [ -z "$e" ] || [ -f "$stage/$e" ] || { echo "build.sh: $e missing from lib/" >&2; exit 1; }
done
{
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - start)) s"
    echo "java $(java -version 2>&1 | head -1)"
    echo "sources $here"
} >"$stage/stamp.tmp"

rm -rf "$out"
mv "$stage" "$out"
mv "$out/stamp.tmp" "$out/stamp"
echo "$out"
