#!/usr/bin/env bash
# A throwaway standalone ZooKeeper (Debian's 3.8 jar) on loopback, for tests.
#   zkserver.sh start DIR [PORT]  start with dataDir DIR/data on PORT (default:
#                                 DIR/port if there, else a free port); waits
#                                 for ruok -> imok; prints the port
#   zkserver.sh stop DIR          stop it (SIGTERM, then SIGKILL), keep the data
#   zkserver.sh restart DIR       stop, then start on the same port and data
# Fast expiry for tests: tickTime 200 ms, sessions 400 ms to 10 s.
# Exit 77 when Java or the ZooKeeper jar is missing (the ctest skip code).
set -u
cmd=${1:?usage: zkserver.sh start|stop|restart DIR [PORT]}
dir=${2:?usage: zkserver.sh start|stop|restart DIR [PORT]}
JAR=${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ruok PORT: prints the server's answer (imok when serving)
ruok() {
    local out=""
    if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
        printf ruok >&3
        out=$(timeout 1 cat <&3 2>/dev/null)
        exec 3<&- 3>&-
    fi
    printf '%s' "$out"
}

stop() {
    [ -f "$dir/pid" ] || return 0
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$dir/pid"
}

start() {
    if ! command -v java >/dev/null; then
        echo "SKIP: no java on PATH (install openjdk-17-jre-headless)" >&2
        exit 77
    fi
    if [ ! -f "$JAR" ]; then
        echo "SKIP: $JAR missing (apt-get install zookeeper)" >&2
        exit 77
    fi
    mkdir -p "$dir/data"
    local port=${1:-}
    [ -z "$port" ] && [ -f "$dir/port" ] && port=$(cat "$dir/port")
    [ -z "$port" ] && port=$(free_port)
    cat >"$dir/zoo.cfg" <<EOF
tickTime=200
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=400
maxSessionTimeout=10000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
EOF
    cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=$dir/zookeeper.log
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p %c{1}: %m%n
EOF
    echo "$port" >"$dir/port"
    local cp="$dir:$JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
    # setsid: the test's process group signals must not reach the server
    setsid java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$cp" \
        -Dlog4j.configuration="file:$dir/log4j.properties" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
        >>"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 300); do
        if [ "$(ruok "$port")" = imok ]; then
            echo "$port"
            return 0
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "zkserver: ZooKeeper did not come up on 127.0.0.1:$port" >&2
    tail -20 "$dir/stdout.log" "$dir/zookeeper.log" >&2 2>/dev/null
    stop
    return 1
}

case $cmd in
start) start "${3:-}" ;;
stop) stop ;;
restart)
    stop
    start
    ;;
*)
    echo "usage: zkserver.sh start|stop|restart DIR [PORT]" >&2
    exit 2
    ;;
esac
