#!/usr/bin/env bash
# Starts the Nacos 0.8.0 server (build.sh: naming and config) standalone on
# 127.0.0.1:PORT with its data in DIR, and waits until both APIs answer.
#
#   start.sh DIR PORT     prints the server's pid; its log is DIR/server.log
#
# Exit 77 when it cannot be built here (no java/mvn), 1 when it does not
# come up within 60 s. Standalone: no cluster, data in DIR/home (config's
# embedded Derby too, created from the schema nacos-config ships, which
# Nacos's distribution would have put in conf/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$1 port=$2
build=$(bash "$here/build.sh" | tail -1)
mkdir -p "$dir/home/conf"
cfgjar=$(tr ':' '\n' <"$build/classpath" | grep '/nacos-config-[0-9.]*\.jar$' | head -1)
python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("META-INF/schema.sql"))' \
    "$cfgjar" >"$dir/home/conf/schema.sql"
# -Dnacos.server.ip: the member address of the standalone "cluster"; the
# machine's first address otherwise, which loopback-only tests avoid
java -Xmx256m -XX:+UseSerialGC -Xss512k \
    -Dnacos.standalone=true -Dnacos.home="$dir/home" -Dnacos.logs.path="$dir/logs" \
    -Dnacos.server.ip=127.0.0.1 -Dderby.stream.error.file="$dir/derby.log" \
    -Dserver.address=127.0.0.1 -Dserver.port="$port" \
    -cp "$(cat "$build/classpath")" org.dubboc.nacos.NacosStandalone >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: Nacos exited; its log:" >&2
        tail -40 "$dir/server.log" >&2
        exit 1
    fi
    # the naming API answers (404 "dom not found" for an unknown service),
    # and the config API (404 "config data not exist")
    code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -m 1 \
        "http://127.0.0.1:$port/nacos/v1/ns/instance/list?serviceName=start.sh" || true)
    ccode=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -m 1 \
        "http://127.0.0.1:$port/nacos/v1/cs/configs?dataId=start.sh&group=start.sh" || true)
    if { [ "$code" = 404 ] || [ "$code" = 200 ]; } && [ "$ccode" = 404 ]; then
        echo "$pid"
        exit 0
    fi
    sleep 0.1
done
echo "start.sh: Nacos did not answer on 127.0.0.1:$port within 60 s; its log:" >&2
tail -40 "$dir/server.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
