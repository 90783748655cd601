#!/usr/bin/env python3
"""interop/protobuf-java: the protobuf serializations of the Dubbo protocol
(protobuf, header id 22, and protobuf-json, id 21;
docs/serialization-protobuf.md) against Java Dubbo 3.3.6 with
dubbo-serialization-protobuf 3.2.0 (tests/interop/java), both ways, over real
sockets on ::1 (Java rewrites 127.x addresses), for each serialization:

  PbConsumer  -> PbProvider                        (Java -> Java, the baseline)
  pb_consumer -> PbProvider                        (dubbo-c -> Java)
  PbConsumer  -> dubbo demo provider --protocol dubbo,tri   (Java -> dubbo-c)
  pb_consumer -> dubbo demo provider               (dubbo-c -> dubbo-c)

Every call is helloworld.Greeter/SayHello (the method name Java's generated
stub sends) with a HelloRequest in and a HelloReply out (with protobuf-json
our consumer sends a map and our IDL provider converts maps with its
schema). One Java provider per serialization (a Java provider checks that a
request's serialization is its own); our provider serves both. Each pair's
expectations are a row of the table EXPECT: the cases it runs and the text
its exception case must see. Writes the matrix to --matrix-out and to
docs/interop.md between <!-- matrix:protobuf-java:begin/end -->.
Exit 0 when every case passes; 77 (skip) only with DUBBO_C_ALLOW_SKIP=1 when
java or mvn is missing."""
import argparse
import datetime
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc, write_section  # noqa: E402

JAVA_CASES = ["say_hello", "say_hello_unicode", "say_hello_empty", "exception", "unknown_method", "attachments",
              "heartbeat"]
C_CASES = ["heartbeat", "say_hello", "say_hello_unicode", "say_hello_empty", "exception",
           "unknown_method", "attachments"]
ALL_CASES = ["say_hello", "say_hello_unicode", "say_hello_empty", "exception", "unknown_method",
             "attachments", "heartbeat"]

# (consumer, provider, what the exception case must see). Java's exception
# travels as a ThrowableProto and reads back as ProtobufWrappedException
# ("<class>: <message>"); our IDL handler's error (dubbo_tri_fail, gRPC
# UNKNOWN) travels as status 70 SERVICE_ERROR with its message, which Java
# shows as an RpcException around a RemotingException.
EXPECT = [
    ("java", "java", {"exception": ("org.apache.dubbo.common.serialize.protobuf.support."
                                    "ProtobufWrappedException", "java.lang.IllegalStateException: boom")}),
    ("c", "java", {"exception": "exception java.lang.IllegalStateException: boom"}),
    ("java", "c", {"exception": ("org.apache.dubbo.rpc.RpcException",
                                 "org.apache.dubbo.remoting.RemotingException: boom")}),
    ("c", "c", {"exception": "status 70: "}),
]
NAMES = {"java": "Java Dubbo 3.3.6", "c": "dubbo-c"}
SERIALIZATIONS = ["protobuf", "protobuf-json"]


def run_cases(argv, env, log):
    """{case: (verdict, detail)} from the RESULT lines of a consumer run."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        out, err = r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        out, err = e.stdout or "", "timed out\n" + (e.stderr or "")
        out = out.decode() if isinstance(out, bytes) else out
        err = err.decode() if isinstance(err, bytes) else err
    with open(log, "w") as f:
        f.write(err)
    got = {}
    for line in out.splitlines():
        m = re.match(r"RESULT (\S+) (PASS|FAIL|SKIP) ?(.*)", line)
        if m:
            got[m.group(1)] = (m.group(2).lower(), m.group(3))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--pb-consumer", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--matrix-out")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    b = subprocess.run([os.path.join(a.source, "tests/interop/java/build.sh")],
                       capture_output=True, text=True)
    if b.returncode == 77:
        print(b.stderr.strip())
        sys.exit(77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1)
    if b.returncode:
        sys.exit("protobuf_test: the Java peer did not build:\n" + b.stderr)
    with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
        cp = f.read().strip()
    java = ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp]
    env = dict(os.environ, DUBBO_IP_TO_BIND="::1", DUBBO_IP_TO_REGISTRY="::1")

    providers = {}
    results = {}
    try:
        # heartbeat=1000: the Java server closes a connection it has read
        # nothing from for 3 s, so the heartbeat case's 5 s idle holds only if
        # it reads the consumer's heartbeats
        jps = {ser: Proc("java-provider-" + ser,
                         java + ["org.dubboc.interop.PbProvider", "--port", "0", "--param",
                                 "heartbeat=1000", "--param", "serialization=" + ser], env, a.work)
               for ser in SERIALIZATIONS}
        cprov = Proc("c-provider", [a.cli, "demo", "provider", "--host", "::1", "--port", "0",
                                    "--protocol", "dubbo,tri", "--application", "dubbo-c-provider",
                                    "--registry", "none"], env, a.work)
        for ser, jp in jps.items():
            m = jp.wait_line(r"^READY (\d+)", 90)
            if not m:
                sys.exit("protobuf_test: PbProvider did not start (see %s/java-provider-%s.log)"
                         % (a.work, ser))
            providers[("java", ser)] = (jp, int(m.group(1)))
        m = cprov.wait_line(r"listening on .*:(\d+)$", 30)
        if not m:
            sys.exit("protobuf_test: the demo provider did not start (see %s/c-provider.log)" % a.work)
        for ser in SERIALIZATIONS:
            providers[("c", ser)] = (cprov, int(m.group(1)))

        for ser in SERIALIZATIONS:
            for consumer, provider, want in EXPECT:
                url = "dubbo://[::1]:%d" % providers[(provider, ser)][1]
                log = os.path.join(a.work, "%s-to-%s-%s.log" % (consumer, provider, ser))
                if consumer == "java":
                    cls, text = want["exception"]
                    argv = java + ["org.dubboc.interop.PbConsumer", "--url", url, "--cases",
                                   ",".join(JAVA_CASES), "--expect-exception", cls,
                                   "--expect-message", text, "--param", "serialization=" + ser]
                    cases = JAVA_CASES
                else:
                    argv = [a.pb_consumer, "--url", url, "--cases", ",".join(C_CASES),
                            "--expect-exception", want["exception"], "--param",
                            "serialization=" + ser]
                    cases = C_CASES
                print("%s -> %s (%s)" % (NAMES[consumer], NAMES[provider], ser), flush=True)
                got = run_cases(argv, env, log)
                for c in cases:
                    v, d = got.get(c, ("fail", "no RESULT line (see %s)" % log))
                    print("  %-18s %s %s" % (c, v.upper(), d[:140]), flush=True)
                results[(consumer, provider, ser)] = (cases, got)
    finally:
        for p in {id(p): p for p, _ in providers.values()}.values():
            p.stop()
        for p in list(locals().get("jps", {}).values()) + [locals().get("cprov")]:
            if p and p.alive():
                p.stop()

    ok = True
    rows = []
    notes = []
    for ser, (consumer, provider, _) in [(s, e) for s in SERIALIZATIONS for e in EXPECT]:
        cases, got = results.get((consumer, provider, ser), ([], {}))
        cells = []
        for c in ALL_CASES:
            if c not in cases:
                cells.append("—")
                continue
            v, d = got.get(c, ("fail", "no result"))
            ok &= v == "pass"
            cells.append(v)
            if c == "exception" or v != "pass":
                # the ports change from run to run
                d = re.sub(r"(::1\]?):\d+", r"\1:PORT", d).replace("|", "\\|")
                notes.append("- %s → %s (%s), %s: %s" % (NAMES[consumer], NAMES[provider], ser, c,
                                                         d[:200]))
        rows.append("| %s → %s | %s | %s |" % (NAMES[consumer], NAMES[provider], ser,
                                               " | ".join(cells)))
    day = datetime.date.today().isoformat()
    text = "\n".join([
        "Generated by `tests/interop/matrix/protobuf_test.py` (ctest `interop/protobuf-java`) on %s: "
        "helloworld.Greeter over the Dubbo protocol with serialization=protobuf (id 22) and "
        "serialization=protobuf-json (id 21), Java Dubbo 3.3.6 "
        "with dubbo-serialization-protobuf 3.2.0 (— : not in that consumer's cases)." % day,
        "",
        "| consumer → provider | serialization | " + " | ".join(ALL_CASES) + " |",
        "|---|---|" + "---|" * len(ALL_CASES),
    ] + rows + [""] + notes + [
        "",
        "Cases: `say_hello` SayHello({name: \"world\"}) answers \"Hello world\"; `say_hello_unicode` "
        "the same with a non-ASCII name; `say_hello_empty` an empty HelloRequest (zero bytes); "
        "`exception` SayHello(\"boom\") fails as the provider maps it; `unknown_method` SayGoodbye "
        "is an error naming it; `attachments` the request attachment `dubbo-c-test` comes back as "
        "the response attachment `echo-dubbo-c-test`; `heartbeat` the provider sees the same "
        "consumer address before and after 5 s idle with heartbeat=1000 (the Java provider closes "
        "what it reads nothing from for 3 s).",
        "",
    ])
    if a.matrix_out:
        with open(a.matrix_out, "w") as f:
            f.write(text)
    write_section(os.path.join(a.source, "docs", "interop.md"), "protobuf-java", text)
    print("protobuf_test: %s" % ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
