#!/usr/bin/env python3
"""dubbo-c's Triple server under three more gRPC stacks: grpc-js (Node),
grpcio (Python) and grpc C++, each one's client beside the same client
against its own stack's server (the baseline) and against the other two
stacks' servers (so every peer server is known good for the day dubbo-c's
Triple client calls them).

One dubbo-c provider (`dubbo demo provider --protocol dubbo,tri --host
127.0.0.1 --registry none`) and one server of each peer (start_peer_server)
are started for the whole run; every peer client runs its cases (CASES,
tests/interop/grpc-peers/README.md) against each of them. The tables are
printed, written to --matrix-out and into docs/interop.md between
<!-- matrix:grpc-peers:begin --> and <!-- matrix:grpc-peers:end -->.

What each case is expected to do against dubbo-c is EXPECTED (with
per-peer exceptions in PEER_EXPECTED): "pass", or "todo: <why>" for a case
expected to fail until its reason goes. The run fails when an expected-pass
case fails, when a "todo" case passes (update the list), or when a case
fails between two peers (their own bug, or the peer program's).

The other direction, dubbo-c's Triple client against these servers, is
CLIENT_DIRECTION_CASES: empty until the client lands.

Exit: 0 all as expected, 1 something differed, 77 a peer cannot be built
or run here (ctest's skip code, only when DUBBO_C_ALLOW_SKIP=1)."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from interoplib import Proc, write_section  # noqa: E402

PEERS = ["node", "python", "cpp"]

# The client cases every peer runs (the same names in node_peer.js,
# python_peer.py and cpp/cpp_peer.cc).
CASES = ["say_hello", "say_hello_stream", "empty_unary", "large_unary", "gzip_large_unary",
         "server_streaming", "client_streaming", "ping_pong", "empty_stream",
         "status_code_and_message", "custom_metadata", "concurrent_calls", "large_streams",
         "unimplemented_method"]

# What each case does against the demo provider: "pass", or "todo: <why>".
EXPECTED = {case: "pass" for case in CASES}
# (peer, case) -> an expectation of one peer's that differs from EXPECTED.
PEER_EXPECTED = {}

# The dubbo-c Triple client against each peer's server: (peer, case) ->
# expectation, run once `dubbo call tri://` exists. Empty until then.
CLIENT_DIRECTION_CASES = {}

CASE_NOTES = {
    "say_hello": "`helloworld.Greeter/SayHello` unary",
    "say_hello_stream": "`Greeter/SayHelloStream`: server stream of 3",
    "empty_unary": "`EmptyCall`",
    "large_unary": "`UnaryCall`, 271828 B in, 314159 B out",
    "gzip_large_unary": "the same, request gzip-compressed",
    "server_streaming": "`StreamingOutputCall`: 31415, 9, 2653, 58979 B",
    "client_streaming": "`StreamingInputCall`: 27182, 8, 1828, 45904 B -> 74922",
    "ping_pong": "`FullDuplexCall`: 4 round trips, one at a time",
    "empty_stream": "`FullDuplexCall` closed at once: no message, OK",
    "status_code_and_message": "code 2 \"test status message\", unary and bidi",
    "custom_metadata": "`x-grpc-test-echo-initial` / `-trailing-bin` echoed, unary and bidi",
    "concurrent_calls": "10 `UnaryCall` (64 KiB) and 10 `StreamingOutputCall` at once, one connection",
    "large_streams": "4 MiB each way in 512 KiB messages (client and server stream): flow control",
    "unimplemented_method": "`UnimplementedCall`: status 12",
}


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


def expectation(peer, case):
    return PEER_EXPECTED.get((peer, case), EXPECTED[case])


class Peers:
    """How to run each peer, found once: argv prefixes and version names."""

    def __init__(self, source):
        self.source = source
        self.argv = {}      # peer -> the argv before "client"/"server"
        self.names = {}     # peer -> "grpc-js 1.14.3", ...
        self.missing = {}   # peer -> why it cannot run

    def find(self, only=None):
        """Find every peer (or only these); True when all were found."""
        for peer in only or PEERS:
            getattr(self, "find_" + peer)()
        return not self.missing

    def find_node(self):
        node = shutil.which("node")
        pkg = os.path.join(self.source, "tests", "interop", "peers", "node_modules", "@grpc",
                           "grpc-js", "package.json")
        if not node or not os.path.exists(pkg):
            self.missing["node"] = ("no node" if not node else
                                    "no @grpc/grpc-js in tests/interop/peers (npm ci there)")
            return
        with open(pkg) as f:
            self.names["node"] = "grpc-js " + json.load(f)["version"]
        self.argv["node"] = [node, os.path.join(HERE, "node_peer.js")]

    def find_python(self):
        """An interpreter with grpcio and protobuf: Debian's python3-grpcio
        is /usr/bin/python3's, which need not be the python running this."""
        if not shutil.which("protoc"):
            self.missing["python"] = "no protoc (protobuf-compiler)"
            return
        tried = []
        for py in (os.environ.get("DUBBO_C_GRPC_PYTHON"), "/usr/bin/python3", sys.executable):
            if not py or py in tried or not os.path.exists(py):
                continue
            tried.append(py)
            r = subprocess.run([py, "-c", "import grpc, google.protobuf; print(grpc.__version__)"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                self.names["python"] = "grpcio " + r.stdout.strip()
                self.argv["python"] = [py, os.path.join(HERE, "python_peer.py")]
                return
        self.missing["python"] = "no python with grpcio and protobuf (tried %s)" % ", ".join(tried)

    def find_cpp(self):
        build = os.path.join(HERE, "cpp", "build.sh")
        r = subprocess.run(["bash", build, "--print"], capture_output=True, text=True)
        if r.returncode != 0:
            print("grpc-peers: the C++ peer is not built yet; building it (~1 min)", flush=True)
            t0 = time.time()
            r = subprocess.run(["bash", build], capture_output=True, text=True)
            if r.returncode != 0:
                self.missing["cpp"] = "cpp/build.sh failed: " + r.stderr.strip()[-600:]
                return
            print("grpc-peers: built in %.1f s" % (time.time() - t0), flush=True)
        out = r.stdout.strip().splitlines()[-1]
        self.argv["cpp"] = [os.path.join(out, "cpp_peer")]
        version = "?"
        with open(os.path.join(out, "stamp")) as f:
            m = re.search(r"grpc\+\+ (\S+),", f.read())
            if m:
                version = m.group(1).rstrip(",")
        self.names["cpp"] = "grpc C++ " + version


def start_peer_server(peer, work=None, peers=None):
    """Start one peer's server (node, python or cpp) on 127.0.0.1 and a
    port it picks, as the README says: (its interoplib.Proc, the port).
    Its stderr goes to <work>/server-<peer>.log. Stop it with
    proc.stop() (SIGTERM; it exits 0). peers: a Peers already found
    (default: found now, building the C++ peer if need be). Raises
    RuntimeError when the peer cannot run or does not start in 30 s."""
    if peers is None:
        peers = Peers(os.path.normpath(os.path.join(HERE, "..", "..", "..")))
        peers.find([peer])
    if peer not in peers.argv:
        raise RuntimeError("%s peer unavailable: %s" % (peer, peers.missing.get(peer, "unknown")))
    name = "server-" + peer
    p = Proc(name, peers.argv[peer] + ["server", "--port", "0", "--host", "127.0.0.1"],
             dict(os.environ), work)
    m = p.wait_line(r"^LISTENING (\d+)$", 30)
    if not m:
        p.stop(signal.SIGKILL)
        raise RuntimeError("%s's server did not start%s" % (
            peer, "; see %s/%s.log" % (work, name) if work else ""))
    return p, int(m.group(1))


class Run:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        os.makedirs(self.work, exist_ok=True)
        self.peers = Peers(args.source)
        self.procs = []
        self.results = {}   # (client peer, server) -> {case: (passed, detail)}
        self.seconds = {}
        self.bad = []
        self.extra = []

    def start_peer_server(self, peer):
        p, port = start_peer_server(peer, self.work, self.peers)
        self.procs.append(p)
        return p, port

    def run_client(self, peer, server, port):
        """One peer client's run of every case against 127.0.0.1:port."""
        argv = self.peers.argv[peer] + ["client", "--server", "127.0.0.1:%d" % port,
                                        "--timeout", str(self.a.case_timeout)]
        log = os.path.join(self.work, "client-%s-to-%s.log" % (peer, server))
        t0 = time.time()
        try:
            r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=len(CASES) * self.a.case_timeout + 30)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, rc = "timed out", "timeout"
        with open(log, "w") as f:
            f.write("$ %s\n%s\n--- stderr\n%s" % (" ".join(argv), out, err))
        results = {}
        for line in out.splitlines():
            m = re.match(r"^(PASS|FAIL) (\S+?):?(?: (.*))?$", line)
            if m:
                results[m.group(2)] = (m.group(1) == "PASS", m.group(3) or "")
        for case in CASES:
            if case not in results:
                results[case] = (False, "no result (client exit %s; see %s)" % (rc, log))
        self.results[(peer, server)] = results
        self.seconds[(peer, server)] = time.time() - t0
        print("grpc-peers: %s client -> %s: %d of %d passed in %.1f s" % (
            self.peers.names[peer], self.server_name(server),
            sum(1 for ok, _ in results.values() if ok), len(CASES), self.seconds[(peer, server)]),
            flush=True)

    def server_name(self, server):
        return "dubbo-c" if server == "c" else self.peers.names[server]

    def main(self):
        if not self.peers.find():
            for peer, why in self.peers.missing.items():
                print("grpc-peers: %s peer unavailable: %s" % (peer, why))
            if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1":
                return 77
            return 1
        try:
            return self.run()
        finally:
            for p in self.procs:
                p.stop(signal.SIGKILL, 5)

    def run(self):
        t0 = time.time()
        ours = Proc("provider-c", [
            self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--port", "0",
            "--host", "127.0.0.1", "--registry", "none",
            "--application", "dubbo-c-grpc-peers-provider"], dict(os.environ), self.work)
        self.procs.append(ours)
        m = ours.wait_line(r"^listening on .*:(\d+)$", 60)
        if not m:
            raise RuntimeError("the dubbo-c provider did not start; see %s/provider-c.log"
                               % self.work)
        ports = {"c": int(m.group(1))}
        for peer in PEERS:
            ports[peer] = self.start_peer_server(peer)[1]
        print("grpc-peers: listening: %s" % ", ".join(
            "%s %d" % (self.server_name(s), p) for s, p in ports.items()), flush=True)

        for peer in PEERS:
            for server in ["c", peer] + [s for s in PEERS if s != peer]:
                self.run_client(peer, server, ports[server])

        alive = ours.alive()
        rc = ours.stop(signal.SIGTERM, 30)
        self.extra.append(("the dubbo-c provider served the whole run and exits 0 on SIGTERM",
                           alive and rc == 0, "alive to the end: %s, exit %s" % (alive, rc)))
        for peer in PEERS:
            p = next(x for x in self.procs if x.name == "server-" + peer)
            alive = p.alive()
            rc = p.stop(signal.SIGTERM, 10)
            self.extra.append(("the %s server served the whole run and exits 0 on SIGTERM"
                               % self.peers.names[peer], alive and rc == 0,
                               "alive to the end: %s, exit %s" % (alive, rc)))
        print("grpc-peers: all runs took %.1f s" % (time.time() - t0), flush=True)
        return self.report()

    # ---- the report -------------------------------------------------------------------
    def cell(self, passed, expected, what):
        if expected == "pass":
            if passed:
                return "pass"
            self.bad.append(what)
            return "**FAIL**"
        if passed:
            self.bad.append(what + " passes, but it is listed as '%s': update the list" % expected)
            return "**pass** (listed todo)"
        return "todo"

    def report(self):
        names = self.peers.names
        rows = ["Each peer's client against dubbo-c's Triple server, and against its own "
                "stack's server (the baseline):", ""]
        head = ["case"]
        for peer in PEERS:
            head += ["%s → dubbo-c" % names[peer], "%s → %s" % (names[peer], names[peer])]
        head.append("what")
        rows += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        notes = []
        for case in CASES:
            cells = []
            for peer in PEERS:
                for server in ("c", peer):
                    passed, detail = self.results[(peer, server)][case]
                    exp = expectation(peer, case) if server == "c" else "pass"
                    what = "%s client %s -> %s: %s" % (names[peer], case, self.server_name(server),
                                                       detail[:400] or ("passed" if passed else "failed"))
                    cells.append(self.cell(passed, exp, what))
                    if exp != "pass":
                        notes.append("`%s`, %s → dubbo-c: %s" % (case, names[peer], md(exp)))
            rows.append("| `%s` | %s | %s |" % (case, " | ".join(cells), CASE_NOTES[case]))
        rows.append("")
        for n in notes:
            rows.append("- " + n)
        if notes:
            rows.append("")

        rows += ["Each peer's client against the other peers' servers (so each server is known "
                 "good before dubbo-c's Triple client calls it), cases passed:", ""]
        head = ["client \\ server"] + [names[s] for s in PEERS]
        rows += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for peer in PEERS:
            cells = []
            for server in PEERS:
                res = self.results[(peer, server)]
                failed = [c for c in CASES if not res[c][0]]
                if server != peer:   # the diagonal is the baseline above
                    for c in failed:
                        self.bad.append("%s client %s -> %s: %s" % (
                            names[peer], c, names[server], res[c][1][:400] or "failed"))
                cells.append("%d/%d" % (len(CASES) - len(failed), len(CASES)) +
                             ("" if not failed else " (**FAIL** %s)" % ", ".join(failed)))
            rows.append("| %s | %s |" % (names[peer], " | ".join(cells)))
        rows.append("")

        rows += ["The other direction, dubbo-c's Triple client against these servers: "
                 + ("%d case(s)" % len(CLIENT_DIRECTION_CASES) if CLIENT_DIRECTION_CASES
                    else "not yet (added once the client lands)."), ""]

        rows += ["| scenario | result | detail |", "|---|---|---|"]
        for title, ok, detail in self.extra:
            rows.append("| %s | %s | %s |" % (title, "pass" if ok else "**FAIL**", md(detail)))
            if not ok:
                self.bad.append("%s: %s" % (title, detail))

        text = "\n".join(rows) + "\n"
        print(text)
        if self.a.matrix_out:
            with open(self.a.matrix_out, "w") as f:
                f.write(text)
        with open(os.path.join(self.work, "results.json"), "w") as f:
            json.dump({"%s->%s" % k: v for k, v in self.results.items()} |
                      {"differed": self.bad}, f, indent=1)
        write_section(os.path.join(self.a.source, "docs", "interop.md"), "grpc-peers", text)
        for b in self.bad:
            print("DIFFERS: " + b)
        print("interop grpc-peers: %s" % ("all as expected" if not self.bad
                                          else "%d unexpected result(s)" % len(self.bad)))
        return 1 if self.bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True, help="the dubbo CLI")
    ap.add_argument("--source", required=True, help="the source tree (for the protos and docs)")
    ap.add_argument("--work", required=True, help="logs and results go here")
    ap.add_argument("--matrix-out", help="also write the tables here")
    ap.add_argument("--case-timeout", type=int, default=10, help="seconds per call (default 10)")
    sys.exit(Run(ap.parse_args()).main())


if __name__ == "__main__":
    main()
