#!/usr/bin/env python3
"""nacos_pause: three demo providers and `dubbo bench` (16 threads, failover)
through a real Nacos server (0.8.0, tests/integration/nacos; loopback only);
load throughout; Nacos paused (SIGSTOP) for 12 s, then continued (SIGCONT).
While it is stopped the providers' heartbeats and the consumer's polls time
out; the consumer must keep its last providers list, and afterwards every
provider must be listed again (re-registered if Nacos dropped it).

Expected: 0 failed calls; the 3 providers listed again within 25 s of
SIGCONT.

Figures: calls ok / failed, the time from SIGCONT until Nacos lists the 3
providers again, the fewest providers Nacos listed meanwhile.

Short (ctest): one 12 s pause. --long: 10 runs.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import faultlib as fl

HERE = os.path.dirname(os.path.abspath(__file__))
START = os.path.join(HERE, "..", "integration", "nacos", "start.sh")


class Nacos:
    def __init__(self, env):
        self.env = env
        self.port = fl.quiet_port()
        self.dir = env.path("nacos")
        self.pid = None

    def start(self):
        t0 = fl.now()
        r = subprocess.run(["bash", START, self.dir, str(self.port)], capture_output=True,
                           text=True, env=self.env.env, timeout=600)
        if r.returncode == 77:
            fl.skip(r.stderr.strip() or "Nacos cannot run here (java or mvn missing)")
        if r.returncode != 0:
            raise RuntimeError("Nacos did not start:\n" + (r.stdout + r.stderr)[-2000:])
        self.pid = int(r.stdout.strip().splitlines()[-1])
        self.env.record_pid(self.pid)
        self.env.cleanups.append(self.stop)
        return fl.now() - t0

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None

    def providers(self):
        """How many providers of the interface Nacos lists, or None when it
        does not answer."""
        url = (f"http://127.0.0.1:{self.port}/nacos/v1/ns/instance/list?"
               f"serviceName=providers:{fl.IFACE}::&healthyOnly=false")
        try:
            with urllib.request.urlopen(url, timeout=2) as f:
                hosts = json.load(f).get("hosts", [])
        except (OSError, ValueError):
            return None
        return sum(1 for h in hosts if h.get("valid", h.get("healthy", True)))


def wait_listed(nacos, n, limit):
    t0 = time.time()
    while time.time() - t0 < limit:
        if nacos.providers() == n:
            return time.time() - t0
        time.sleep(0.2)
    return None


def one_run(env, v, nacos, run, pause_s):
    reg = f"nacos://127.0.0.1:{nacos.port}"
    provs = [env.provider(f"r{run}-p{i}", registry=reg) for i in range(3)]
    if wait_listed(nacos, 3, 20) is None:
        raise RuntimeError(f"the 3 providers were not listed in Nacos (run {run})")
    duration = 2 + pause_s + 10
    bench = env.bench(f"r{run}-bench", f"{reg}/{fl.IFACE}", "sayHello", ['"fault"'],
                      concurrency=16, duration=duration,
                      params=["cluster=failover", "retries=2", "loadbalance=roundrobin"])
    time.sleep(2.0)
    os.kill(nacos.pid, signal.SIGSTOP)
    fl.log(f"run {run}: Nacos (pid {nacos.pid}) stopped for {pause_s:.0f} s")
    time.sleep(pause_s)
    os.kill(nacos.pid, signal.SIGCONT)
    fl.log(f"run {run}: Nacos continued")
    fewest, back, t_heal = 3, None, time.time()
    while time.time() - t_heal < 25:
        n = nacos.providers()
        if n is not None:
            fewest = min(fewest, n)
            if n == 3:
                back = time.time() - t_heal
                break
        time.sleep(0.2)
    v.check(back is not None, f"run {run}: the 3 providers listed again within 25 s of SIGCONT")
    if back is not None:
        v.figure(f"run{run}.listed_again", f"{back * 1000:.0f}", "ms after SIGCONT")
    v.figure(f"run{run}.fewest_listed_after", fewest)
    rc = fl.wait_bench(bench, duration + 30)
    r = fl.parse_bench(bench)
    fl.bench_verdict(v, run, bench, rc, r, "through the pause", p99=False)
    fl.stop_and_check(v, run, provs, [bench])
    return r


def main():
    p = fl.parser(__doc__)
    p.add_argument("--pause", type=float, default=12.0, help="seconds stopped (12)")
    args = p.parse_args()
    runs = fl.runs_of(args)
    v = fl.Verdict("nacos_pause")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        nacos = Nacos(env)
        up = nacos.start()
        v.figure("nacos_start", f"{up * 1000:.0f}", "ms")
        results = [one_run(env, v, nacos, run, args.pause) for run in range(runs)]
        fl.figure_totals(v, results)
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
