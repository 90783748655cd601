#!/usr/bin/env python3
"""Unix-domain sockets (issue 17, seed 001): `unix:PATH` as the listen
address of a port serving dubbo, tri and rest, and `unix=PATH` as the
provider address of consumers.

Cases: our consumer over each protocol; curl --unix-socket over REST and
grpcio's unix: target over Triple (third-party clients); the provider URL
registered in the embedded registry carries the path and a consumer finds
the provider through it; a stale socket file (its process gone) is removed
at start, a live one or a file that is not a socket refuses the start with
a message naming it; the socket file's mode decides who may connect (a
umask 077 provider refuses user nobody, root still connects); graceful
shutdown removes the file.

Prints PASS/FAIL per case and "N passed, N failed"; exit 0 when all passed."""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from interoplib import Proc  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
GRPC_CALL = """
import sys, grpc
ch = grpc.insecure_channel(sys.argv[1])
print(repr(ch.unary_unary('/helloworld.Greeter/SayHello')(b'\\x0a\\x04unix', timeout=10)))
"""


class Run:
    def __init__(self, a):
        self.a = a
        self.passed = 0
        self.failed = []

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[:1500]), flush=True)

    def provider(self, name, path, extra=(), shell_prefix=None):
        argv = [self.a.cli, "demo", "provider", "--protocol", "dubbo,tri,rest", "--host",
                "unix://" + path] + list(extra)
        if shell_prefix:
            argv = ["sh", "-c", shell_prefix + ' exec "$@"', "sh"] + argv
        return Proc(name, argv, dict(os.environ), self.a.work)

    def call(self, url, arg, user=None):
        argv = [self.a.cli, "call", url, "sayHello", '"%s"' % arg, "--param", "retries=0",
                "--timeout", "2000"]
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def run(self):
        w = self.a.work
        os.makedirs(w, exist_ok=True)
        d = os.path.join(w, "socks")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        os.chmod(d, 0o755)
        reg = "file://" + os.path.join(w, "registry")
        shutil.rmtree(os.path.join(w, "registry"), ignore_errors=True)
        path = os.path.join(d, "demo.sock")
        procs = []
        try:
            p = self.provider("provider", path, ["--registry", reg])
            procs.append(p)
            ok = p.wait_line(r"^listening on unix:", 60)
            self.case("provider listens on unix:" + path, ok and os.path.exists(path))
            for proto in ("dubbo", "tri", "rest"):
                r = self.call("%s://localhost/%s?unix=%s" % (proto, ITF, path), proto + " unix")
                self.case("dubbo-c consumer over %s, unix socket" % proto,
                          r.returncode == 0 and '"Hello %s unix"' % proto in r.stdout,
                          r.stdout + r.stderr)
            r = subprocess.run(["curl", "-s", "--unix-socket", path, "http://x/demo/hello/curl"],
                               capture_output=True, text=True, timeout=30)
            self.case("curl --unix-socket over REST", r.stdout == '"Hello curl"',
                      r.stdout + r.stderr)
            r = subprocess.run(["/usr/bin/python3", "-c", GRPC_CALL, "unix://" + path],
                               capture_output=True, text=True, timeout=60, cwd="/")
            self.case("grpcio over a unix socket (Triple)",
                      r.stdout.strip() == repr(b"\x0a\x0aHello unix"), r.stdout + r.stderr)
            r = self.call(reg + "/" + ITF, "registry")
            self.case("consumer through the registry (the URL carries unix=PATH)",
                      r.returncode == 0 and '"Hello registry"' in r.stdout, r.stdout + r.stderr)
            r = subprocess.run([self.a.cli, "list", reg, ITF], capture_output=True, text=True,
                               timeout=30)
            self.case("registered URL names the socket",
                      ("unix=" + path) in r.stdout.replace("%2F", "/"), r.stdout[-600:])

            # a live socket: the second provider must not take it over
            p2 = self.provider("provider-second", path, ["--registry", "none"])
            procs.append(p2)
            rc = p2.p.wait(30)
            log = open(os.path.join(w, "provider-second.log")).read()
            out = "\n".join(p2.lines)
            self.case("a live socket refuses a second provider, named",
                      rc != 0 and "another process listens on unix:" + path in (log + out),
                      (log + out)[-400:])
            self.case("the first provider still serves",
                      self.call("dubbo://localhost/%s?unix=%s" % (ITF, path), "still")
                      .returncode == 0)

            # shutdown removes the file
            rc = p.stop()
            self.case("graceful shutdown removes the socket file",
                      rc == 0 and not os.path.exists(path), "exit %s, exists %s" %
                      (rc, os.path.exists(path)))

            # a stale socket (bound, its process gone): removed at start
            stale = os.path.join(d, "stale.sock")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(stale)
            s.close()
            p3 = self.provider("provider-stale", stale, ["--registry", "none"])
            procs.append(p3)
            ok = p3.wait_line(r"^listening on unix:", 60)
            r = self.call("dubbo://localhost/%s?unix=%s" % (ITF, stale), "stale")
            time.sleep(0.2)
            log = open(os.path.join(w, "provider-stale.log")).read()
            self.case("a stale socket file is removed at start",
                      ok and r.returncode == 0 and "removed the stale socket" in log, log[-300:])
            p3.stop()

            # a file that is not a socket
            plain = os.path.join(d, "plain.sock")
            open(plain, "w").close()
            p4 = self.provider("provider-plain", plain, ["--registry", "none"])
            procs.append(p4)
            rc = p4.p.wait(30)
            log = open(os.path.join(w, "provider-plain.log")).read() + "\n".join(p4.lines)
            self.case("a file that is not a socket refuses the start, named",
                      rc != 0 and "exists and is not a socket" in log, log[-300:])

            # permissions: umask 077 makes the socket the owner's only
            priv = os.path.join(d, "private.sock")
            p5 = self.provider("provider-private", priv, ["--registry", "none"],
                               shell_prefix="umask 077;")
            procs.append(p5)
            ok = p5.wait_line(r"^listening on unix:", 60)
            mode = oct(os.stat(priv).st_mode & 0o777) if ok else "?"
            r_nobody = self.call("dubbo://localhost/%s?unix=%s" % (ITF, priv), "nobody",
                                 user="nobody")
            r_root = self.call("dubbo://localhost/%s?unix=%s" % (ITF, priv), "root")
            self.case("a 0700 socket (umask 077): user nobody is refused, root connects",
                      ok and mode == "0o700" and r_nobody.returncode != 0 and
                      ("permission denied" in r_nobody.stderr.lower() or
                       "EACCES" in r_nobody.stderr) and r_root.returncode == 0,
                      "mode %s; nobody: %s; root: %s" % (mode, r_nobody.stderr[-300:],
                                                         r_root.stderr[-200:]))
        finally:
            for p in procs:
                p.stop()
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    sys.exit(Run(a).run())


if __name__ == "__main__":
    main()
