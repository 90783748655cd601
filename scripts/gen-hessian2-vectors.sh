#!/usr/bin/env bash
# Regenerate the committed Hessian 2.0 test vectors from the real peers:
# tests/vectors/hessian2/java.tsv (Caucho Hessian 4.0.38, /usr/share/java/hessian.jar)
# and js.tsv (hessian.js 2.11, tests/interop/peers/node_modules), one line per
# case of tests/interop/hessian2-cases.txt: name TAB hex TAB expected-json...;
# and java-lite.tsv (Dubbo 3.3.6's hessian-lite, tests/interop/java), one line
# per case of tests/interop/java/lite-cases.txt.
# Deterministic: running it twice gives identical files.
set -euo pipefail
cd "$(dirname "$0")/.."

HESSIAN_JAR=${HESSIAN_JAR:-/usr/share/java/hessian.jar}
PEERS=tests/interop/peers
CASES=tests/interop/hessian2-cases.txt
OUT=tests/vectors/hessian2

for tool in javac java node; do
  command -v "$tool" >/dev/null || { echo "gen-hessian2-vectors: $tool not found" >&2; exit 1; }
done
[ -f "$HESSIAN_JAR" ] || { echo "gen-hessian2-vectors: $HESSIAN_JAR not found (apt-get install libhessian-java)" >&2; exit 1; }
[ -d "$PEERS/node_modules/hessian.js" ] || (cd "$PEERS" && npm ci --no-audit --no-fund)

classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
javac -nowarn -encoding UTF-8 -cp "$HESSIAN_JAR" -d "$classes" $(find "$PEERS/java" -name '*.java' | sort)

mkdir -p "$OUT"
java --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
     --add-opens java.base/java.math=ALL-UNNAMED -cp "$HESSIAN_JAR:$classes" \
     Hessian2Peer gen "$CASES" "$OUT/java.tsv.tmp"
node "$PEERS/js/hessian2-peer.js" gen "$CASES" "$OUT/js.tsv.tmp"
# Dubbo's own hessian-lite, through the Java Dubbo 3.3 reference peer
# (tests/interop/java; built once per machine by its build.sh).
peer=$(bash tests/interop/java/build.sh | tail -n 1)
java -cp "$(cat "$peer/classpath")" org.dubboc.interop.LiteVectors gen \
     tests/interop/java/lite-cases.txt "$OUT/java-lite.tsv.tmp"
mv "$OUT/java-lite.tsv.tmp" "$OUT/java-lite.tsv"
mv "$OUT/java.tsv.tmp" "$OUT/java.tsv"
mv "$OUT/js.tsv.tmp" "$OUT/js.tsv"
echo "gen-hessian2-vectors: $(wc -l <"$OUT/java.tsv") java and $(wc -l <"$OUT/js.tsv") js vectors in $OUT"
