#!/usr/bin/env python3
"""TLS and mTLS against Java Dubbo 3.3.6, both ways, over dubbo and tri.

Java's side is configured as a Java user would: an SslConfig (the
`dubbo.ssl` prefix) handed to DubboBootstrap.ssl() by the peer programs of
tests/interop/java (--tls-cert/--tls-key/--tls-ca): server-key-cert-chain-path,
server-private-key-path and server-trust-cert-collection-path for a provider
(the last makes client certificates required), the client-* keys for a
consumer. Certificates are made by the openssl CLI, as tls_test.py makes
them (the server's carries IP:::1: Java rewrites 127.0.0.1 to the machine's
address, so everything runs on ::1 with DUBBO_IP_TO_BIND=::1).

Cases:

* Java's JavaConsumer (dubbo) and TriConsumer (tri, wrapper mode and IDL)
  with a client certificate against our demo provider on an mTLS port;
* our consumer (`dubbo call`, tls=true and the tls-* parameters) against
  Java's JavaProvider (dubbo) and TriProvider (tri), both requiring client
  certificates;
* refusals, each named: Java with TLS and no client certificate against our
  mTLS port (our provider's log says "peer did not return a certificate");
  Java whose dubbo.ssl names no client certificate (Java then dials in
  plaintext; our log says so); our consumer without a client certificate
  against Java's mTLS port (the JDK's alert, named by our consumer) and with
  a CA that did not sign Java's certificate.

Prints PASS/FAIL per case and "N passed, N failed"; exit 0 when all passed,
77 when java or mvn is missing and DUBBO_C_ALLOW_SKIP=1."""
import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from interoplib import Proc  # noqa: E402
from tls_test import make_certs  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
# the demo provider's exception for fail(); Java's providers throw DemoException
C_EXCEPTION = "java.lang.IllegalStateException"
JAVA_CASES = "say_hello,echo_string,echo_user,exception,generic,attachments"
TRI_CASES = "say_hello,exception,attachment,idl_say_hello,idl_stream,idl_exception"


class Run:
    def __init__(self, a, java, env):
        self.a = a
        self.java = java
        self.env = env
        self.passed = 0
        self.failed = []
        self.procs = []

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[-1500:]), flush=True)

    def start(self, name, argv):
        p = Proc(name, argv, self.env, self.a.work)
        self.procs.append(p)
        return p

    def log(self, name):
        with open(os.path.join(self.a.work, name + ".log"), errors="replace") as f:
            return f.read()

    def java_run(self, name, cls, url, cases, tls, expect=None):
        """A Java consumer's RESULT lines: (rc, {case: (PASS|FAIL|SKIP, detail)}, stdout)."""
        argv = self.java + ["org.dubboc.interop." + cls, "--url", url, "--cases", cases] + tls
        if expect:
            argv += ["--expect-exception", expect]
        with open(os.path.join(self.a.work, name + ".log"), "w") as err:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                               env=self.env, timeout=180)
        got = {}
        for line in r.stdout.splitlines():
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "RESULT":
                got[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
        return r.returncode, got, r.stdout

    def java_cases(self, label, name, cls, url, cases, tls, expect):
        rc, got, out = self.java_run(name, cls, url, cases, tls, expect)
        for c in cases.split(","):
            v, d = got.get(c, ("FAIL", "no RESULT line (see %s.log)" % name))
            self.case("%s: %s" % (label, c), v == "PASS", d)

    def call(self, url, method, arg, params, types=None):
        # 5 s: the first call reaches a cold JVM (JIT, a TLS handshake), which
        # on a loaded machine took more than the default 1 s once
        argv = [self.a.cli, "call", url, method, arg, "--param", "retries=0", "--timeout", "5000"]
        if types:
            argv += ["--types", types]
        for k, v in params:
            argv += ["--param", "%s=%s" % (k, v)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=self.env)

    def run(self):
        d = os.path.join(self.a.work, "certs")
        shutil.rmtree(d, ignore_errors=True)
        make_certs(d)
        P = lambda n: os.path.join(d, n)  # noqa: E731
        server_tls = ["--tls-cert", P("server.pem"), "--tls-key", P("server.key"),
                      "--tls-ca", P("ca.pem")]
        client_tls = ["--tls-cert", P("client.pem"), "--tls-key", P("client.key"),
                      "--tls-ca", P("ca.pem")]
        mtls = [("tls", "true"), ("tls-ca-cert-file", P("ca.pem")),
                ("tls-cert-file", P("client.pem")), ("tls-key-file", P("client.key"))]
        try:
            # all three start at once (the JVMs take a few seconds each)
            cprov = self.start("c-provider", [
                self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--host", "::1",
                "--port", "0", "--registry", "none", "--tls-cert", P("server.pem"),
                "--tls-key", P("server.key"), "--tls-ca", P("ca.pem"), "--tls-client-auth"])
            jprov = self.start("java-provider", self.java + [
                "org.dubboc.interop.JavaProvider", "--port", "0"] + server_tls)
            tprov = self.start("java-tri-provider", self.java + [
                "org.dubboc.interop.TriProvider", "--port", "0"] + server_tls)
            m = cprov.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                raise RuntimeError("the demo provider did not start (c-provider.log)")
            cport = int(m.group(1))
            ports = {}
            for p in (jprov, tprov):
                m = p.wait_line(r"^READY (\d+)", 120)
                if not m:
                    raise RuntimeError("%s did not start (%s.log)" % (p.name, p.name))
                ports[p.name] = int(m.group(1))

            # Java calls us
            self.java_cases("Java JavaConsumer -> dubbo-c over dubbo+mTLS", "java-consumer",
                            "JavaConsumer", "dubbo://[::1]:%d" % cport, JAVA_CASES, client_tls,
                            C_EXCEPTION)
            self.java_cases("Java TriConsumer -> dubbo-c over tri+mTLS", "java-tri-consumer",
                            "TriConsumer", "tri://[::1]:%d" % cport, TRI_CASES, client_tls,
                            C_EXCEPTION)

            # we call Java
            jurl = "dubbo://[::1]:%d/%s" % (ports["java-provider"], ITF)
            turl = "tri://[::1]:%d/%s" % (ports["java-tri-provider"], ITF)
            for label, url in (("dubbo", jurl), ("tri", turl)):
                r = self.call(url, "sayHello", '"%s tls"' % label, mtls)
                self.case("dubbo-c consumer -> Java over %s+mTLS: sayHello" % label,
                          r.returncode == 0 and '"Hello %s tls"' % label in r.stdout,
                          r.stdout + r.stderr)
                r = self.call(url, "echo", '{"a": [1, 2.5, "x"]}', mtls, "Ljava/lang/Object;")
                self.case("dubbo-c consumer -> Java over %s+mTLS: echo a map" % label,
                          r.returncode == 0 and '"x"' in r.stdout and "2.5" in r.stdout,
                          r.stdout + r.stderr)

            # refusals, each named
            before = len(self.log("c-provider"))
            rc, got, out = self.java_run("java-no-client-cert", "JavaConsumer",
                                         "dubbo://[::1]:%d" % cport, "say_hello",
                                         ["--tls-anonymous-ca", P("ca.pem")])
            time.sleep(0.3)
            logged = self.log("c-provider")[before:]
            self.case("Java over TLS without a client certificate -> our mTLS port: refused, "
                      "our log names it",
                      got.get("say_hello", ("FAIL",))[0] == "FAIL" and
                      "peer did not return a certificate" in logged,
                      out + logged[-600:])
            before = len(self.log("c-provider"))
            rc, got, out = self.java_run("java-ssl-ca-only", "TriConsumer",
                                         "tri://[::1]:%d" % cport, "say_hello",
                                         ["--tls-ca", P("ca.pem")])
            time.sleep(0.3)
            logged = self.log("c-provider")[before:]
            self.case("Java whose dubbo.ssl has no client certificate (dials plaintext) -> our "
                      "mTLS port: refused, our log names it",
                      got.get("say_hello", ("FAIL",))[0] == "FAIL" and
                      "plaintext on a TLS-only port" in logged, out + logged[-600:])
            r = self.call(jurl, "sayHello", '"x"', mtls[:2])
            self.case("dubbo-c consumer without a client certificate -> Java's mTLS port: "
                      "refused, named",
                      r.returncode != 0 and "bad certificate" in r.stderr and
                      "TLS negotiation failed" in self.log("java-provider"), r.stderr[-600:])
            r = self.call(turl, "sayHello", '"x"', [("tls", "true"),
                                                    ("tls-ca-cert-file", P("other-ca.pem"))] +
                          mtls[2:])
            self.case("dubbo-c consumer, Java's certificate from a CA it does not trust: named",
                      r.returncode != 0 and "certificate verify failed" in r.stderr and
                      "server certificate" in r.stderr, r.stderr[-600:])
            self.case("every provider still serves after the refusals",
                      self.call(jurl, "sayHello", '"after"', mtls).returncode == 0 and
                      self.call(turl, "sayHello", '"after"', mtls).returncode == 0 and
                      self.call("tri://[::1]:%d/%s" % (cport, ITF), "sayHello", '"after"',
                                mtls).returncode == 0)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.case("setup", False, e)
        finally:
            for p in self.procs:
                p.stop()
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
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
        sys.exit("java_tls_test: the Java peer did not build:\n" + b.stderr)
    with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
        cp = f.read().strip()
    java = ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp]
    env = dict(os.environ, DUBBO_IP_TO_BIND="::1", DUBBO_IP_TO_REGISTRY="::1")
    sys.exit(Run(a, java, env).run())


if __name__ == "__main__":
    main()
