#!/usr/bin/env python3
"""interop/fastjson: the fastjson serialization (Dubbo header id 6) against
Java Dubbo 3.3.6 (tests/interop/java, with dubbo-serialization-fastjson 3.2.0),
both ways, direct on loopback (::1: Java rewrites 127.x addresses):

  c_consumer  --serialization=fastjson-->  JavaProvider --param serialization=fastjson
  JavaConsumer --serialization=fastjson--> dubbo demo provider

Each side runs the matrix's cases that fastjson can carry (docs/serialization-json.md
says why echo_list and the User cases are left out). Exit 0 when every case passes;
77 (skip) only with DUBBO_C_ALLOW_SKIP=1 when java or mvn is missing."""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = ["say_hello", "echo_string", "echo_int", "echo_long", "echo_double", "echo_null",
          "echo_map", "echo_bytes", "echo_date", "echo_bigdecimal", "exception", "generic",
          "attachments", "heartbeat"]


def start(argv, log, pattern, env):
    out = open(log, "w")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=out, text=True, env=env)
    deadline = time.time() + 90
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return p, int(m.group(1))
    p.kill()
    sys.exit("fastjson_test: %s did not start (see %s)" % (argv[0], log))


def run_cases(argv, cases, env, log):
    r = subprocess.run(argv + ["--cases", ",".join(cases)], capture_output=True, text=True,
                       env=env, timeout=300)
    with open(log, "w") as f:
        f.write(r.stderr)
    ok = True
    seen = set()
    for line in r.stdout.splitlines():
        m = re.match(r"RESULT (\S+) (PASS|FAIL|SKIP) ?(.*)", line)
        if not m:
            continue
        seen.add(m.group(1))
        print("  %-16s %s %s" % (m.group(1), m.group(2), m.group(3)[:120]), flush=True)
        ok &= m.group(2) == "PASS"
    missing = set(cases) - seen
    if missing:
        print("  missing results: %s" % ", ".join(sorted(missing)))
    return ok and not missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--c-consumer", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    b = subprocess.run([os.path.join(a.source, "tests/interop/java/build.sh")],
                       capture_output=True, text=True)
    if b.returncode == 77:
        print(b.stderr.strip())
        sys.exit(77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1)
    if b.returncode:
        sys.exit("fastjson_test: the Java peer did not build:\n" + b.stderr)
    with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
        cp = f.read().strip()
    java = ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp]
    env = dict(os.environ, DUBBO_IP_TO_BIND="::1", DUBBO_IP_TO_REGISTRY="::1")
    procs = []
    ok = True
    try:
        p, port = start(java + ["org.dubboc.interop.JavaProvider", "--port", "0",
                                "--param", "serialization=fastjson"],
                        os.path.join(a.work, "java-provider.log"), r"^READY (\d+)", env)
        procs.append(p)
        print("c_consumer -> JavaProvider (fastjson)", flush=True)
        ok &= run_cases([a.c_consumer, "--sample", os.path.join(HERE, "sample-user.json"),
                         "--url", "dubbo://[::1]:%d" % port, "--param", "serialization=fastjson",
                         "--expect-exception", "org.apache.dubbo.demo.DemoException"],
                        COMMON, env, os.path.join(a.work, "c-consumer.log"))
        p, port = start([a.cli, "demo", "provider", "--host", "::1", "--port", "0",
                         "--application", "dubbo-c-provider", "--registry", "none"],
                        os.path.join(a.work, "c-provider.log"), r"listening on .*:(\d+)$", env)
        procs.append(p)
        print("JavaConsumer (fastjson) -> dubbo-c provider", flush=True)
        ok &= run_cases(java + ["org.dubboc.interop.JavaConsumer", "--url",
                                "dubbo://[::1]:%d" % port, "--param", "serialization=fastjson",
                                "--expect-exception", "java.lang.IllegalStateException"],
                        COMMON + ["echo_service"], env, os.path.join(a.work, "java-consumer.log"))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    print("fastjson_test: %s" % ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
