"""Shared helpers of the fault-injection scenarios (tests/fault/*.py).

Each scenario starts real processes (demo providers, `dubbo bench`,
ZooKeeper, etcd) on loopback or in network namespaces it makes, injects a
fault, prints its figures as `FIGURE name value` lines and a verdict, and
exits 0 (pass), 1 (a lost call or a broken limit) or 77 (cannot run here:
ctest's skip code).

Cleanup: every process a scenario starts is recorded in its work dir; the
scenario kills them (and removes the network namespaces it made) when it
ends, however it ends: normally, on an exception, on SIGTERM/SIGINT/SIGHUP
(ctest's timeout), and, when the driver itself is SIGKILLed, from a small
reaper process that watches it.
"""

import argparse
import datetime
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

IFACE = "org.apache.dubbo.demo.DemoService"
SKIP = 77

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---- output ----------------------------------------------------------------------------

def now():
    return time.monotonic()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Verdict:
    """Figures and checks of one scenario; exit status at the end."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.figures = []

    def figure(self, key, value, unit=""):
        self.figures.append((key, value, unit))
        print(f"FIGURE {key} {value}{(' ' + unit) if unit else ''}", flush=True)

    def check(self, ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failures.append(what)
        return ok

    def target(self, ok, what, strict):
        """A target dubbo-c does not meet yet everywhere (docs/fault-injection.md,
        "Open"): a failure with `strict` (--long), else printed as OPEN and
        counted apart, so that CI checks what holds and shows what does not."""
        if ok or strict:
            return self.check(ok, what)
        print(f"OPEN {what}", flush=True)
        self.figures.append(("open", what, ""))
        return ok

    def finish(self):
        if self.failures:
            print(f"RESULT {self.name}: FAIL ({len(self.failures)} check(s) failed)", flush=True)
            for f in self.failures:
                print(f"  - {f}", flush=True)
            return 1
        print(f"RESULT {self.name}: PASS", flush=True)
        return 0


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


# ---- arguments ----------------------------------------------------------------------------

def parser(doc):
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dubbo", default=os.path.join(ROOT, "build/release/tools/dubbo"),
                   help="the dubbo CLI (default: build/release/tools/dubbo)")
    p.add_argument("--zkserver", default=os.path.join(ROOT, "tests/integration/zk/zkserver.sh"))
    p.add_argument("--long", action="store_true", help="the long (manual) version")
    p.add_argument("--runs", type=int, default=0, help="repetitions (default: 1, --long: 10)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs) at the end")
    p.add_argument("--debug", action="store_true",
                   help="DUBBO_LOG=debug for every dubbo process (the ZooKeeper client's own "
                        "messages too)")
    return p


def runs_of(args, long_default=10):
    if args.runs > 0:
        return args.runs
    return long_default if args.long else 1


# ---- processes and cleanup ------------------------------------------------------------------

def _pdeathsig():
    """In the child: die with the driver (PR_SET_PDEATHSIG = 1)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class Proc:
    def __init__(self, name, popen, logpath):
        self.name = name
        self.p = popen
        self.pid = popen.pid
        self.log = logpath
        self.port = None
        self.killed = False

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout=None):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Env:
    """A scenario's work dir and everything it started."""

    def __init__(self, dubbo, keep=False, debug=False):
        self.dubbo = os.path.abspath(dubbo)
        if not os.access(self.dubbo, os.X_OK):
            print(f"the dubbo CLI {self.dubbo} is missing: build it first", flush=True)
            sys.exit(2)
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="dubbo-fault-")
        self.procs = []
        self.cleanups = []  # callables, run last-in first-out
        self._pidfile = os.path.join(self.dir, "pids")
        self._nsfile = os.path.join(self.dir, "netns")
        self._done = False
        self.asan = self._is_asan()
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._on_signal)
        # the reaper: cleans up if this driver is SIGKILLed
        self.reaper = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--reap", str(os.getpid()), self.dir,
             "keep" if keep else "rm"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.env = dict(os.environ)
        # test providers must not announce themselves in the machine's registry
        self.env.setdefault("DUBBO_REGISTRY", "file://" + os.path.join(self.dir, "registry"))
        if debug:
            self.env["DUBBO_LOG"] = "debug"
        if self.asan:
            # keep ASan's verdict but never abort a provider for a leak report
            # in a process we kill on purpose; leak reports are checked in logs
            self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        log(f"work dir {self.dir}; dubbo {self.dubbo}{' (ASan build)' if self.asan else ''}")

    def _is_asan(self):
        try:
            out = subprocess.run(["ldd", self.dubbo], capture_output=True, text=True).stdout
            if "libasan" in out:
                return True
            with open(self.dubbo, "rb") as f:
                return b"__asan_init" in f.read()
        except OSError:
            return False

    def _on_signal(self, sig, frame):
        log(f"signal {sig}: cleaning up")
        self.cleanup()
        os._exit(128 + sig)

    def record_pid(self, pid, group=False):
        with open(self._pidfile, "a") as f:
            f.write(f"{'-' if group else ''}{pid}\n")

    def record_netns(self, name):
        with open(self._nsfile, "a") as f:
            f.write(name + "\n")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def spawn(self, name, argv, env=None, netns=None, stdout_path=None):
        """Start argv in its own session, output to DIR/name.log."""
        logpath = stdout_path or self.path(f"{name}.log")
        out = open(logpath, "ab")
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env or self.env, start_new_session=True, preexec_fn=_pdeathsig)
        out.close()
        self.record_pid(p.pid, group=True)
        pr = Proc(name, p, logpath)
        self.procs.append(pr)
        return pr

    def cleanup(self):
        if self._done:
            return
        self._done = True
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # keep cleaning
                log(f"cleanup step failed: {e}")
        for pr in self.procs:
            if pr.alive():
                try:
                    os.killpg(pr.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pr.signal(signal.SIGKILL)
                pr.wait(5)
        _reap_file_entries(self.dir, pids=False)  # the namespaces
        try:
            self.reaper.kill()
            self.reaper.wait(2)
        except Exception:
            pass
        if self.keep:
            log(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- dubbo processes ----

    def provider(self, name, *extra, registry="none", port=0, host="127.0.0.1", netns=None,
                 env=None, wait=True):
        argv = [self.dubbo, "demo", "provider", "--host", host, "--port", str(port),
                "--registry", registry, "--application", f"fault-{name}"] + list(extra)
        pr = self.spawn(name, argv, env=env, netns=netns)
        if wait:
            wait_listening(pr)
        return pr

    def bench(self, name, urls, method, args, concurrency=16, duration=5.0, params=(),
              timeout_ms=None, netns=None, env=None):
        argv = [self.dubbo, "bench", urls, method] + list(args) + [
            "--concurrency", str(concurrency), "--duration", str(duration)]
        for kv in params:
            argv += ["--param", kv]
        if timeout_ms:
            argv += ["--timeout", str(timeout_ms)]
        return self.spawn(name, argv, env=env, netns=netns)


def wait_listening(pr, limit=20.0):
    t0 = now()
    while now() - t0 < limit:
        m = re.search(r"^listening on (\S+):(\d+)$", pr.text(), re.M)
        if m:
            pr.port = int(m.group(2))
            return pr.port
        if not pr.alive():
            break
        time.sleep(0.02)
    raise RuntimeError(f"provider {pr.name} did not start:\n{pr.text()[-2000:]}")


def dubbo_url(port, host="127.0.0.1", query=""):
    return f"dubbo://{host}:{port}/{IFACE}{('?' + query) if query else ''}"


def parse_bench(pr):
    """calls, errors, latency of a finished `dubbo bench` (from its log)."""
    if not os.path.exists(pr.log):
        raise RuntimeError(f"{pr.log} is gone: was the work dir deleted while the scenario ran?")
    text = pr.text()
    r = {"rc": pr.p.returncode, "ok": None, "failed": None, "secs": None, "qps": None,
         "p50_us": None, "p99_us": None, "max_us": None, "errors": [], "text": text}
    m = re.search(r"^calls (\d+) errors (\d+) in ([\d.]+) s", text, re.M)
    if m:
        r["ok"], r["failed"], r["secs"] = int(m.group(1)), int(m.group(2)), float(m.group(3))
    m = re.search(r"^qps (\d+)", text, re.M)
    if m:
        r["qps"] = int(m.group(1))
    m = re.search(r"^latency_us p50 (\d+) p90 (\d+) p99 (\d+) max (\d+)", text, re.M)
    if m:
        r["p50_us"], r["p99_us"], r["max_us"] = int(m.group(1)), int(m.group(3)), int(m.group(4))
    r["errors"] = re.findall(r"^  (\d+ x .*)$", text, re.M)
    return r


def wait_bench(bench, timeout):
    """Wait for a `dubbo bench` to end; killed if it has not after timeout s.
    Its exit code, None when it had to be killed."""
    rc = bench.wait(timeout)
    if rc is None:
        bench.signal(9)
        bench.wait(5)
    return rc


def bench_verdict(v, run, bench, rc, r, what, p99=False):
    """The figures of a finished bench under load (parse_bench's r) and the
    checks every no-lost-call scenario makes: it finished, calls were made,
    none failed ("no failed call " + what)."""
    v.figure(f"run{run}.ok", r["ok"])
    v.figure(f"run{run}.failed", r["failed"])
    v.figure(f"run{run}.qps", r["qps"])
    if p99:
        v.figure(f"run{run}.p99_latency", r["p99_us"], "us")
    v.figure(f"run{run}.max_latency", r["max_us"], "us")
    for why, n in sorted(failover_retries(bench).items(), key=lambda kv: -kv[1]):
        v.figure(f"run{run}.retried_by_failover", f"{n} x {why}")
    v.check(rc is not None, f"run {run}: bench finished")
    v.check(r["ok"] is not None and r["ok"] > 0, f"run {run}: calls were made ({r['ok']})")
    v.check(r["failed"] == 0 and rc == 0,
            f"run {run}: no failed call {what} (failed={r['failed']}, exit {rc})"
            + ("".join("\n      " + e for e in r["errors"]) if r["errors"] else ""))


def failover_retries(pr):
    """Calls failover had to retry elsewhere, by cause (from the bench's WARN lines)."""
    causes = {}
    for line in pr.text().splitlines():
        if "WARN  failover:" not in line:
            continue
        m = re.search(r"last error: (?:dubbo: )?(.*)$", line)
        why = m.group(1) if m else line
        why = re.sub(r"\d+\.\d+\.\d+\.\d+:\d+", "H:P", why)
        why = re.sub(r"request id \d+", "request id *", why)
        causes[why] = causes.get(why, 0) + 1
    return causes


SAN_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                "AddressSanitizer:DEADLYSIGNAL", "Segmentation fault", "Aborted")


def sanitizer_reports(pr):
    t = pr.text()
    return [line for line in t.splitlines() if any(p in line for p in SAN_PATTERNS)]


def check_no_sanitizer_report(v, pr, what):
    """One check: pr's output holds no sanitizer report; `what` is the
    check's message, the first report lines are added when it fails."""
    reps = sanitizer_reports(pr)
    v.check(not reps, what + "".join("\n      " + x for x in reps[:5]))


def stop_and_check(v, run, provs, others=()):
    """The end of a run: each provider stopped with SIGTERM must exit 0,
    and none of them nor `others` (the bench) may have a sanitizer report."""
    for p in provs:
        code, secs = stop_provider(p)
        v.check(code == 0, f"run {run}: provider {p.name} shut down cleanly "
                           f"(exit {code} in {secs:.2f} s)")
    for p in list(provs) + list(others):
        check_no_sanitizer_report(v, p, f"run {run}: no sanitizer report from {p.name}")


def figure_totals(v, results):
    """The runs, and the calls ok and failed over all of them (bench
    results from parse_bench)."""
    v.figure("runs", len(results))
    v.figure("total.ok", sum(r["ok"] or 0 for r in results))
    v.figure("total.failed", sum(r["failed"] or 0 for r in results))


def stop_provider(pr, timeout=20.0):
    """SIGTERM, wait; returns (exit code or None, seconds)."""
    t0 = now()
    pr.signal(signal.SIGTERM)
    rc = pr.wait(timeout)
    return rc, now() - t0


# ---- /proc ---------------------------------------------------------------------------------

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = min(want, hard) if hard != resource.RLIM_INFINITY else want
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- log timestamps --------------------------------------------------------------------------

_TS = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) dubbo (\w+)\s+(.*)$")


def log_events(text, pattern):
    """(epoch seconds, line) of dubbo log lines (HH:MM:SS.mmm UTC) matching pattern."""
    rx = re.compile(pattern)
    out = []
    ref = time.time()
    today = datetime.datetime.fromtimestamp(ref, datetime.timezone.utc).date()
    for line in text.splitlines():
        m = _TS.match(line)
        if not m or not rx.search(m.group(6)):
            continue
        h, mi, s, ms = (int(m.group(i)) for i in range(1, 5))
        best = None
        for day in (today - datetime.timedelta(days=1), today):
            t = datetime.datetime(day.year, day.month, day.day, h, mi, s, ms * 1000,
                                  tzinfo=datetime.timezone.utc).timestamp()
            if t <= ref + 60 and (best is None or t > best):
                best = t
        out.append((best, line))
    return out


def first_after(events, t):
    for ts, line in events:
        if ts >= t:
            return ts, line
    return None, None


# ---- ZooKeeper and etcd ------------------------------------------------------------------------

def four_letter(port, word, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeper:
    def __init__(self, env, script):
        self.env = env
        self.script = script
        self.dir = env.path("zk")
        os.makedirs(self.dir, exist_ok=True)
        self.port = None
        env.cleanups.append(self.stop)

    def start(self, attempts=3):
        """Start (again) on self.port, first picked below the ephemeral range so that nothing
        takes it while the server is down. zkserver.sh gives the JVM 15 s; a machine loaded
        by other tests sometimes needs more: up to `attempts` tries."""
        if self.port is None:
            self.port = quiet_port()
        why = ""
        for i in range(attempts):
            r = subprocess.run(["bash", self.script, "start", self.dir, str(self.port)],
                               capture_output=True, text=True)
            if r.returncode == SKIP:
                skip(r.stderr.strip() or "ZooKeeper cannot run here")
            if r.returncode == 0:
                self.env.record_pid(self.pid())
                if i:
                    log(f"ZooKeeper started at attempt {i + 1} ({why.strip()[-200:]})")
                return self.port
            why = r.stdout + r.stderr
            log(f"zkserver.sh start failed (attempt {i + 1} of {attempts}): {why.strip()[-300:]}")
            time.sleep(1.0)
        raise RuntimeError(f"zkserver.sh start: ZooKeeper did not come up on 127.0.0.1:"
                           f"{self.port} in {attempts} attempts: {why}")

    def stop(self):
        subprocess.run(["bash", self.script, "stop", self.dir], capture_output=True)

    def pid(self):
        try:
            with open(os.path.join(self.dir, "pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def sessions(self):
        """Negotiated session timeouts (ms) of the connected clients (`cons`)."""
        out = four_letter(self.port, "cons")
        return [int(x) for x in re.findall(r"\bto=(\d+)", out)]

    def ok(self):
        return four_letter(self.port, "ruok", 1.0) == "imok"


def quiet_port(tries=200):
    """A free loopback port below the ephemeral range (ip_local_port_range): no outgoing
    connection takes it as its source port and no `bind(0)` gets it while the server behind it
    is down, so a server stopped on purpose can bind it again when it restarts."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    floor = 10000 if low > 12000 else 1024
    avoid = set(range(20880, 20891)) | {2181, 2379, 2380, 8080}
    for _ in range(tries):
        port = random.randint(floor, low - 1)
        if port in avoid:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return free_ports(1)[0]


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Etcd:
    def __init__(self, env):
        self.env = env
        self.bin = shutil.which("etcd")
        self.ctl = shutil.which("etcdctl")
        if not self.bin or not self.ctl:
            skip("etcd or etcdctl not installed (apt-get install etcd-server etcd-client)")
        self.data = env.path("etcd-data")
        # below the ephemeral range: a restart must find its ports free
        self.client, self.peer, self.metrics = quiet_port(), quiet_port(), quiet_port()
        while len({self.client, self.peer, self.metrics}) < 3:
            self.metrics = quiet_port()
        self.proc = None

    def start(self, limit=20.0):
        cu = f"http://127.0.0.1:{self.client}"
        pu = f"http://127.0.0.1:{self.peer}"
        argv = [self.bin, "--name", "default", "--data-dir", self.data,
                "--listen-client-urls", cu, "--advertise-client-urls", cu,
                "--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
                "--initial-cluster", f"default={pu}",
                "--listen-metrics-urls", f"http://127.0.0.1:{self.metrics}"]
        env = dict(self.env.env)
        env.pop("ETCDCTL_API", None)
        self.proc = self.env.spawn("etcd", argv, env=env)
        t0 = now()
        while now() - t0 < limit:
            if self.healthy():
                return now() - t0
            if not self.proc.alive():
                break
            time.sleep(0.1)
        raise RuntimeError("etcd did not come up:\n" + self.proc.text()[-2000:])

    def healthy(self):
        r = self.ctl_run("endpoint", "health")
        return "is healthy" in (r.stdout + r.stderr)

    def ctl_run(self, *args):
        env = dict(self.env.env, ETCDCTL_API="3")
        return subprocess.run([self.ctl, f"--endpoints=127.0.0.1:{self.client}",
                               "--command-timeout=2s"] + list(args),
                              capture_output=True, text=True, env=env)

    def keys(self, prefix):
        """The keys under prefix, or None when etcd does not answer."""
        r = self.ctl_run("get", "--prefix", "--keys-only", prefix)
        if r.returncode != 0:
            return None
        return [k for k in r.stdout.splitlines() if k.strip()]


# ---- the reaper ----------------------------------------------------------------------------------

def _reap_file_entries(workdir, pids=True):
    try:
        with open(os.path.join(workdir, "pids")) as f:
            entries = [line.strip() for line in f if line.strip()]
    except OSError:
        entries = []
    for e in entries if pids else []:
        try:
            if e.startswith("-"):
                os.killpg(int(e[1:]), signal.SIGKILL)
            else:
                os.kill(int(e), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            pass
    try:
        with open(os.path.join(workdir, "netns")) as f:
            names = [line.strip() for line in f if line.strip()]
    except OSError:
        names = []
    for n in names:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)


def _reap(driver, workdir, mode):
    """Wait for the driver to die; then kill what it recorded."""
    while True:
        try:
            os.kill(driver, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    if not os.path.isdir(workdir):
        return
    _reap_file_entries(workdir)
    if mode == "rm":
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--reap":
    _reap(int(sys.argv[2]), sys.argv[3], sys.argv[4])
