#!/usr/bin/env python3
"""Triple (gRPC over HTTP/2) against third-party peers: dubbo-c's Triple
server under gRPC's official interop client, Java Dubbo 3.3.6's Triple
consumer and h2spec, each beside the same peer against its own server.

One dubbo-c provider (`dubbo demo provider --protocol dubbo,tri --host ::`)
is started for the whole run, then:

  1. grpc-go's interop client (tests/interop/grpc, through its driver
     grpc_interop.py): the 14 standard cases, plain and gzip, against us and
     against grpc-go's own interop server (the baseline);
  2. Java's TriConsumer (tests/interop/java) against us and against Java's
     own TriProvider (the baseline);
  3. h2spec against us; against grpc-go's server only with DUBBO_H2SPEC=1
     (~50 s), otherwise its last summary in docs/interop.md is kept.

The tables are printed, written to --matrix-out and into docs/interop.md
between <!-- matrix:triple:begin --> and <!-- matrix:triple:end -->.

What each case is expected to do against us is in GRPC_EXPECTED,
JAVA_EXPECTED and H2SPEC_KNOWN below. The run fails when an expected-pass
case fails, when a "todo" case passes (so that the list is updated when what
its note says is done), when a baseline case fails, or when h2spec fails a
case not in H2SPEC_KNOWN. A gRPC case expected to pass that fails is run once
more: passing then, it counts as passed and is shown as "pass (2nd run)",
the first failure printed (grpc-go's own server fails cancel_after_begin now
and then: its handler can finish before the client's cancellation lands).

Exit: 0 all as expected, 1 something differed, 77 a peer is not built and
cannot be (ctest's skip code, only when DUBBO_C_ALLOW_SKIP=1)."""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc, read_section, write_section  # noqa: E402
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GRPC_DRIVER = os.path.join(HERE, "..", "grpc", "grpc_interop.py")

# What gRPC's interop cases do against the demo provider today: "pass", or
# "todo: <why>" for a case expected to fail until the reason goes (none now:
# until streaming landed the streaming cases were "todo: streaming").
GRPC_EXPECTED = {case: "pass" for case in [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
    "empty_stream", "custom_metadata", "status_code_and_message", "special_status_message",
    "unimplemented_method", "unimplemented_service", "timeout_on_sleeping_server",
    "cancel_after_begin", "cancel_after_first_response"]}

# The Triple consumer's cases (tests/interop/java/README.md, "Triple").
JAVA_CASES = ["say_hello", "exception", "attachment", "attachment_forms",
              "idl_say_hello", "idl_stream", "idl_exception", "not_found"]
JAVA_EXPECTED = {
    "say_hello": "pass",
    "exception": "pass",
    "attachment": "pass",
    "attachment_forms": "pass",
    "idl_say_hello": "pass",
    "idl_stream": "pass",
    "idl_exception": "pass",
    "not_found": "pass",
}
# What the provider's DemoService.fail("boom") throws.
JAVA_EXCEPTION = {"c": "java.lang.IllegalStateException",
                  "java": "org.apache.dubbo.demo.DemoException"}

# h2spec cases our server is known to fail: none since the hardening of
# src/protocol/tri/server.c (docs/triple.md, "Hardening"). Before it:
# generic/2/2 and 2/3 (the 415 to h2spec's plain requests had no DATA; it
# now has a line of text), http2/5.1.1/2 (a lower stream id was ignored:
# nghttp2 cannot tell it from trailers once it forgot the stream; on_unit
# now checks ids itself) and http2/5.1.2/1 (each 415 left at once and closed
# its stream, so 100 were never open; its DATA now waits for the window
# h2spec keeps at 0, and the 101st stream is refused). A case listed here
# is a failure expected with its reason; one passing is noted.
H2SPEC_KNOWN = {}

NAMES = {"c": "dubbo-c", "grpc": "grpc-go 1.85.0", "java": "Java Dubbo 3.3.6"}
GO_H2SPEC_ROW = "| grpc-go 1.85.0 `interop_server` |"


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


class Run:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(os.environ)
        self.procs = []
        self.bad = []      # what differed from the expectation
        self.notes = []
        self.grpc = {}     # (server, mode) -> {case: result dict}
        self.java = {}     # server -> {case: (verdict, detail)}
        self.h2spec = {}   # server -> the driver's json, or None
        self.extra = []    # (title, verdict, detail)

    # ---- peers --------------------------------------------------------------------------
    def built_dir(self, peer):
        build = os.path.join(self.a.source, "tests", "interop", peer, "build.sh")
        r = subprocess.run(["bash", build, "--print"], capture_output=True, text=True)
        if r.returncode != 0:
            print("triple: %s not built yet; building it (scripts/setup.sh does this once)" % peer,
                  flush=True)
            r = subprocess.run(["bash", build], capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                return None
        return r.stdout.strip().splitlines()[-1]

    def java_cmd(self, cls):
        with open(os.path.join(self.java_dir, "classpath")) as f:
            cp = f.read().strip()
        return ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp,
                "org.dubboc.interop." + cls]

    def start(self, name, argv, pattern, timeout=90):
        p = Proc(name, argv, self.env, self.work)
        self.procs.append(p)
        m = p.wait_line(pattern, timeout)
        if not m:
            p.stop(signal.SIGKILL)
            raise RuntimeError("%s did not start; see %s/%s.log" % (name, self.work, name))
        p.port = int(m.group(1))
        print("triple: %s listening on port %d" % (name, p.port), flush=True)
        return p

    # ---- 1. gRPC's interop client -------------------------------------------------------
    def grpc_driver(self, server, gzip, port, cases, tag):
        """One run of grpc_interop.py: {case: its result}."""
        mode = "gzip" if gzip else "identity"
        out = os.path.join(self.work, "grpc-%s-%s%s.json" % (server, mode, tag))
        if os.path.exists(out):
            os.unlink(out)
        argv = [sys.executable, GRPC_DRIVER, "--json", out, "--timeout", str(self.a.case_timeout),
                "--cases", ",".join(cases)]
        argv += ["--server", "127.0.0.1:%d" % port] if server == "c" else ["--start-go-server"]
        if gzip:
            argv.append("--gzip")
        log = os.path.join(self.work, "grpc-%s-%s%s.log" % (server, mode, tag))
        with open(log, "w") as f:
            subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=self.env, timeout=len(cases) * (self.a.case_timeout + 10) + 60)
        results = {}
        if os.path.exists(out):
            with open(out) as f:
                for r in json.load(f)["results"]:
                    results[r["case"]] = r
        return results, log

    def grpc_cases(self, server, gzip, port=None):
        mode = "gzip" if gzip else "identity"
        t0 = time.time()
        results, log = self.grpc_driver(server, gzip, port, list(GRPC_EXPECTED), "")
        again = [c for c in GRPC_EXPECTED if not results.get(c, {}).get("passed")
                 and (server != "c" or GRPC_EXPECTED[c] == "pass")]
        if again:
            second, _ = self.grpc_driver(server, gzip, port, again, "-again")
            for c in again:
                if second.get(c, {}).get("passed"):
                    first = results.get(c) or {"output_tail": ["not run"]}
                    second[c]["first_run"] = first
                    self.notes.append("gRPC %s -> %s (%s) failed, then passed on its 2nd run; "
                                      "1st: %s" % (c, NAMES[server], mode,
                                                   " / ".join(first.get("output_tail", [])[-2:])))
                    results[c] = second[c]
        self.grpc[(server, mode)] = results
        print("triple: gRPC interop client -> %s (%s): %d of %d passed in %.1f s (see %s)"
              % (NAMES[server], mode, sum(1 for r in results.values() if r["passed"]),
                 len(GRPC_EXPECTED), time.time() - t0, log), flush=True)

    # ---- 2. Java's Triple consumer ------------------------------------------------------
    def java_consumer(self, server, port):
        t0 = time.time()
        results = self.java_run(server, port, JAVA_CASES, "")
        # A case that failed runs once more in a new consumer (a cold JVM on a
        # loaded machine can miss its 3 s timeout), as the gRPC cases do; the
        # first failure is kept in the notes.
        again = [c for c in JAVA_CASES if results[c][0] == "FAIL"]
        if again:
            second = self.java_run(server, port, again, "-again")
            for c in again:
                if second[c][0] == "PASS":
                    self.notes.append("TriConsumer %s -> %s failed, then passed on its 2nd run; "
                                      "1st: %s" % (c, NAMES[server], results[c][1][:300]))
                    results[c] = second[c]
        self.java[server] = results
        print("triple: TriConsumer -> %s: %d of %d passed in %.1f s"
              % (NAMES[server], sum(1 for v, _ in results.values() if v == "PASS"),
                 len(JAVA_CASES), time.time() - t0), flush=True)

    def java_run(self, server, port, cases, suffix):
        name = "triconsumer-%s%s" % (server, suffix)
        argv = self.java_cmd("TriConsumer") + [
            "--url", "tri://[::1]:%d" % port, "--cases", ",".join(cases),
            "--expect-exception", JAVA_EXCEPTION[server]]
        p = Proc(name, argv, self.env, self.work)
        try:
            p.p.wait(120)
        except subprocess.TimeoutExpired:
            p.stop(signal.SIGKILL)
        p.t.join(5)
        results = {}
        for line in p.lines:
            m = re.match(r"^RESULT (\S+) (PASS|FAIL|SKIP) ?(.*)$", line)
            if m:
                results[m.group(1)] = (m.group(2), m.group(3))
        for case in cases:
            if case not in results:
                results[case] = ("FAIL", "no result (consumer exit %s; see %s.log)"
                                 % (p.p.returncode, name))
        # not_found passes on any RpcException, a refused connection too:
        # it must be the provider that said UNIMPLEMENTED.
        v, d = results.get("not_found", ("SKIP", ""))
        if v == "PASS" and "UNIMPLEMENTED" not in d:
            results["not_found"] = ("FAIL", "not an UNIMPLEMENTED from the provider: " + d)
        p.stop()
        return results

    # ---- 3. h2spec ------------------------------------------------------------------------
    def run_h2spec(self, server, port=None):
        out = os.path.join(self.work, "h2spec-%s.json" % server)
        if os.path.exists(out):
            os.unlink(out)
        argv = [sys.executable, GRPC_DRIVER, "--json", out, "--h2spec-deadline", "300"]
        argv += ["--h2spec", "127.0.0.1:%d" % port] if server == "c" else [
            "--start-go-server", "--h2spec"]
        t0 = time.time()
        log = os.path.join(self.work, "h2spec-%s.log" % server)
        with open(log, "w") as f:
            subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=self.env, timeout=400)
        res = None
        if os.path.exists(out):
            with open(out) as f:
                res = json.load(f)
            res["seconds"] = round(time.time() - t0, 1)
            res["failed_ids"] = ["%s/%d" % (s["section"], c["n"]) for s in res["sections"]
                                 for c in s["cases"] if c["outcome"] == "fail"]
        self.h2spec[server] = res
        if res:
            print("triple: h2spec -> %s: %d passed, %d failed, %d skipped in %.1f s (see %s)"
                  % (NAMES[server], res["passed"], res["failed"], res["skipped"],
                     res["seconds"], log), flush=True)
        else:
            print("triple: h2spec -> %s: no report (see %s)" % (NAMES[server], log), flush=True)

    # ---- the run ----------------------------------------------------------------------------
    def main(self):
        grpc_dir = self.built_dir("grpc")
        self.java_dir = self.built_dir("java")
        if not grpc_dir or not self.java_dir:
            if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1":
                return 77
            print("triple: a peer could not be built (tests/interop/grpc or tests/interop/java)")
            return 1
        self.env["GRPC_TOOLS_DIR"] = grpc_dir
        try:
            return self.run()
        finally:
            for p in self.procs:
                p.stop(signal.SIGKILL, 5)

    def run(self):
        ours = self.start("provider-c", [
            self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--port", "0",
            "--host", "::", "--registry", "none", "--application", "dubbo-c-tri-provider"],
            r"^listening on .*:(\d+)$")
        # Java's provider starts while the gRPC cases run.
        theirs = Proc("triprovider-java", self.java_cmd("TriProvider") + ["--port", "0"],
                      self.env, self.work)
        self.procs.append(theirs)

        for gzip in (False, True):
            self.grpc_cases("c", gzip, ours.port)
            self.grpc_cases("grpc", gzip)
        self.java_consumer("c", ours.port)
        m = theirs.wait_line(r"^READY (\d+)$", 90)
        if m:
            self.java_consumer("java", int(m.group(1)))
        else:
            self.java["java"] = {c: ("FAIL", "TriProvider did not start; see triprovider-java.log")
                                 for c in JAVA_CASES}
        theirs.stop()
        self.run_h2spec("c", ours.port)
        if os.environ.get("DUBBO_H2SPEC") == "1":
            self.run_h2spec("grpc")

        alive = ours.alive()
        rc = ours.stop(signal.SIGTERM, 30)
        self.extra.append(("the dubbo-c provider served the whole run and exits 0 on SIGTERM",
                           "PASS" if alive and rc == 0 else "FAIL",
                           "alive to the end: %s, exit %s" % (alive, rc)))
        return self.report()

    # ---- the report ---------------------------------------------------------------------
    def cell(self, passed, expected, what):
        """The cell for an outcome against what was expected of it."""
        if expected.startswith("n/a"):
            return "n/a"
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
        rows = []
        # 1. gRPC
        cols = [("c", "identity"), ("c", "gzip"), ("grpc", "identity"), ("grpc", "gzip")]
        rows.append("**gRPC interop cases** (grpc-go 1.85.0 `interop_client`; gzip: "
                    "`interop_client_gzip`, every request compressed)")
        rows.append("")
        head = ["case"] + ["%s → %s%s" % (NAMES["grpc"], NAMES[s], " (gzip)" if m == "gzip" else "")
                           for s, m in cols] + ["note"]
        rows += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for case, exp in GRPC_EXPECTED.items():
            cells = []
            for server, mode in cols:
                r = self.grpc.get((server, mode), {}).get(case)
                passed = bool(r and r["passed"])
                why = "not run" if not r else " / ".join((r.get("output_tail") or ["it"])[-1:])
                what = "gRPC %s -> %s (%s): %s" % (case, NAMES[server], mode, why[:400])
                c = self.cell(passed, exp if server == "c" else "pass", what)
                cells.append(c + " (2nd run)" if c == "pass" and "first_run" in r else c)
            note = "" if exp == "pass" else md(exp.split(": ", 1)[1] if ": " in exp else exp)
            rows.append("| `%s` | %s | %s |" % (case, " | ".join(cells), note))
        rows.append("")
        # 2. Java
        rows.append("**Java Dubbo 3.3.6 Triple consumer** (`TriConsumer --url tri://[::1]:P`; "
                    "DemoService in wrapper mode, `helloworld.Greeter` as IDL)")
        rows.append("")
        head = ["case", "%s → %s" % (NAMES["java"], NAMES["c"]),
                "%s → %s" % (NAMES["java"], NAMES["java"]), "note"]
        rows += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for case in JAVA_CASES:
            exp = JAVA_EXPECTED[case]
            cells = []
            for server in ("c", "java"):
                v, d = self.java.get(server, {}).get(case, ("FAIL", "not run"))
                what = "TriConsumer %s -> %s: %s" % (case, NAMES[server], d[:400] or "it")
                cells.append(self.cell(v == "PASS", exp if server == "c" else "pass", what))
                if server == "c" and exp.startswith("n/a"):
                    self.notes.append("TriConsumer %s -> dubbo-c (n/a): %s %s" % (case, v, d[:300]))
            note = "" if exp == "pass" else md(exp.split(": ", 1)[1] if ": " in exp else exp)
            rows.append("| `%s` | %s | %s |" % (case, " | ".join(cells), note))
        rows.append("")
        # 3. h2spec
        rows.append("**h2spec** 2.0.0 (`h2spec -o 2`, path `/grpc.testing.TestService/EmptyCall`; "
                    "its requests carry no `application/grpc`, so each is answered HTTP 415 "
                    "with a line of text)")
        rows.append("")
        rows.append("| server | cases | pass | fail | skip | failed cases |")
        rows.append("|---|---|---|---|---|---|")
        ours = self.h2spec.get("c")
        if ours:
            rows.append("| %s | %d | %d | %d | %d | %s |" % (
                NAMES["c"], ours["passed"] + ours["failed"] + ours["skipped"], ours["passed"],
                ours["failed"], ours["skipped"],
                ", ".join("`%s`" % i for i in ours["failed_ids"]) or "none"))
            new = [cid for cid in ours["failed_ids"] if cid not in H2SPEC_KNOWN]
            for cid in new[:10]:
                reason = next((c["reason"] for s in ours["sections"] for c in s["cases"]
                               if "%s/%d" % (s["section"], c["n"]) == cid), "")
                self.bad.append("h2spec %s fails against dubbo-c (not in H2SPEC_KNOWN): %s"
                                % (cid, reason))
            if len(new) > 10:
                self.bad.append("h2spec: %d more cases not in H2SPEC_KNOWN fail (h2spec-c.log)"
                                % (len(new) - 10))
            for cid in H2SPEC_KNOWN:
                if cid not in ours["failed_ids"]:
                    self.notes.append("h2spec %s passes now although H2SPEC_KNOWN lists it" % cid)
        else:
            rows.append("| %s | — | — | — | — | no report (h2spec-c.log) |" % NAMES["c"])
            self.bad.append("h2spec against dubbo-c wrote no report")
        go = self.h2spec.get("grpc")
        if go:
            rows.append("%s %d | %d | %d | %d | %s (run of %s) |" % (
                GO_H2SPEC_ROW, go["passed"] + go["failed"] + go["skipped"], go["passed"],
                go["failed"], go["skipped"],
                ", ".join("`%s`" % i for i in go["failed_ids"]) or "none",
                datetime.date.today().isoformat()))
        else:
            rows.append(self.previous_go_row() or
                        "%s — | — | — | — | not run yet (`DUBBO_H2SPEC=1` runs it, ~50 s) |"
                        % GO_H2SPEC_ROW)
        rows.append("")
        rows.append("Known h2spec failures of ours (H2SPEC_KNOWN in the script): %s"
                    % ("" if H2SPEC_KNOWN else "none (docs/triple.md, \"Hardening\")"))
        rows.append("")
        for cid, why in H2SPEC_KNOWN.items():
            rows.append("- `%s`: %s" % (cid, why))
        rows.append("")
        rows.append("| scenario | result | detail |")
        rows.append("|---|---|---|")
        for title, verdict, detail in self.extra:
            rows.append("| %s | %s | %s |" % (title, "pass" if verdict == "PASS" else "**FAIL**",
                                             md(detail)))
            if verdict != "PASS":
                self.bad.append("%s: %s" % (title, detail))

        text = "\n".join(rows) + "\n"
        print(text)
        for n in self.notes:
            print("note: " + n)
        if self.a.matrix_out:
            with open(self.a.matrix_out, "w") as f:
                f.write(text)
        with open(os.path.join(self.work, "results.json"), "w") as f:
            json.dump({"grpc": {"%s/%s" % k: v for k, v in self.grpc.items()},
                       "java": self.java, "h2spec": self.h2spec,
                       "extra": self.extra, "differed": self.bad}, f, indent=1)
        self.update_docs(text)
        for b in self.bad:
            print("DIFFERS: " + b)
        print("interop triple: %s" % ("all as expected" if not self.bad
                                      else "%d unexpected result(s)" % len(self.bad)))
        return 1 if self.bad else 0

    def doc_path(self):
        return os.path.join(self.a.source, "docs", "interop.md")

    def previous_go_row(self):
        """grpc-go's h2spec row from the last run that made it."""
        for line in (read_section(self.doc_path(), "triple") or "").splitlines():
            if line.startswith(GO_H2SPEC_ROW) and "not run yet" not in line:
                return line
        return None

    def update_docs(self, text):
        """Write the tables between the triple markers in docs/interop.md."""
        write_section(self.doc_path(), "triple", text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True, help="the dubbo CLI")
    ap.add_argument("--source", required=True, help="the source tree (for the peers and docs)")
    ap.add_argument("--work", required=True, help="logs and results go here")
    ap.add_argument("--matrix-out", help="also write the tables here")
    ap.add_argument("--case-timeout", type=int, default=10,
                    help="seconds per gRPC interop case (default 10)")
    sys.exit(Run(ap.parse_args()).main())


if __name__ == "__main__":
    main()
