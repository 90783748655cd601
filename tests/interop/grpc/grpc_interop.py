#!/usr/bin/env python3
"""Runs gRPC's standard interop cases, and h2spec, against a gRPC server.

The clients and servers are grpc-go's (tests/interop/grpc/build.sh builds
them once per machine); this only starts them, times them and reports.

  grpc_interop.py --server HOST:PORT [--cases a,b] [--gzip] [--json OUT]
      each case is one run of grpc-go's interop client (--use_tls=false),
      20 s at most; a table of the outcomes, and for a failed case the last
      lines of the client's output. Exit 0 only if every case passed.
  grpc_interop.py --start-go-server [...]
      the same against grpc-go's own interop server, started on a free
      loopback port and stopped afterwards: the baseline.
  grpc_interop.py --serve-go-server PORTFILE [--gzip]
      starts grpc-go's interop server on a free port, writes the port to
      PORTFILE and runs until killed (for a C interop client).
  grpc_interop.py --h2spec HOST:PORT       (or --h2spec with --server /
                                            --start-go-server)
      runs h2spec and prints its outcome per section and each failed case
      with the reason. Exit 0 only if no case failed.

--gzip: the client compresses every request with gzip. grpc-go's interop
client has no compression flag and neither of its interop binaries registers
gzip, so --gzip uses interop_client_gzip (the same grpc-go case bodies, over a
gzip channel) and, for a started Go server, interop_server_gzip (grpc-go's
TestService with gzip registered). The tools' directory is build.sh's (or
$GRPC_TOOLS_DIR).
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
]

TAIL_LINES = 12


def die(msg):
    print("grpc_interop: " + msg, file=sys.stderr)
    sys.exit(2)


def tools_dir():
    """The directory of the built tools; builds them if they are not."""
    d = os.environ.get("GRPC_TOOLS_DIR")
    if d:
        return d
    build = os.path.join(HERE, "build.sh")
    r = subprocess.run(["bash", build, "--print"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if r.returncode != 0:
        print("grpc_interop: building the gRPC tools (once per machine)",
              file=sys.stderr)
        r = subprocess.run(["bash", build], stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            die("build.sh failed")
    lines = r.stdout.strip().splitlines()
    if not lines:
        die("build.sh printed no directory")
    return lines[-1]


def tool(name):
    path = os.path.join(tools_dir(), name)
    if not os.access(path, os.X_OK):
        die("no tool %s" % path)
    return path


def split_hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit():
        die("want HOST:PORT, got %r" % s)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def tail(text, n=TAIL_LINES):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-n:]


def kill_group(proc):
    """Ends a process started in its own session, and its children."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


# ---- the Go interop server ------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def listening(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class GoServer:
    """grpc-go's interop server (gzip-capable with gzip=True) on a free port."""

    def __init__(self, gzip):
        self.binary = tool("interop_server_gzip" if gzip else "interop_server")
        self.proc = None
        self.port = None
        self.log = tempfile.TemporaryFile(mode="w+")

    def start(self):
        for _ in range(3):  # a port taken between the pick and the listen
            port = free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port=%d" % port, "--use_tls=false"],
                stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if listening("127.0.0.1", port):
                    self.port = port
                    return port
                time.sleep(0.05)
            kill_group(self.proc)
        self.log.seek(0)
        die("the Go interop server did not start:\n" + self.log.read()[-2000:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc is not None:
            kill_group(self.proc)


# ---- interop cases --------------------------------------------------------

def run_case(case, host, port, gzip, timeout):
    if gzip:
        argv = [tool("interop_client_gzip"), "--compression=gzip"]
    else:
        argv = [tool("interop_client"), "--use_tls=false"]
    argv += ["--server_host=%s" % host, "--server_port=%d" % port,
             "--test_case=%s" % case]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace",
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, _ = proc.communicate()
        rc = None
        timed_out = True
    secs = time.monotonic() - t0
    passed = rc == 0
    res = {"case": case, "passed": passed, "seconds": round(secs, 3),
           "exit": rc, "timed_out": timed_out}
    if not passed:
        lines = tail(out or "")
        if timed_out:
            lines.append("(no outcome after %g s: killed)" % timeout)
        elif rc is not None and rc < 0:
            lines.append("(killed by signal %d)" % -rc)
        res["output_tail"] = lines
    return res


def run_cases(args, host, port, server=None):
    cases = CASES
    if args.cases:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = [c for c in cases if c not in CASES]
        if unknown:
            die("unknown case(s): %s (known: %s)"
                % (", ".join(unknown), ", ".join(CASES)))
    mode = "gzip" if args.gzip else "identity"
    target = "%s:%d" % (host, port)
    if server is not None:
        target += " (grpc-go interop server%s)" % (", gzip" if args.gzip else "")
    print("gRPC interop cases against %s, requests %s" % (target, mode))
    width = max(len(c) for c in cases)
    print("  %-*s  %-6s  %s" % (width, "case", "result", "seconds"))
    results = []
    for case in cases:
        r = run_case(case, host, port, args.gzip, args.timeout)
        results.append(r)
        print("  %-*s  %-6s  %7.2f" % (width, case,
                                       "pass" if r["passed"] else "FAIL",
                                       r["seconds"]))
        for line in r.get("output_tail", []):
            print("      | " + line)
        sys.stdout.flush()
        if server is not None and not server.alive():
            print("  the Go interop server exited:")
            for line in tail(server.output()):
                print("      | " + line)
            break
    npass = sum(1 for r in results if r["passed"])
    nfail = len(cases) - npass
    print("interop: %d passed, %d failed" % (npass, nfail))
    if args.json:
        write_json(args.json, {
            "kind": "interop", "server": "%s:%d" % (host, port),
            "go_server": server is not None, "compression": mode,
            "passed": npass, "failed": nfail, "results": results})
    return 0 if nfail == 0 else 1


# ---- h2spec ----------------------------------------------------------------

def run_h2spec(args, host, port):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.xml")
        argv = [tool("h2spec"), "-h", host, "-p", str(port),
                "-P", args.h2spec_path, "-o", str(args.h2spec_timeout),
                "-j", report] + list(args.h2spec_spec or [])
        if args.h2spec_strict:
            argv.append("-S")
        print("h2spec against %s:%d, path %s" % (host, port, args.h2spec_path))
        sys.stdout.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=args.h2spec_deadline)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, _ = proc.communicate()
            print("h2spec ran longer than %d s: killed" % args.h2spec_deadline)
        if not os.path.exists(report):
            print("h2spec wrote no report (exit %s):" % proc.returncode)
            for line in tail(out or ""):
                print("    | " + line)
            return 1
        sections = parse_junit(report, case_numbers(out or ""))
    return report_h2spec(args, host, port, sections)


HEADING = re.compile(r"^\s*(\d+(?:\.\d+)*)\.\s+(.+?)\s*$")
CASE_LINE = re.compile(r"^\s*(?:[^\w\s]\s+)?(\d+):\s+(.+?)\s*$")


def case_numbers(out):
    """{(section heading, case title): case number} from h2spec's output.

    The JUnit report lists only the cases that ran, unnumbered; the text
    output numbers them as h2spec does ("http2/8.1.2.3/4" runs case 4)."""
    numbers = {}
    heading = None
    for line in re.split(r"[\r\n]", out):
        m = CASE_LINE.match(line)
        if m and heading is not None:
            numbers[(heading, m.group(2))] = int(m.group(1))
            continue
        m = HEADING.match(line)
        if m:
            heading = "%s. %s" % (m.group(1), m.group(2))
    return numbers


def parse_junit(path, numbers):
    """[(section id, title, [(n, title, outcome, reason)])] in h2spec's order,
    the sections in which no case ran left out.

    The section id is h2spec's spec name ("http2/6.5.2"), so that
    "SECTION/N" can be handed back to h2spec to run one case."""
    sections = []
    for suite in ET.parse(path).getroot().iter("testsuite"):
        cases = []
        for pos, tc in enumerate(suite.iter("testcase"), 1):
            n = numbers.get((suite.get("name", ""), tc.get("classname", "")),
                            pos)
            outcome, reason = "pass", ""
            for child in tc:
                if child.tag in ("failure", "error"):
                    outcome = "fail"
                    lines = [ln.strip() for ln in (child.text or "").splitlines()
                             if ln.strip()]
                    if len(lines) >= 2:
                        reason = "expected %s; actual %s" % (
                            " or ".join(lines[:-1]), lines[-1])
                    else:
                        reason = " ".join(lines)
                elif child.tag == "skipped":
                    outcome = "skip"
            cases.append((n, tc.get("classname", ""), outcome, reason))
        if cases:
            sections.append((suite.get("package", ""), suite.get("name", ""),
                             cases))
    return sections


def report_h2spec(args, host, port, sections):
    if not sections:
        print("h2spec ran no case (a --h2spec-spec that names none?)")
        return 1
    width = max([len(s[0]) for s in sections] + [7])
    print("  %-*s  %5s %5s %5s %5s  %s" % (width, "section", "tests", "pass",
                                          "fail", "skip", "title"))
    total = {"pass": 0, "fail": 0, "skip": 0}
    failed = []
    for sid, title, cases in sections:
        count = {"pass": 0, "fail": 0, "skip": 0}
        for n, ctitle, outcome, reason in cases:
            count[outcome] += 1
            if outcome == "fail":
                failed.append(("%s/%d" % (sid, n), ctitle, reason))
        for k in total:
            total[k] += count[k]
        print("  %-*s  %5d %5d %5d %5d  %s" % (width, sid, len(cases),
                                              count["pass"], count["fail"],
                                              count["skip"], title))
    if failed:
        print("failed cases:")
        for cid, ctitle, reason in failed:
            print("  %s  %s" % (cid, ctitle))
            print("      %s" % reason)
    print("h2spec: %d passed, %d failed, %d skipped"
          % (total["pass"], total["fail"], total["skip"]))
    if args.json:
        write_json(args.json, {
            "kind": "h2spec", "server": "%s:%d" % (host, port),
            "path": args.h2spec_path, "passed": total["pass"],
            "failed": total["fail"], "skipped": total["skip"],
            "sections": [{"section": sid, "title": title,
                          "cases": [{"n": n, "title": t, "outcome": o,
                                     "reason": r} for n, t, o, r in cases]}
                         for sid, title, cases in sections]})
    return 0 if total["fail"] == 0 else 1


# ---- the rest ----------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def serve_go_server(args):
    server = GoServer(args.gzip)

    def stop(signum, frame):
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        port = server.start()
        tmp = args.serve_go_server + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.serve_go_server)
        print("grpc-go interop server%s on port %d (pid %d)"
              % (" (gzip)" if args.gzip else "", port, server.proc.pid))
        sys.stdout.flush()
        rc = server.proc.wait()
        print("the Go interop server exited (%d):" % rc)
        for line in tail(server.output()):
            print("    | " + line)
        return 1
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(
        description="gRPC interop cases and h2spec against a gRPC server",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--server", metavar="HOST:PORT",
                        help="the server under test")
    target.add_argument("--start-go-server", action="store_true",
                        help="start grpc-go's interop server and test it")
    target.add_argument("--serve-go-server", metavar="PORTFILE",
                        help="start grpc-go's interop server, write its port "
                        "to PORTFILE, run until killed")
    p.add_argument("--h2spec", nargs="?", const="", metavar="HOST:PORT",
                   help="run h2spec instead of the interop cases (alone: "
                   "against --server or --start-go-server)")
    p.add_argument("--cases", help="comma-separated cases (default: all of "
                   + ", ".join(CASES) + ")")
    p.add_argument("--gzip", action="store_true",
                   help="gzip-compressed requests (and a gzip-capable Go "
                   "server when one is started)")
    p.add_argument("--json", metavar="OUT", help="also write the results here")
    p.add_argument("--timeout", type=float, default=20,
                   help="seconds per interop case (default 20)")
    p.add_argument("--h2spec-path", default="/grpc.testing.TestService/EmptyCall",
                   help="the :path of h2spec's requests")
    p.add_argument("--h2spec-timeout", type=int, default=2,
                   help="h2spec's seconds per case (default 2)")
    p.add_argument("--h2spec-deadline", type=int, default=600,
                   help="seconds for the whole h2spec run (default 600)")
    p.add_argument("--h2spec-spec", action="append", metavar="SPEC",
                   help="only this h2spec spec (e.g. http2/6.5 or "
                   "http2/8.1.2.3/4); repeatable")
    p.add_argument("--h2spec-strict", action="store_true",
                   help="also h2spec's strict cases")
    args = p.parse_args()

    if args.serve_go_server:
        if args.h2spec is not None:
            die("--serve-go-server runs no tests")
        return serve_go_server(args)

    if args.h2spec:
        if args.server or args.start_go_server:
            die("--h2spec HOST:PORT names the target: no --server or "
                "--start-go-server with it")
        host, port = split_hostport(args.h2spec)
        return run_h2spec(args, host, port)

    if args.server:
        host, port = split_hostport(args.server)
        if args.h2spec is not None:
            return run_h2spec(args, host, port)
        return run_cases(args, host, port)
    if args.start_go_server:
        server = GoServer(args.gzip)
        try:
            port = server.start()
            if args.h2spec is not None:
                return run_h2spec(args, "127.0.0.1", port)
            return run_cases(args, "127.0.0.1", port, server)
        finally:
            server.stop()
    p.error("one of --server, --start-go-server, --serve-go-server, "
            "--h2spec HOST:PORT is needed")
    return 2


if __name__ == "__main__":
    sys.exit(main())
