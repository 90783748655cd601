#!/usr/bin/env python3
"""Triple between dubbo-c and the other Dubbo 3 stacks: dubbo-go 3.3.1 and
@apachedubbo/dubbo (dubbo-js 3), both directions where the peer has the side.

  * dubbo-go's Triple consumer (tests/interop/go/triconsumer) and
    dubbo-js's client (tests/interop/peers/js/dubbo-triple.js, over its gRPC
    transport and over its own Triple transport) call dubbo-c's demo
    provider: helloworld.Greeter (IDL, protobuf) SayHello, SayHelloStream,
    SayHello("boom"), and, from Go, DemoService.sayHello in non-IDL mode
    (hessian2 in Java's wrapper messages);
  * dubbo-c's Triple client (tri_client's java suite) calls dubbo-go's
    Triple provider (tests/interop/go/triprovider) and dubbo-js's server;
  * each peer's client calls its own server, as a baseline.

Expected outcomes are EXPECTED below: "pass", "n/a: why" or "todo: why" (a
todo case that passes fails the run). The table goes to stdout,
--matrix-out and docs/interop.md between
<!-- matrix:triple-dubbo-peers:begin --> and its end marker.

Exit 0 all as expected, 1 otherwise, 77 when a peer is not available and
DUBBO_C_ALLOW_SKIP=1."""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from interoplib import Proc, write_section  # noqa: E402

CASES = ["idl_say_hello", "idl_stream", "idl_exception", "say_hello", "not_found"]
# what each client runs
SUITES = {
    "go": ["idl_say_hello", "idl_stream", "idl_exception", "say_hello"],
    "js-grpc": ["idl_say_hello", "idl_stream", "idl_exception"],
    "js-triple": ["idl_say_hello", "idl_stream", "idl_exception"],
    "c": ["idl_say_hello", "idl_stream", "idl_exception", "say_hello", "not_found"],
}
NAMES = {
    "go": "dubbo-go 3.3.1",
    "js-grpc": "dubbo-js 3.0.0-alpha (gRPC transport)",
    "js-triple": "dubbo-js 3.0.0-alpha (Triple transport)",
    "js": "dubbo-js 3.0.0-alpha",
    "c": "dubbo-c",
}
# (client, server) pairs, in the table's order
PAIRS = [("go", "c"), ("js-grpc", "c"), ("js-triple", "c"), ("c", "go"), ("c", "js"),
         ("go", "go"), ("js-grpc", "js"), ("js-triple", "js")]

# (client, server) -> case -> expectation (default "pass")
EXPECTED = {
    ("c", "js"): {"say_hello": "n/a: dubbo-js 3 has no non-IDL (hessian2) mode"},
}


def expected(pair, case):
    return EXPECTED.get(pair, {}).get(case, "pass")


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


class Run:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(os.environ)
        self.procs = []
        self.results = {}  # (client, server) -> {case: (PASS|FAIL, detail)}
        self.bad = []

    def go_dir(self):
        build = os.path.join(self.a.source, "tests", "interop", "go", "build.sh")
        r = subprocess.run(["bash", build, "--print"], capture_output=True, text=True)
        if r.returncode != 0:
            print("dubbo-peers: building the dubbo-go peer (scripts/setup.sh does this once)",
                  flush=True)
            r = subprocess.run(["bash", build], capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                return None
        return r.stdout.strip().splitlines()[-1]

    def js_ok(self):
        mods = os.path.join(self.a.source, "tests", "interop", "peers", "node_modules")
        return (subprocess.run(["node", "--version"], capture_output=True).returncode == 0
                and all(os.path.isdir(os.path.join(mods, m)) for m in
                        ("@apachedubbo/dubbo", "@apachedubbo/dubbo-node", "@bufbuild/protobuf")))

    def start(self, name, argv, pattern, timeout=60):
        p = Proc(name, argv, self.env, self.work)
        self.procs.append(p)
        return p, pattern, timeout

    def ready(self, started):
        p, pattern, timeout = started
        m = p.wait_line(pattern, timeout)
        if not m:
            p.stop(signal.SIGKILL)
            raise RuntimeError("%s did not start; see %s/%s.log" % (p.name, self.work, p.name))
        return int(m.group(1))

    def client_argv(self, client, port):
        addr = "127.0.0.1:%d" % port
        cases = ",".join(SUITES[client])
        if client == "go":
            return [os.path.join(self.go, "triconsumer"), "--addr", addr, "--cases", cases]
        if client.startswith("js-"):
            return ["node", self.js, "client", "--addr", addr, "--transport", client[3:],
                    "--cases", cases]
        return [self.a.client, "java", addr, "--cases", cases]

    def client(self, client, server, port):
        pair = (client, server)
        name = "client-%s-%s" % pair
        log = os.path.join(self.work, name + ".log")
        t0 = time.time()
        with open(log, "w") as f:
            try:
                r = subprocess.run(self.client_argv(client, port), stdout=subprocess.PIPE,
                                   stderr=f, text=True, env=self.env, timeout=60)
                out, rc = r.stdout, r.returncode
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
        for c in SUITES[client]:
            res.setdefault(c, ("FAIL", "no result (exit %s; see %s)" % (rc, log)))
        if rc not in (0, 1):
            self.bad.append("%s -> %s exited %s (a crash or a sanitizer report; see %s)" % (
                NAMES[client], NAMES[server], rc, log))
        self.results[pair] = res
        print("dubbo-peers: %s -> %s: %d of %d passed in %.1f s" % (
            NAMES[client], NAMES[server], sum(1 for v, _ in res.values() if v == "PASS"),
            len(res), time.time() - t0), flush=True)

    def main(self):
        self.go = self.go_dir()
        self.js = os.path.join(self.a.source, "tests", "interop", "peers", "js",
                               "dubbo-triple.js")
        missing = []
        if not self.go:
            missing.append("the dubbo-go peer (tests/interop/go/build.sh failed)")
        if not self.js_ok():
            missing.append("node and @apachedubbo/dubbo{,-node}, @bufbuild/protobuf in "
                           "tests/interop/peers/node_modules (npm ci there)")
        if missing:
            print("dubbo-peers: unavailable: " + "; ".join(missing))
            return 77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1
        try:
            return self.run()
        finally:
            for p in self.procs:
                p.stop(signal.SIGKILL, 5)

    def run(self):
        # all three servers start at once; each client then runs in turn
        started = {
            "c": self.start("provider-c", [
                self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--port", "0",
                "--host", "127.0.0.1", "--registry", "none"], r"^listening on .*:(\d+)$"),
            "go": self.start("triprovider-go", [os.path.join(self.go, "triprovider"), "--port",
                                                "0"], r"^READY (\d+)$"),
            "js": self.start("server-js", ["node", self.js, "server"], r"^READY (\d+)$"),
        }
        ports = {}
        for server, s in started.items():
            try:
                ports[server] = self.ready(s)
            except RuntimeError as e:
                self.bad.append(str(e))
        for client, server in PAIRS:
            if server in ports:
                self.client(client, server, ports[server])
        ours = started["c"][0]
        alive = ours.alive()
        rc = ours.stop(signal.SIGTERM, 30)
        if not alive or rc != 0:
            self.bad.append("the dubbo-c provider did not serve the whole run or exit 0 "
                            "(alive %s, exit %s)" % (alive, rc))
        return self.report()

    def cell(self, pair, case):
        if case not in SUITES[pair[0]]:
            return "—"
        if pair not in self.results:
            return "not run"
        v, d = self.results[pair].get(case, ("FAIL", "not run"))
        exp = expected(pair, case)
        if exp.startswith("n/a"):
            return "n/a"
        if exp == "pass":
            if v == "PASS":
                return "pass"
            self.bad.append("%s -> %s %s: %s" % (NAMES[pair[0]], NAMES[pair[1]], case, d))
            return "**FAIL**"
        if v == "PASS":
            self.bad.append("%s -> %s %s passes: update EXPECTED (%s)" % (
                NAMES[pair[0]], NAMES[pair[1]], case, exp))
            return "pass (expected todo)"
        return "todo"

    def report(self):
        rows = ["Generated by `tests/interop/triple/peers_dubbo_test.py` (ctest "
                "`interop/triple-dubbo-peers`) on %s: Triple between dubbo-c and the other "
                "Dubbo 3 stacks, each client against each server (— : not in that client's "
                "cases)." % time.strftime("%Y-%m-%d"), "",
                "| client → server | " + " | ".join(CASES) + " |",
                "|---|" + "---|" * len(CASES)]
        for pair in PAIRS:
            rows.append("| %s → %s | %s |" % (NAMES[pair[0]], NAMES[pair[1]],
                                               " | ".join(self.cell(pair, c) for c in CASES)))
        notes = []
        for pair in PAIRS:
            for c in CASES:
                exp = expected(pair, c)
                if c in SUITES[pair[0]] and exp != "pass":
                    notes.append("- %s → %s, %s: %s" % (NAMES[pair[0]], NAMES[pair[1]], c,
                                                        md(exp)))
        if notes:
            rows += [""] + notes
        rows += ["", "Cases: `idl_say_hello` helloworld.Greeter/SayHello (protobuf); "
                 "`idl_stream` SayHelloStream, 3 replies; `idl_exception` SayHello(\"boom\") "
                 "answered status UNKNOWN \"boom\"; `say_hello` DemoService.sayHello in non-IDL "
                 "mode (hessian2 in Java's wrappers); `not_found` an unknown method is an "
                 "error status."]
        if self.bad:
            rows += ["", "Differed:"] + ["- " + md(b) for b in self.bad]
        text = "\n".join(rows) + "\n"
        print(text)
        if self.a.matrix_out:
            with open(self.a.matrix_out, "w") as f:
                f.write(text)
        write_section(os.path.join(self.a.source, "docs", "interop.md"), "triple-dubbo-peers",
                      text)
        print("interop triple-dubbo-peers: %s" % ("all as expected" if not self.bad
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
