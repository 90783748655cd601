#!/usr/bin/env python3
"""TLS and mTLS on every protocol of a port, against third-party clients.

Certificates are made here with the openssl CLI (a CA; a server
certificate for localhost, 127.0.0.1 and ::1; a client certificate; an
expired server certificate; a CA nobody trusts). One demo provider serves
dubbo, tri and rest over TLS with client certificates required; the cases:

* curl (OpenSSL) over https: REST with a client certificate; refused
  without one, and the provider names why in its log.
* grpcio (Debian's python3-grpcio) and grpc-js (tests/interop/peers) over
  TLS with a client certificate: helloworld.Greeter/SayHello (ALPN h2).
* the dubbo-c consumer (`dubbo call` with tls=true and tls-* parameters)
  over dubbo, tri and rest.
* failures a user can hit, each named: the server's certificate expired,
  signed by an untrusted CA, issued for another name, no client
  certificate, plaintext on a TLS-only port.
* a permissive port serves TLS and plaintext; certificates replaced on disk
  are used by new connections without a restart.
* a port configured by the YAML's tls_config (dubbo-go's keys).

Prints PASS/FAIL per case and "N passed, N failed"; exit 0 when all passed."""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
GRPC_CALL = """
import sys, grpc
d = sys.argv[2]
creds = grpc.ssl_channel_credentials(open(d + '/ca.pem', 'rb').read(),
                                     open(d + '/client.key', 'rb').read(),
                                     open(d + '/client.pem', 'rb').read())
ch = grpc.secure_channel(sys.argv[1], creds)
print(repr(ch.unary_unary('/helloworld.Greeter/SayHello')(b'\\x0a\\x03tls', timeout=10)))
"""
# grpc-js (tests/interop/peers): helloworld.Greeter/SayHello as raw bytes
# over TLS with a client certificate; prints the answer's bytes in hex
GRPC_JS_CALL = """
const [modules, target, d] = process.argv.slice(1);
const grpc = require(modules + '/@grpc/grpc-js');
const fs = require('fs');
const creds = grpc.credentials.createSsl(fs.readFileSync(d + '/ca.pem'),
                                         fs.readFileSync(d + '/client.key'),
                                         fs.readFileSync(d + '/client.pem'));
const c = new grpc.Client(target, creds);
const id = (b) => b;
c.makeUnaryRequest('/helloworld.Greeter/SayHello', id, id, Buffer.from('0a07677270632d6a73', 'hex'),
                   {deadline: Date.now() + 10000}, (err, reply) => {
    if (err) { console.log('ERROR ' + err.code + ' ' + err.details); process.exit(1); }
    console.log(reply.toString('hex'));
    c.close();
});
"""
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "node_modules")


def sh(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("%s: %s" % (cmd, r.stderr))


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n"
                "[p]\ncommonName = supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "index.txt.attr"), "w") as f:
        f.write("unique_subject = no\n")
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    san = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
    for ca in ("ca", "other-ca"):
        sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s.key -out %s.pem -days 30 "
           "-subj '/CN=dubbo-c test %s'" % (ca, ca, ca), d)

    def issue(name, ca, extra, subj="localhost", ext=san):
        sh("openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr -subj '/CN=%s' "
           "-addext '%s'" % (name, name, subj, ext), d)
        sh("openssl ca -batch -config ca.cnf -cert %s.pem -keyfile %s.key -in %s.csr "
           "-out %s.pem %s" % (ca, ca, name, name, extra), d)

    issue("server", "ca", "-days 30")
    issue("server2", "ca", "-days 30")
    issue("client", "ca", "-days 30", subj="client", ext="subjectAltName=DNS:client")
    issue("expired", "ca", "-startdate 20200101000000Z -enddate 20200201000000Z")
    issue("stranger", "other-ca", "-days 30")
    issue("othername", "ca", "-days 30", subj="other.example",
          ext="subjectAltName=DNS:other.example")


class Run:
    def __init__(self, a):
        self.a = a
        self.passed = 0
        self.failed = []
        self.procs = []

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[:1500]), flush=True)

    def provider(self, name, cert, key, extra=()):
        argv = [self.a.cli, "demo", "provider", "--protocol", "dubbo,tri,rest", "--host",
                "127.0.0.1", "--port", "0", "--registry", "none", "--tls-cert", cert,
                "--tls-key", key] + list(extra)
        p = Proc(name, argv, dict(os.environ), self.a.work)
        self.procs.append(p)
        m = p.wait_line(r"^listening on .*:(\d+)$", 60)
        if not m:
            raise RuntimeError("%s did not start" % name)
        return p, int(m.group(1))

    def call(self, proto, port, arg, params, host="127.0.0.1"):
        argv = [self.a.cli, "call", "%s://%s:%d/%s" % (proto, host, port, ITF), "sayHello",
                '"%s"' % arg, "--param", "retries=0"]
        for k, v in params:
            argv += ["--param", "%s=%s" % (k, v)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def run(self):
        d = os.path.join(self.a.work, "certs")
        shutil.rmtree(d, ignore_errors=True)
        make_certs(d)
        P = lambda n: os.path.join(d, n)  # noqa: E731
        mtls = [("tls", "true"), ("tls-ca-cert-file", P("ca.pem")),
                ("tls-cert-file", P("client.pem")), ("tls-key-file", P("client.key"))]
        try:
            prov, port = self.provider("provider-mtls", P("server.pem"), P("server.key"),
                                       ["--tls-ca", P("ca.pem"), "--tls-client-auth"])
            # curl
            r = subprocess.run(["curl", "-s", "--cacert", P("ca.pem"), "--cert", P("client.pem"),
                                "--key", P("client.key"),
                                "https://localhost:%d/demo/hello/curl" % port],
                               capture_output=True, text=True, timeout=30)
            self.case("curl https + client certificate: REST", r.stdout == '"Hello curl"',
                      r.stdout + r.stderr)
            r = subprocess.run(["curl", "-s", "-w", "%{http_code}", "--cacert", P("ca.pem"),
                                "https://localhost:%d/demo/hello/curl" % port],
                               capture_output=True, text=True, timeout=30)
            time.sleep(0.3)
            logged = open(os.path.join(self.a.work, "provider-mtls.log")).read()
            self.case("curl without a client certificate: refused, the provider says why",
                      r.returncode != 0 and "peer did not return a certificate" in logged,
                      "rc=%d %s" % (r.returncode, logged[-400:]))
            # grpcio
            r = subprocess.run(["/usr/bin/python3", "-c", GRPC_CALL, "localhost:%d" % port, d],
                               capture_output=True, text=True, timeout=60, cwd="/")
            self.case("grpcio over TLS + client certificate: Triple (ALPN h2)",
                      r.stdout.strip() == repr(b"\x0a\x09Hello tls"), r.stdout + r.stderr)
            # grpc-js
            node = shutil.which("node")
            if node and os.path.isdir(os.path.join(PEERS, "@grpc", "grpc-js")):
                r = subprocess.run([node, "-e", GRPC_JS_CALL, PEERS, "localhost:%d" % port, d],
                                   capture_output=True, text=True, timeout=60, cwd="/")
                self.case("grpc-js over TLS + client certificate: Triple (ALPN h2)",
                          r.stdout.strip() == b"\x0a\x0dHello grpc-js".hex(),
                          r.stdout + r.stderr)
            else:
                print("SKIP grpc-js over TLS: no node or no @grpc/grpc-js in %s (npm ci in "
                      "tests/interop/peers)" % PEERS, flush=True)
            # our consumer, each protocol
            for proto in ("dubbo", "tri", "rest"):
                r = self.call(proto, port, proto + " tls", mtls)
                self.case("dubbo-c consumer over %s with mTLS" % proto,
                          r.returncode == 0 and '"Hello %s tls"' % proto in r.stdout,
                          r.stdout + r.stderr)
            r = self.call("dubbo", port, "by name", mtls, host="localhost")
            self.case("dubbo-c consumer: the certificate's DNS name",
                      r.returncode == 0 and '"Hello by name"' in r.stdout, r.stderr)
            # failures, each named
            r = self.call("dubbo", port, "x", mtls[:2])
            self.case("no client certificate: the consumer is told",
                      r.returncode != 0 and "certificate required" in r.stderr, r.stderr[-500:])
            r = self.call("dubbo", port, "x", [("tls", "true"),
                                               ("tls-ca-cert-file", P("other-ca.pem"))] +
                          mtls[2:])
            self.case("server certificate from an untrusted CA: named",
                      r.returncode != 0 and "certificate verify failed" in r.stderr and
                      "server certificate" in r.stderr, r.stderr[-500:])
            r = self.call("dubbo", port, "x", mtls + [("tls-server-name", "other.example")])
            self.case("server certificate for another name: named",
                      r.returncode != 0 and "hostname mismatch" in r.stderr, r.stderr[-500:])
            r = self.call("dubbo", port, "x", [])
            self.case("plaintext on a TLS-only port: closed",
                      r.returncode != 0, r.stdout + r.stderr[-300:])
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(5)
            s.sendall(b"GET /demo/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = s.recv(100)
            except (socket.timeout, ConnectionResetError):
                got = b"?"
            s.close()
            self.case("plaintext HTTP on a TLS-only port: closed without an answer", got == b"",
                      repr(got))
            self.case("the TLS provider still serves after all that",
                      self.call("tri", port, "after", mtls).returncode == 0)

            # an expired server certificate
            _, eport = self.provider("provider-expired", P("expired.pem"), P("expired.key"))
            r = self.call("dubbo", eport, "x", mtls[:2])
            self.case("expired server certificate: named",
                      r.returncode != 0 and "certificate has expired" in r.stderr,
                      r.stderr[-500:])
            # a certificate from a CA we do not trust, offered by the server
            _, sport = self.provider("provider-stranger", P("stranger.pem"), P("stranger.key"))
            r = self.call("rest", sport, "x", mtls[:2])
            self.case("server certificate of an unknown CA (rest): named",
                      r.returncode != 0 and "certificate verify failed" in r.stderr,
                      r.stderr[-500:])

            # permissive: TLS and plaintext on one port; reload on file change
            cert, key = P("live.pem"), P("live.key")
            shutil.copy(P("server.pem"), cert)
            shutil.copy(P("server.key"), key)
            pprov, pport = self.provider("provider-permissive", cert, key,
                                         ["--tls", "permissive"])
            r1 = self.call("dubbo", pport, "tls", mtls[:2])
            r2 = self.call("dubbo", pport, "plain", [])
            self.case("permissive port: TLS and plaintext",
                      r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr)

            def serial():
                r = subprocess.run("echo | openssl s_client -connect 127.0.0.1:%d 2>/dev/null | "
                                   "openssl x509 -noout -serial" % pport, shell=True,
                                   capture_output=True, text=True, timeout=30)
                return r.stdout.strip()

            before = serial()
            time.sleep(1.1)
            shutil.copy(P("server2.pem"), cert + ".new")
            shutil.copy(P("server2.key"), key + ".new")
            os.replace(key + ".new", key)
            os.replace(cert + ".new", cert)
            time.sleep(1.2)
            serial()  # the first new connection notices the change
            after = serial()
            self.case("certificates replaced on disk serve new connections",
                      before and after and before != after, "%s -> %s" % (before, after))
            r = self.call("dubbo", pport, "reloaded", mtls[:2])
            self.case("a call after the reload", r.returncode == 0, r.stderr[-300:])

            # SIGHUP reloads even when the files' times say nothing changed
            # (a tool that keeps mtimes, a clock step)
            times = [os.stat(f) for f in (cert, key)]
            shutil.copy(P("server.pem"), cert + ".new")
            shutil.copy(P("server.key"), key + ".new")
            os.replace(key + ".new", key)
            os.replace(cert + ".new", cert)
            for f, st in zip((cert, key), times):
                os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
            time.sleep(1.2)
            serial()
            still = serial()
            pprov.p.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            back = serial()
            self.case("files replaced with their times kept: not reloaded until SIGHUP, "
                      "reloaded by it; the process lives on",
                      still == after and back == before and pprov.alive(),
                      "%s, %s, after SIGHUP %s" % (before, still, back))

            # the YAML's tls_config (dubbo-go's keys) on a port: mTLS as with the flags
            yml = os.path.join(self.a.work, "tls.yaml")
            with open(yml, "w") as f:
                f.write("dubbo:\n  protocols:\n    p:\n      name: tri\n"
                        "      ext-protocol: dubbo\n      host: 127.0.0.1\n      port: 0\n"
                        "      tls_config:\n        tls-cert-file: %s\n        tls-key-file: %s\n"
                        "        ca-cert-file: %s\n  provider:\n    services:\n"
                        "      demo: { interface: %s, protocol: p }\n"
                        % (P("server.pem"), P("server.key"), P("ca.pem"), ITF))
            p = Proc("provider-yaml", [self.a.cli, "demo", "provider", "--config", yml,
                                       "--registry", "none"], dict(os.environ), self.a.work)
            self.procs.append(p)
            m = p.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                raise RuntimeError("provider-yaml did not start")
            yport = int(m.group(1))
            r1 = self.call("tri", yport, "yaml", mtls)
            r2 = self.call("dubbo", yport, "x", mtls[:2])
            self.case("YAML tls_config on a port: mTLS, a call without a client certificate "
                      "refused", r1.returncode == 0 and '"Hello yaml"' in r1.stdout and
                      r2.returncode != 0 and "certificate required" in r2.stderr,
                      r1.stderr[-300:] + r2.stderr[-300:])
        except RuntimeError as e:
            self.case("setup", False, e)
        finally:
            for p in self.procs:
                p.stop()
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sys.exit(Run(a).run())


if __name__ == "__main__":
    main()
