#!/usr/bin/env python3
"""The REST protocol against curl, raw sockets, and every other client on
one port.

One demo provider (`dubbo demo provider --protocol dubbo,tri,rest`) serves
DemoService on one port; the cases:

* curl: every argument source of the demo's mapping (path, query, form,
  text and JSON bodies, a header as an attachment), content types both
  ways (JSON, text, XML, form; Accept), every error status (400 naming the
  argument, 404, 405 with Allow, 406, 413, 414, 415, 431, 500 with the
  exception's class and message), attachments as headers both ways, CORS
  (preflight allowed, refused; exposed headers), the OpenAPI document,
  Java's default mapping and Triple's HTTP/1 JSON form, HEAD, keep-alive.
* a malformed-request table over raw sockets: smuggling (Content-Length
  with Transfer-Encoding, two Content-Lengths, bad chunk sizes, obs-fold,
  whitespace before a colon, bare LF), oversize parts, a bad
  percent-encoding, invalid UTF-8 in JSON, slowloris: each a clear 4xx and
  a closed connection (slowloris: closed at the read timeout), while a
  keep-alive connection opened before them is served before and after.
The provider listens on ::1 (Java's consumer rewrites 127.0.0.1 to the
machine's address; DUBBO_IP_TO_BIND=::1 keeps it on loopback, as the
matrix tests do).

* one port: our Dubbo consumer (dubbo call dubbo://), Java Dubbo 3.3's
  consumer (the Java peer, tests/interop/java), a gRPC client (grpcio,
  helloworld.Greeter/SayHello, bytes built here) and curl, all against the
  same port in this one run; then our REST consumer (dubbo call rest://).

Prints PASS/FAIL per case and "N passed, N failed"; exit 0 when all passed."""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
ORIGIN = "http://127.0.0.1:9"
GRPC_CALL = """
import sys, grpc
ch = grpc.insecure_channel(sys.argv[1])
say = ch.unary_unary("/helloworld.Greeter/SayHello")
print(repr(say(b"\\x0a\\x04grpc", timeout=10)))
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

    # ---- curl ----

    def curl(self, *args, data=None):
        """curl -s -i ... -> (status, headers dict (lower-case), body)"""
        cmd = ["curl", "-s", "-i", "--max-time", "10"] + list(args)
        r = subprocess.run(cmd, capture_output=True, timeout=30, input=data)
        out = r.stdout
        # skip a 100 Continue
        while out.startswith(b"HTTP/1.1 100"):
            out = out.split(b"\r\n\r\n", 1)[1]
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d+)", lines[0]) if lines else None
        hs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hs[k.strip().lower()] = v.strip()
        return (int(m.group(1)) if m else 0), hs, body.decode("utf-8", "replace")

    def expect(self, name, args, status, body=None, contains=None, headers=None, data=None):
        st, hs, b = self.curl(*args, data=data)
        ok = st == status
        if body is not None:
            ok &= b == body
        if contains is not None:
            ok &= contains in b
        for k, v in (headers or {}).items():
            ok &= (hs.get(k) == v) if v is not None else (k not in hs)
        self.case(name, ok, "status %d, headers %s, body %r" % (st, hs, b[:300]))
        return st, hs, b

    def curl_cases(self):
        u = self.url
        self.expect("path variable", [u + "/demo/hello/Ann%20Lee"], 200, '"Hello Ann Lee"',
                    headers={"content-type": "application/json;charset=utf-8"})
        self.expect("query parameter", [u + "/demo/hello?name=Zo%C3%AB"], 200, '"Hello Zoë"')
        self.expect("query parameter missing", [u + "/demo/hello"], 400,
                    contains="argument 0 (query parameter name) is required")
        self.expect("JSON body", ["-H", "Content-Type: application/json", "-d",
                                  '{"name":"Ann","age":42,"tags":["a"]}', u + "/demo/echo"], 200,
                    '{"name":"Ann","age":42,"tags":["a"]}')
        self.expect("JSON body answered as XML", ["-H", "Content-Type: application/json",
                                                  "-H", "Accept: application/xml", "-d",
                                                  '{"name":"Ann","age":42}', u + "/demo/echo"],
                    200, '<?xml version="1.0" encoding="UTF-8"?><map><name>Ann</name>'
                    '<age>42</age></map>', headers={"content-type": "application/xml"})
        self.expect("text answer by Accept", ["-H", "Accept: text/plain", u + "/demo/hello/t"],
                    200, "Hello t", headers={"content-type": "text/plain;charset=utf-8"})
        self.expect("form field (typed int)", ["-d", "ms=5", u + "/demo/sleep"], 200, "null")
        self.expect("form field not an int", ["-d", "ms=five", u + "/demo/sleep"], 400,
                    contains='argument 0 (form field ms): \\"five\\" is not an int')
        self.expect("text body, exception as 500", ["-H", "Content-Type: text/plain", "-d",
                                                    "on purpose", u + "/demo/fail"], 500,
                    '{"status":500,"message":"on purpose",'
                    '"exception":"java.lang.IllegalStateException"}')
        self.expect("attachment header both ways", ["-H", "x-trace: t-42",
                                                     u + "/demo/attachment/x-trace"], 200,
                    '"t-42"', headers={"echo-x-trace": "t-42"})
        self.expect("404 unknown path", [u + "/nowhere"], 404,
                    '{"status":404,"message":"no service at GET /nowhere"}')
        self.expect("405 wrong verb, Allow", ["-X", "DELETE", u + "/demo/whoami"], 405,
                    contains="takes GET, not DELETE", headers={"allow": "GET"})
        self.expect("406 Accept", ["-H", "Accept: image/png", u + "/demo/whoami"], 406,
                    contains="Accept takes none of them")
        self.expect("415 content type", ["-H", "Content-Type: application/xml", "-d", "<a/>",
                                         u + "/demo/echo"], 415,
                    contains="does not take a body of application/xml")
        self.expect("413 body over the limit", ["-H", "Content-Type: application/json",
                                                "-H", "Content-Length: 99999999",
                                                u + "/demo/echo"], 413,
                    contains="over the payload limit")
        self.expect("414 long target", [u + "/" + "a" * 9000], 414,
                    contains="over 8192 bytes")
        self.expect("431 large header", ["-H", "X-Big: " + "b" * 17000, u + "/demo/whoami"],
                    431, contains="over 16384 bytes")
        self.expect("Java default mapping, GET with query", [
            u + "/" + ITF + "/sayHello?name=dflt"], 200, '"Hello dflt"')
        self.expect("Triple HTTP/1 JSON form (array)", [
            "-H", "Content-Type: application/json", "-d", '["tri"]',
            u + "/" + ITF + "/sayHello"], 200, '"Hello tri"')
        self.expect("Triple HTTP/1 JSON form (one object)", [
            "-H", "Content-Type: application/json", "-d", '{"a":1}', u + "/" + ITF + "/echo"],
            200, '{"a":1}')
        self.expect("Triple HTTP/1 error", [
            "-H", "Content-Type: application/json", "-d", '["x"]', u + "/" + ITF + "/fail"],
            500, contains='"exception":"java.lang.IllegalStateException"')
        # Triple's HTTP/1 form for a protobuf IDL service: JSON, and protobuf bytes
        self.expect("Triple HTTP/1 JSON form, IDL service", [
            "-H", "Content-Type: application/json", "-d", '{"name":"json"}',
            u + "/helloworld.Greeter/SayHello"], 200, '{"message":"Hello json"}')
        r = subprocess.run(["curl", "-s", "-H", "Content-Type: application/proto",
                            "--data-binary", "@-", u + "/helloworld.Greeter/SayHello"],
                           input=b"\x0a\x05proto", capture_output=True, timeout=30)
        self.case("Triple HTTP/1 application/proto form, IDL service",
                  r.stdout == b"\x0a\x0bHello proto", repr(r.stdout))
        self.expect("Triple HTTP/1 JSON form, a field the message lacks", [
            "-H", "Content-Type: application/json", "-d", '{"nome":"x"}',
            u + "/helloworld.Greeter/SayHello"], 400, contains='no field \\"nome\\"')
        self.expect("version header reaches no such version", [
            "-H", "version: 9.9.9", "-H", "Content-Type: application/json", "-d", '["v"]',
            u + "/" + ITF + "/sayHello"], 404, contains="no service")
        self.expect("HEAD", ["-I", u + "/demo/whoami"], 200,
                    headers={"content-length": str(len('"::1:%d"' % self.port))})
        # CORS
        self.expect("CORS preflight allowed", [
            "-X", "OPTIONS", "-H", "Origin: " + ORIGIN, "-H",
            "Access-Control-Request-Method: POST", "-H",
            "Access-Control-Request-Headers: content-type", u + "/demo/echo"], 204,
            headers={"access-control-allow-origin": ORIGIN,
                     "access-control-allow-headers": "content-type"})
        self.expect("CORS preflight, verb not taken", [
            "-X", "OPTIONS", "-H", "Origin: " + ORIGIN, "-H",
            "Access-Control-Request-Method: DELETE", u + "/demo/echo"], 403,
            contains="DELETE is not allowed")
        self.expect("CORS preflight, origin refused", [
            "-X", "OPTIONS", "-H", "Origin: http://evil.invalid", "-H",
            "Access-Control-Request-Method: POST", u + "/demo/echo"], 403,
            contains="origin http://evil.invalid is not allowed")
        self.expect("CORS simple request, exposed attachment", [
            "-H", "Origin: " + ORIGIN, "-H", "x-t: 1", u + "/demo/attachment/x-t"], 200,
            headers={"access-control-allow-origin": ORIGIN,
                     "access-control-expose-headers": "echo-x-t"})
        self.expect("no CORS headers for another origin", [
            "-H", "Origin: http://evil.invalid", u + "/demo/whoami"], 200,
            headers={"access-control-allow-origin": None})
        st, hs, b = self.curl(u + "/openapi.json")
        try:
            doc = json.loads(b)
            ok = (doc.get("openapi", "").startswith("3.") and
                  "get" in doc["paths"]["/demo/hello/{name}"] and
                  doc["paths"]["/demo/hello/{name}"]["get"]["parameters"][0]["in"] == "path" and
                  "application/x-www-form-urlencoded" in
                  doc["paths"]["/demo/sleep"]["post"]["requestBody"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as e:
            ok = False
            b += " (%s)" % e
        self.case("OpenAPI 3 document", st == 200 and ok, b[:400])
        # keep-alive: curl reuses one connection for two URLs
        r = subprocess.run(["curl", "-s", "-v", u + "/demo/whoami", u + "/demo/hello/k"],
                           capture_output=True, text=True, timeout=30)
        self.case("keep-alive (two requests, one connection)",
                  "Re-using existing connection" in r.stderr and '"Hello k"' in r.stdout,
                  r.stderr[-500:])
        # Expect: 100-continue (curl sends it for a body over 1 MiB)
        big = json.dumps({"k": "v" * (1100 << 10)}, separators=(",", ":"))
        st, hs, b = self.curl("-H", "Content-Type: application/json", "-H",
                              "Expect: 100-continue", "--data-binary", "@-", u + "/demo/echo",
                              data=big.encode())
        self.case("Expect: 100-continue", st == 200 and b == big, "status %d" % st)

    # ---- raw sockets ----

    def raw(self, data, wait=3.0, slow=None):
        s = socket.create_connection(("::1", self.port))
        s.settimeout(wait)
        if slow:
            for piece in slow:
                s.sendall(piece)
                time.sleep(0.3)
        else:
            s.sendall(data)
        out = b""
        closed = False
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed = True
                    break
                out += d
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        s.close()
        return out, closed

    def malformed_cases(self):
        # a keep-alive connection opened before the table, used before and after
        keep = socket.create_connection(("::1", self.port))
        keep.settimeout(5)

        def on_keep(tag):
            keep.sendall(b"GET /demo/hello/" + tag + b" HTTP/1.1\r\nHost: k\r\n\r\n")
            got = b""
            while b'"Hello ' + tag + b'"' not in got:
                d = keep.recv(65536)
                if not d:
                    return False
                got += d
            return True

        self.case("keep-alive connection before the table", on_keep(b"before"))
        H = b"Host: x\r\n"
        table = [
            ("Content-Length with Transfer-Encoding",
             b"POST /demo/echo HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, b"Transfer-Encoding"),
            ("two Content-Lengths", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n\"a\"", 400, b"twice"),
            ("a bad chunk size", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: chunked\r\n\r\nxyz\r\n", 400, b"chunk size"),
            ("a chunk size over 64 bits", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", 400, b"chunk"),
            ("Transfer-Encoding not ending in chunked", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400, b"ransfer"),
            ("obs-fold", b"GET /demo/whoami HTTP/1.1\r\n" + H + b"X-A: 1\r\n\tmore\r\n\r\n",
             400, b"obs-fold"),
            ("whitespace before a colon", b"GET /demo/whoami HTTP/1.1\r\nHost : x\r\n\r\n",
             400, b"colon"),
            ("bare LF", b"GET /demo/whoami HTTP/1.1\nHost: x\n\n", 400, b"bare LF"),
            ("no Host", b"GET /demo/whoami HTTP/1.1\r\n\r\n", 400, b"without Host"),
            ("request line over 8 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H +
             b"\r\n", 414, b"8192"),
            ("header section over 16 KiB", b"GET / HTTP/1.1\r\n" + H + b"X-B: " +
             b"b" * 17000 + b"\r\n\r\n", 431, b"16384"),
            ("101 header fields", b"GET / HTTP/1.1\r\n" +
             b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n", 431, b"100"),
            ("body over the payload limit", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Content-Length: 999999999\r\n\r\n", 413, b"payload limit"),
            ("a bad percent-encoding", b"GET /demo/hello/%zz HTTP/1.1\r\n" + H + b"\r\n",
             400, b"percent-encoding"),
            ("invalid UTF-8 in JSON", b"POST /demo/echo HTTP/1.1\r\n" + H +
             b"Content-Type: application/json\r\nContent-Length: 4\r\n\r\n\"\xc3\x28\"",
             400, b"not UTF-8"),
            ("HTTP/2 request line", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505, b"HTTP/2"),
            ("a bad method", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", None, None),
        ]
        for name, req, status, why in table:
            out, closed = self.raw(req)
            m = re.match(rb"HTTP/1\.1 (\d+)", out)
            if status is None:
                # not an HTTP method at all: no protocol speaks it, the port closes it
                self.case("malformed: " + name, closed and (not out or out.startswith(b"HTTP/1.1 4")),
                          out[:200])
                continue
            ok = (m is not None and int(m.group(1)) == status and why in out and closed
                  and b"Connection: close" in out)
            self.case("malformed: " + name, ok, "closed=%s %r" % (closed, out[:300]))
        # slowloris: a header trickling in is closed at the read timeout (2 s here)
        t0 = time.time()
        out, closed = self.raw(None, wait=6.0, slow=[b"GET /demo/whoami HTTP/1.1\r\n",
                                                     b"Host: x\r\n", b"X-1: a\r\n"])
        took = time.time() - t0
        self.case("malformed: slowloris closed at the read timeout",
                  closed and not out and took < 5.5, "closed=%s after %.1f s, %r" %
                  (closed, took, out[:100]))
        self.case("keep-alive connection after the table", on_keep(b"after"))
        keep.close()

    # ---- one port: every client ----

    def java(self):
        b = subprocess.run([os.path.join(self.a.source, "tests/interop/java/build.sh")],
                           capture_output=True, text=True)
        if b.returncode:
            return None, b.stderr[-800:]
        with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
            return ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                    f.read().strip()], ""

    def one_port(self):
        u = self.url
        r = subprocess.run([self.a.cli, "call", "dubbo://[::1]:%d/%s" % (self.port, ITF),
                            "sayHello", '"dubbo"'], capture_output=True, text=True, timeout=30)
        self.case("one port: dubbo-c consumer over the Dubbo protocol",
                  r.returncode == 0 and '"Hello dubbo"' in r.stdout, r.stdout + r.stderr)
        # grpcio is Debian's python3-grpcio: /usr/bin/python3's, which may not be
        # the python running this; HelloRequest{name: "grpc"} written by hand
        r = subprocess.run(["/usr/bin/python3", "-c", GRPC_CALL, "[::1]:%d" % self.port],
                           capture_output=True, text=True, timeout=60, cwd="/")
        self.case("one port: gRPC client (grpcio) helloworld.Greeter/SayHello",
                  r.returncode == 0 and r.stdout.strip() == repr(b"\x0a\x0aHello grpc"),
                  r.stdout + r.stderr)
        st, _, b = self.curl(u + "/demo/hello/curl")
        self.case("one port: curl over REST", st == 200 and b == '"Hello curl"', b)
        java, why = self.java()
        if not java:
            self.case("one port: Java Dubbo 3.3 consumer over the Dubbo protocol", False,
                      "the Java peer did not build: " + why)
        else:
            r = subprocess.run(java + ["org.dubboc.interop.JavaConsumer", "--url",
                                       "dubbo://[::1]:%d" % self.port, "--cases",
                                       "say_hello,echo_map,attachments",
                                       "--expect-exception", "java.lang.IllegalStateException"],
                               capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, DUBBO_IP_TO_BIND="::1",
                                        DUBBO_IP_TO_REGISTRY="::1"))
            res = re.findall(r"RESULT (\S+) (PASS|FAIL|SKIP)", r.stdout)
            self.case("one port: Java Dubbo 3.3 consumer over the Dubbo protocol",
                      len(res) == 3 and all(v == "PASS" for _, v in res),
                      r.stdout[-600:] + r.stderr[-600:])
        # our REST consumer: Java's default mapping (the CLI has no bindings)
        r = subprocess.run([self.a.cli, "call", "rest://[::1]:%d/%s" % (self.port, ITF),
                            "sayHello", '"rest"'], capture_output=True, text=True, timeout=30)
        self.case("dubbo-c REST consumer (rest://)",
                  r.returncode == 0 and '"Hello rest"' in r.stdout, r.stdout + r.stderr)
        r = subprocess.run([self.a.cli, "call", "rest://[::1]:%d/%s" % (self.port, ITF),
                            "fail", '"via rest"'], capture_output=True, text=True, timeout=30)
        self.case("dubbo-c REST consumer: a 500 comes back as the exception",
                  r.returncode != 0 and "java.lang.IllegalStateException: via rest" in r.stderr,
                  r.stdout + r.stderr)

    def run(self):
        os.makedirs(self.a.work, exist_ok=True)
        p = Proc("provider", [self.a.cli, "demo", "provider", "--protocol", "dubbo,tri,rest",
                              "--host", "::1", "--port", "0", "--registry", "none",
                              "--read-timeout", "2000", "--cors-origin", ORIGIN],
                 dict(os.environ), self.a.work)
        try:
            m = p.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                self.case("provider starts", False, "no 'listening on'")
                return 1
            self.port = int(m.group(1))
            self.url = "http://[::1]:%d" % self.port
            self.curl_cases()
            self.malformed_cases()
            self.one_port()
            self.case("provider still alive", p.alive())
        finally:
            rc = p.stop()
        self.case("provider stops cleanly on SIGTERM", rc == 0, "exit %s" % rc)
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    sys.exit(Run(ap.parse_args()).run())


if __name__ == "__main__":
    main()
