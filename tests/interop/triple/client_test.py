#!/usr/bin/env python3
"""dubbo-c's Triple client against servers no one on the team wrote.

tri_client (tests/interop/triple/tri_client.c, the public consumer API:
tri:// references through the cluster layer, dubbo_tri_call,
dubbo_tri_stream_*) runs

  * gRPC's 14 standard interop cases against grpc-go 1.85.0's interop
    server, plain and with every request gzip-compressed, and against the
    grpc-js, python grpcio and grpc C++ servers of tests/interop/grpc-peers
    (plain);
  * Java Dubbo's cases against Java Dubbo 3.3.6's TriProvider
    (tests/interop/java): DemoService in wrapper mode (a call, a thrown
    exception, an attachment, an unknown method) and helloworld.Greeter in
    IDL mode (unary, server stream, an exception as a gRPC status);

and the same against dubbo-c's own demo provider (a check of our two
sides, not a proof). Expected outcomes are EXPECTED below: "pass", "n/a:
why", or "todo: why" (a todo case that passes fails the run, so the list
is kept true). The tables go to stdout, --matrix-out and docs/interop.md
between <!-- matrix:triple-client:begin --> and its end marker.

Exit 0 all as expected, 1 otherwise, 77 when a peer cannot be built and
DUBBO_C_ALLOW_SKIP=1."""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "grpc-peers"))
from interoplib import Proc, write_section  # noqa: E402

GRPC_CASES = ["empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
              "empty_stream", "custom_metadata", "status_code_and_message",
              "special_status_message", "unimplemented_method", "unimplemented_service",
              "timeout_on_sleeping_server", "cancel_after_begin", "cancel_after_first_response"]
JAVA_CASES = ["say_hello", "exception", "attachment", "idl_say_hello", "idl_stream",
              "idl_exception", "not_found"]

NAMES = {"grpc-go": "grpc-go 1.85.0", "grpc-go-gzip": "grpc-go 1.85.0, gzip requests",
         "node": "grpc-js 1.14.3", "python": "grpcio 1.51.1", "cpp": "grpc C++ 1.51.1",
         "java": "Java Dubbo 3.3.6", "c": "dubbo-c", "c-gzip": "dubbo-c, gzip requests"}

# server -> case -> expectation (default "pass")
EXPECTED = {}


def expected(server, case):
    return EXPECTED.get(server, {}).get(case, "pass")


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


class Run:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(os.environ)
        self.procs = []
        self.results = {}  # (suite, server) -> {case: (verdict, detail)}
        self.seconds = {}
        self.bad = []
        self.notes = []
        self.cli_results = []  # (name, passed, detail, seconds)

    def built_dir(self, peer):
        build = os.path.join(self.a.source, "tests", "interop", peer, "build.sh")
        r = subprocess.run(["bash", build, "--print"], capture_output=True, text=True)
        if r.returncode != 0:
            print("client: building %s (scripts/setup.sh does this once)" % peer, flush=True)
            r = subprocess.run(["bash", build], capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                return None
        return r.stdout.strip().splitlines()[-1]

    def start(self, name, argv, pattern, timeout=90):
        p = Proc(name, argv, self.env, self.work)
        self.procs.append(p)
        m = p.wait_line(pattern, timeout)
        if not m:
            p.stop(signal.SIGKILL)
            raise RuntimeError("%s did not start; see %s/%s.log" % (name, self.work, name))
        return p, int(m.group(1))

    def go_server(self, gzip):
        portfile = os.path.join(self.work, "go-server%s.port" % ("-gzip" if gzip else ""))
        if os.path.exists(portfile):
            os.unlink(portfile)
        argv = [sys.executable, os.path.join(HERE, "..", "grpc", "grpc_interop.py"),
                "--serve-go-server", portfile] + (["--gzip"] if gzip else [])
        p = Proc("grpc-go-server%s" % ("-gzip" if gzip else ""), argv, self.env, self.work)
        self.procs.append(p)
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(portfile):
            time.sleep(0.1)
        if not os.path.exists(portfile):
            raise RuntimeError("grpc-go's interop server did not start")
        with open(portfile) as f:
            return p, int(f.read().strip())

    def client(self, suite, server, port, cases, extra=()):
        """One tri_client run: {case: (PASS|FAIL, detail)}."""
        name = "client-%s-%s" % (suite, server)
        argv = [self.a.client, suite, "127.0.0.1:%d" % port, "--cases", ",".join(cases)]
        argv += list(extra)
        t0 = time.time()
        log = os.path.join(self.work, name + ".log")
        with open(log, "w") as f:
            try:
                r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=f, text=True,
                                   env=self.env, timeout=30 + 10 * len(cases))
                out = r.stdout
                rc = r.returncode
            except subprocess.TimeoutExpired as e:
                out = e.stdout or ""
                if isinstance(out, bytes):
                    out = out.decode(errors="replace")
                rc = "timeout"
            f.write(out)
        res = {}
        for line in out.splitlines():
            m = re.match(r"^RESULT (\S+) (PASS|FAIL) ?(.*)$", line)
            if m:
                res[m.group(1)] = (m.group(2), m.group(3))
        for c in cases:
            res.setdefault(c, ("FAIL", "no result (tri_client exit %s; see %s)" % (rc, log)))
        if rc not in (0, 1):
            self.bad.append("tri_client %s -> %s exited %s (a crash or a sanitizer report; "
                            "see %s)" % (suite, server, rc, log))
        self.results[(suite, server)] = res
        self.seconds[(suite, server)] = time.time() - t0
        print("client: tri_client %s -> %s: %d of %d passed in %.1f s" % (
            suite, NAMES.get(server, server), sum(1 for v, _ in res.values() if v == "PASS"),
            len(cases), time.time() - t0), flush=True)

    def cli(self, name, argv, expect, stdin=None):
        """`dubbo call` (the CLI's IDL path: reflection or --proto, JSON in
        and out): its stdout must equal `expect` (lines)."""
        t0 = time.time()
        try:
            r = subprocess.run([self.a.cli, "call"] + argv, input=stdin, capture_output=True,
                               text=True, env=self.env, timeout=60)
            out, err, rc = r.stdout.strip().splitlines(), r.stderr.strip(), r.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = [], "timed out", "timeout"
        ok = rc == 0 and out == expect
        detail = "exit %s, %s" % (rc, " / ".join(out)[:300]) + ("; " + err[-300:] if err else "")
        self.cli_results.append((name, ok, detail, time.time() - t0))
        if not ok:
            self.bad.append("cli %s: %s (expected %s)" % (name, detail, " / ".join(expect)))

    def grpc_json(self, name, port, body, expect_status, expect_text, plain=False,
                  path="helloworld.Greeter/SayHello"):
        """application/grpc+json (or, plain, Triple's unary application/json:
        the bare message, the HTTP status) against our provider, with nghttp
        (a plain HTTP/2 client): the message is the JSON text."""
        msg = os.path.join(self.work, "grpc-json.bin")
        with open(msg, "wb") as f:
            f.write(body if plain else b"\x00" + len(body).to_bytes(4, "big") + body)
        t0 = time.time()
        try:
            ct = "application/json" if plain else "application/grpc+json"
            r = subprocess.run(["nghttp", "-v", "-H", "content-type: " + ct,
                                "-H", "te: trailers", "-d", msg,
                                "http://127.0.0.1:%d/%s" % (port, path)],
                               capture_output=True, timeout=30)
            out = r.stdout.decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired) as e:
            out = str(e)
        st = re.search(r":status: (\d+)" if plain else r"grpc-status: (\d+)", out)
        ok = bool(st) and int(st.group(1)) == expect_status and expect_text in out
        detail = "%s %s, %s" % (":status" if plain else "grpc-status", st.group(1) if st else "none",
                                         "found " if expect_text in out else "missing ")
        self.cli_results.append((name, ok, detail + repr(expect_text), time.time() - t0))
        if not ok:
            self.bad.append("grpc+json %s: %s" % (name, out[-400:]))

    def main(self):
        grpc_dir = self.built_dir("grpc")
        java_dir = self.built_dir("java")
        if not grpc_dir or not java_dir:
            if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1":
                return 77
            print("client: a peer could not be built (tests/interop/grpc or tests/interop/java)")
            return 1
        self.env["GRPC_TOOLS_DIR"] = grpc_dir
        with open(os.path.join(java_dir, "classpath")) as f:
            self.java_cp = f.read().strip()
        try:
            return self.run()
        finally:
            for p in self.procs:
                p.stop(signal.SIGKILL, 5)

    def run(self):
        # Java's provider starts first: it takes the longest.
        java = Proc("triprovider-java", [
            "java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", self.java_cp,
            "org.dubboc.interop.TriProvider", "--port", "0"], self.env, self.work)
        self.procs.append(java)

        ours, port = self.start("provider-c", [
            self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--port", "0", "--host",
            "127.0.0.1", "--registry", "none"], r"^listening on .*:(\d+)$")
        self.client("grpc", "c", port, GRPC_CASES)
        self.client("grpc", "c-gzip", port, GRPC_CASES, ["--gzip"])
        self.client("java", "c", port, JAVA_CASES)
        ours_url = "tri://127.0.0.1:%d/" % port
        self.cli("reflection: unary", [ours_url + "helloworld.Greeter", "SayHello",
                                       '{"name":"cli"}'], ['{"message":"Hello cli"}'])
        self.cli("reflection: server stream", [ours_url + "helloworld.Greeter", "SayHelloStream",
                                               '{"name":"s"}'],
                 ['{"message":"Hello s %d"}' % i for i in range(3)])
        self.cli("reflection: client stream (stdin lines)",
                 [ours_url + "grpc.testing.TestService", "StreamingInputCall"],
                 ['{"aggregatedPayloadSize":7}'],
                 stdin='{"payload":{"body":"AAAA"}}\n{"payload":{"body":"AAAAAA=="}}\n')
        self.cli("reflection: bidi stream (stdin lines)",
                 [ours_url + "grpc.testing.TestService", "FullDuplexCall"],
                 ['{"payload":{"body":"AAA="}}', '{"payload":{"body":"AA=="}}'],
                 stdin='{"responseParameters":[{"size":2}]}\n'
                       '{"response_parameters":[{"size":1}]}\n')
        self.grpc_json("application/grpc+json (nghttp): unary", port, b'{"name":"json"}', 0,
                       '{"message":"Hello json"}')
        self.grpc_json("application/grpc+json (nghttp): an unknown field", port,
                       b'{"nme":"json"}', 3, 'has no field "nme"')
        self.grpc_json("Triple's unary application/json (nghttp)", port, b'{"name":"json"}', 200,
                       '{"message":"Hello json"}', plain=True)
        self.grpc_json("Triple's unary application/json: an error", port, b'{"name":"boom"}', 500,
                       '{"status":2,"message":"boom"}', plain=True)
        demo = "org.apache.dubbo.demo.DemoService/"
        self.grpc_json("Triple's unary application/json, an interface service: arguments as a "
                       "JSON array", port, b'["json"]', 200, '"Hello json"', plain=True,
                       path=demo + "sayHello")
        self.grpc_json("... its exception: HTTP 500, class and message", port, b'["boom"]', 500,
                       '{"status":2,"message":"java.lang.IllegalStateException: boom"}',
                       plain=True, path=demo + "fail")
        self.grpc_json("... a body that is not JSON: HTTP 400", port, b'[1,2', 400,
                       "the body is not JSON", plain=True, path=demo + "echo")
        self.cli("dubbo:// with serialization=protobuf and --proto (the Dubbo protocol, the "
                 "same IDL service)",
                 ["dubbo://127.0.0.1:%d/helloworld.Greeter" % port, "SayHello", '{"name":"pb"}',
                  "--param", "serialization=protobuf", "--proto",
                  os.path.join(self.a.source, "tools", "proto", "helloworld.proto")],
                 ['{"message":"Hello pb"}'])
        self.cli("wrapper mode (a service reflection does not describe)",
                 [ours_url + "org.apache.dubbo.demo.DemoService", "sayHello", '"cli"'],
                 ['"Hello cli"'])

        for gzip in (False, True):
            server = "grpc-go-gzip" if gzip else "grpc-go"
            try:
                p, gport = self.go_server(gzip)
                self.client("grpc", server, gport, GRPC_CASES, ["--gzip"] if gzip else [])
                if not gzip:
                    proto = os.path.join(self.a.source, "tools", "proto", "grpc", "testing",
                                         "test.proto")
                    self.cli("--proto: unary, grpc-go's server (no reflection)",
                             ["tri://127.0.0.1:%d/grpc.testing.TestService" % gport, "UnaryCall",
                              '{"responseSize":3}', "--proto", proto, "--import-path",
                              os.path.join(self.a.source, "tools", "proto")],
                             ['{"payload":{"body":"AAAA"}}'])
                p.stop()
            except RuntimeError as e:
                self.bad.append("%s: %s" % (server, e))

        try:
            import grpc_peers_test
            peers = grpc_peers_test.Peers(self.a.source)
            peers.find()
            for peer in grpc_peers_test.PEERS:
                if peer not in peers.argv:
                    self.bad.append("%s: unavailable: %s" % (peer, peers.missing.get(peer)))
                    continue
                p, pport = grpc_peers_test.start_peer_server(peer, self.work, peers)
                self.procs.append(p)
                self.client("grpc", peer, pport, GRPC_CASES)
                p.stop()
        except Exception as e:  # a peer that cannot run is a failure, said as such
            self.bad.append("grpc-peers: %s" % e)

        m = java.wait_line(r"^READY (\d+)$", 90)
        if m:
            self.cli("--proto: unary, Java's TriProvider",
                     ["tri://127.0.0.1:%s/helloworld.Greeter" % m.group(1), "SayHello",
                      '{"name":"cli"}', "--proto",
                      os.path.join(self.a.source, "tools", "proto", "helloworld.proto")],
                     ['{"message":"Hello cli"}'])
            # Java 3.3.6's provider answers an unknown wrapper-mode method
            # with UNKNOWN (a NullPointerException: "methodDescriptors" is
            # null), not UNIMPLEMENTED: any error status from it passes
            self.client("java", "java", int(m.group(1)), JAVA_CASES,
                        ["--expect-exception", "org.apache.dubbo.demo.DemoException",
                         "--not-found-any"])
        else:
            self.bad.append("TriProvider did not start; see triprovider-java.log")
        java.stop()
        alive = ours.alive()
        rc = ours.stop(signal.SIGTERM, 30)
        if not alive or rc != 0:
            self.bad.append("the dubbo-c provider did not serve the whole run or exit 0 "
                            "(alive %s, exit %s)" % (alive, rc))
        return self.report()

    def cell(self, suite, server, case):
        if (suite, server) not in self.results:
            return "—"
        v, d = self.results[(suite, server)].get(case, ("FAIL", "not run"))
        exp = expected(server, case)
        if exp.startswith("n/a"):
            return "n/a"
        if exp == "pass":
            if v == "PASS":
                return "pass"
            self.bad.append("%s %s -> %s: %s" % (suite, case, server, d))
            return "**FAIL**"
        if v == "PASS":
            self.bad.append("%s %s -> %s passes: update EXPECTED (%s)" % (suite, case, server, exp))
            return "pass (expected todo)"
        return "todo"

    def report(self):
        rows = ["Generated by `tests/interop/triple/client_test.py` (ctest `interop/triple-client`)"
                " on %s: dubbo-c's Triple **client** (`tri_client`, the public consumer API) "
                "against each server." % time.strftime("%Y-%m-%d"), ""]
        servers = [s for s in ("grpc-go", "grpc-go-gzip", "node", "python", "cpp", "c", "c-gzip")
                   if ("grpc", s) in self.results]
        rows += ["| gRPC interop case | " + " | ".join(NAMES[s] for s in servers) + " |",
                 "|---|" + "---|" * len(servers)]
        for case in GRPC_CASES:
            rows.append("| %s | %s |" % (case, " | ".join(self.cell("grpc", s, case)
                                                          for s in servers)))
        rows += ["", "| Java Dubbo case | %s | %s | note |" % (NAMES["java"], NAMES["c"]),
                 "|---|---|---|---|"]
        for case in JAVA_CASES:
            note = [expected(s, case) for s in ("java", "c") if expected(s, case) != "pass"]
            rows.append("| %s | %s | %s | %s |" % (case, self.cell("java", "java", case),
                                                   self.cell("java", "c", case),
                                                   md("; ".join(note))))
        rows += ["", "| `dubbo call` (the CLI's IDL path), and `application/grpc+json` | result | "
                 "output |", "|---|---|---|"]
        for name, ok, detail, _ in self.cli_results:
            rows.append("| %s | %s | %s |" % (md(name), "pass" if ok else "**FAIL**",
                                              md(detail)))
        if self.bad:
            rows += ["", "Differed:"] + ["- " + md(b) for b in self.bad]
        text = "\n".join(rows) + "\n"
        print(text)
        if self.a.matrix_out:
            with open(self.a.matrix_out, "w") as f:
                f.write(text)
        write_section(os.path.join(self.a.source, "docs", "interop.md"), "triple-client", text)
        print("interop triple-client: %s" % ("all as expected" if not self.bad
                                             else "%d unexpected result(s)" % len(self.bad)))
        return 1 if self.bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client", required=True, help="tri_client")
    ap.add_argument("--cli", required=True, help="the dubbo CLI (our provider)")
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--matrix-out")
    sys.exit(Run(ap.parse_args()).main())


if __name__ == "__main__":
    main()
