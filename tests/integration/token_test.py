#!/usr/bin/env python3
"""Token auth on every protocol (issue 17): one demo provider serving dubbo,
tri and rest with `--param token=s3cret` (the provider filter `token`,
src/filter/token.c, which every protocol's calls go through). For each
protocol, our consumer without the token is refused with "Invalid token"
and with it (`--param token=...`, sent as the `token` attachment: a Dubbo
attachment, an HTTP/2 header, an HTTP/1 header) is served; curl without and
with the `token` header (REST); grpcio without and with `token` metadata
(Triple). Prints PASS/FAIL per case and "N passed, N failed"."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from interoplib import Proc  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
TOKEN = "s3cret"
GRPC_CALL = """
import sys, grpc
ch = grpc.insecure_channel(sys.argv[1])
md = [('token', sys.argv[2])] if len(sys.argv) > 2 else None
try:
    print('OK', repr(ch.unary_unary('/helloworld.Greeter/SayHello')(b'\\x0a\\x01g', timeout=10,
                                                                     metadata=md)))
except grpc.RpcError as e:
    print('ERR', e.code(), e.details())
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    passed, failed = 0, []

    def case(name, ok, detail=""):
        nonlocal passed
        if ok:
            passed += 1
            print("PASS %s" % name, flush=True)
        else:
            failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[:800]), flush=True)

    p = Proc("provider", [a.cli, "demo", "provider", "--protocol", "dubbo,tri,rest", "--host",
                          "127.0.0.1", "--port", "0", "--registry", "none", "--param",
                          "token=" + TOKEN], dict(os.environ), a.work)
    try:
        m = p.wait_line(r"^listening on .*:(\d+)$", 60)
        if not m:
            case("provider starts", False)
            return 1
        port = int(m.group(1))
        for proto in ("dubbo", "tri", "rest"):
            url = "%s://127.0.0.1:%d/%s" % (proto, port, ITF)
            base = [a.cli, "call", url, "sayHello", '"%s"' % proto, "--param", "retries=0"]
            r = subprocess.run(base, capture_output=True, text=True, timeout=60)
            case("%s without the token: refused" % proto,
                 r.returncode != 0 and "Invalid token" in r.stderr, r.stdout + r.stderr)
            r = subprocess.run(base + ["--param", "token=wrong"], capture_output=True, text=True,
                               timeout=60)
            case("%s with a wrong token: refused" % proto,
                 r.returncode != 0 and "Invalid token" in r.stderr, r.stdout + r.stderr)
            r = subprocess.run(base + ["--param", "token=" + TOKEN], capture_output=True,
                               text=True, timeout=60)
            case("%s with the token: served" % proto,
                 r.returncode == 0 and '"Hello %s"' % proto in r.stdout, r.stdout + r.stderr)
        u = "http://127.0.0.1:%d/demo/hello/curl" % port
        r = subprocess.run(["curl", "-s", u], capture_output=True, text=True, timeout=30)
        case("curl without the token header: refused", "Invalid token" in r.stdout, r.stdout)
        r = subprocess.run(["curl", "-s", "-H", "token: " + TOKEN, u], capture_output=True,
                           text=True, timeout=30)
        case("curl with the token header: served", r.stdout == '"Hello curl"', r.stdout)
        addr = "127.0.0.1:%d" % port
        r = subprocess.run(["/usr/bin/python3", "-c", GRPC_CALL, addr], capture_output=True,
                           text=True, timeout=60, cwd="/")
        case("grpcio without token metadata: refused",
             r.stdout.startswith("ERR") and "Invalid token" in r.stdout, r.stdout + r.stderr)
        r = subprocess.run(["/usr/bin/python3", "-c", GRPC_CALL, addr, TOKEN],
                           capture_output=True, text=True, timeout=60, cwd="/")
        case("grpcio with token metadata: served", r.stdout.startswith("OK"),
             r.stdout + r.stderr)
    finally:
        p.stop()
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
