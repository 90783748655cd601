"""A registry outage under load, shared by zookeeper_pause.py and etcd_pause.py.

Three demo providers register in the registry; `dubbo bench` (16 threads,
failover, roundrobin) calls them through a registry-backed reference; an
observer thread lists the registry's providers every 200 ms all along. The
scenario runs its faults (pause, stop + start) while the load goes on, and
after each one waits for the registry to hold the three providers again and
for every dubbo process to say it is back. Figures: calls ok / failed, the
recovery times per process (from their log lines) and of the registry's
content, the fewest providers it listed meanwhile.
"""
import re
import subprocess
import threading
import time

import faultlib as fl


class Observer(threading.Thread):
    """Polls `count()` (providers in the registry) every `every` s: (epoch, n) samples."""

    def __init__(self, count, every=0.2):
        super().__init__(daemon=True)
        self.count = count
        self.every = every
        self.samples = []
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            t = time.time()
            try:
                n = self.count()
            except Exception:
                n = None
            self.samples.append((t, n))
            self.stop_ev.wait(self.every)

    def stop(self):
        self.stop_ev.set()
        self.join(10)

    def since(self, t):
        return [(ts, n) for ts, n in self.samples if ts >= t]


def wait_full(obs, t_from, want, limit):
    """Wait until the observer has seen `want` providers at least 1 s on end after t_from.
    Returns the epoch at which that final stretch began, or None."""
    deadline = time.time() + limit
    while time.time() < deadline:
        s = obs.since(t_from)
        start = None
        for ts, n in s:
            if n == want:
                if start is None:
                    start = ts
            else:
                start = None
        if start is not None and s and s[-1][0] - start >= 1.0:
            return start
        time.sleep(0.1)
    return None


def dubbo_list_count(env, regurl, iface=fl.IFACE, timeout=5.0):
    r = subprocess.run([env.dubbo, "list", regurl, iface], capture_output=True, text=True,
                       timeout=timeout, env=env.env)
    if r.returncode != 0:
        return None
    section, n = None, 0
    for line in r.stdout.splitlines():
        if not line.startswith(" "):
            section = line.rstrip(":")
        elif section == "providers" and line.strip().startswith("dubbo://"):
            n += 1
    return n


def process_events(pr, t_from, patterns):
    """{label: seconds after t_from of the first log line matching pattern} of one process."""
    out = {}
    text = pr.text()
    for label, pat in patterns.items():
        ts, _ = fl.first_after(fl.log_events(text, pat), t_from)
        out[label] = None if ts is None else ts - t_from
    return out


def report_phase(v, run, phase, procs, t_fault, t_heal, obs, patterns, back_pattern, limit):
    """Figures and checks of one fault: t_fault/t_heal are epochs (time.time())."""
    t_full = wait_full(obs, t_heal, 3, limit)
    # give the processes' own log lines a moment (they may come after the registry is full)
    deadline = time.time() + limit
    while time.time() < deadline:
        if all(fl.first_after(fl.log_events(p.text(), back_pattern), t_heal)[0] for p in procs):
            break
        time.sleep(0.1)
    seen = [n for ts, n in obs.since(t_fault) if n is not None]
    v.figure(f"run{run}.{phase}.fewest_providers_listed", min(seen) if seen else "n/a")
    back = []
    for p in procs:
        ev = process_events(p, t_heal, {"back": back_pattern})
        evf = process_events(p, t_fault, {k: pat for k, pat in patterns.items()})
        for k, sec in evf.items():
            if sec is not None:
                v.figure(f"run{run}.{phase}.{p.name}.{k}", f"{sec * 1000:.0f}", "ms after the fault")
        if ev["back"] is not None:
            back.append(ev["back"])
            v.figure(f"run{run}.{phase}.{p.name}.back", f"{ev['back'] * 1000:.0f}", "ms after heal")
        v.check(ev["back"] is not None,
                f"run {run} {phase}: {p.name} logged its registry back within {limit:.0f} s")
    ok = t_full is not None
    if ok:
        v.figure(f"run{run}.{phase}.registry_full_again", f"{(t_full - t_heal) * 1000:.0f}",
                 "ms after heal (3 providers listed, for good)")
    v.check(ok, f"run {run} {phase}: the registry lists the 3 providers again within {limit:.0f} s")
    rec = max(back + ([t_full - t_heal] if ok else [])) if (back or ok) else None
    return rec


def finish_run(v, run, bench, provs, duration, t_bench, t_last_fault):
    rc = fl.wait_bench(bench, duration + 60)
    r = fl.parse_bench(bench)
    v.check(t_last_fault - t_bench < duration - 1.0,
            f"run {run}: the load lasted past the last fault "
            f"({t_last_fault - t_bench:.1f} s of {duration:.0f} s)")
    fl.bench_verdict(v, run, bench, rc, r, "through the registry outage")
    for p in provs:
        code, secs = fl.stop_provider(p)
        v.check(code == 0, f"run {run}: {p.name} exited 0 after SIGTERM (exit {code}, {secs:.2f} s)")
    for p in provs + [bench]:
        fl.check_no_sanitizer_report(v, p, f"run {run}: no sanitizer report from {p.name}")
    held = [line for line in bench.text().splitlines() if "enable-empty-protection" in line]
    v.figure(f"run{run}.consumer_held_an_empty_list", len(held), "time(s)")
    return r


def lines_matching(pr, pattern):
    rx = re.compile(pattern)
    return [line for line in pr.text().splitlines() if rx.search(line)]
