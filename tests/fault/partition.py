#!/usr/bin/env python3
"""partition: a consumer-provider network partition, made on this machine
with three network namespaces: provider, consumer and a bridge between them
("the switch"), joined by veth pairs (private addresses that exist only
inside the namespaces: no route out, nothing leaves the machine). The demo provider runs in one namespace, `dubbo bench` (16
threads, failover with retries=2 over the single provider, timeout 1000 ms)
in the other. 2 s after the first call is served the link is cut for 10 s,
then healed; the load goes on for at least 10 s more.

The cut (--cut):
  drop  (default) every frame the switch forwards silently dropped, both
        ways (a `pfifo limit 0` root qdisc on its two ports): the endpoints'
        TCP stacks see nothing but silence, so their retransmissions back off
        as they would behind a dead switch or a firewall drop;
  link  the switch's two ports set down: both endpoints lose carrier.

With one provider, calls WILL fail during the partition (printed, not a
failure). The point is recovery: the time from the heal to the first call
the provider serves again (its access log, ms timestamps) must be under
--recover-limit (5 s), calls must keep being served to the end, and neither
process may crash, leak descriptors or report to a sanitizer.

Exit 77 when network namespaces cannot be made here (not root, no `ip`).
Short (ctest): 1 run. --long: 10 runs.
"""
import os
import random
import shutil
import subprocess
import sys
import time

import faultlib as fl


def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


class Net:
    """Provider and consumer namespaces, each joined by a veth pair to a
    bridge in a third ("the switch"). Faults are made in the switch, so
    that the endpoints' TCP stacks see only silence, not a local drop."""

    def __init__(self, env, run):
        tag = f"{os.getpid() % 100000}{run}"
        self.pns, self.cns, self.mns = f"dfp{tag}", f"dfc{tag}", f"dfm{tag}"
        self.ports = (f"dfmp{tag}", f"dfmc{tag}")  # the switch's ends
        b = random.randint(1, 250)
        self.paddr, self.caddr = f"10.254.{b}.1", f"10.254.{b}.2"
        self.env = env
        for ns in (self.pns, self.cns, self.mns):
            sh("ip", "netns", "add", ns)
            env.record_netns(ns)
        env.cleanups.append(self.remove)
        sh("ip", "-n", self.mns, "link", "add", "br0", "type", "bridge")
        for ns, dev, port, addr in ((self.pns, f"dfvp{tag}", self.ports[0], self.paddr),
                                    (self.cns, f"dfvc{tag}", self.ports[1], self.caddr)):
            sh("ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", port,
               "netns", self.mns)
            sh("ip", "-n", self.mns, "link", "set", port, "master", "br0")
            sh("ip", "-n", self.mns, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.mns, "link", "set", "br0", "up")

    def cut(self, how):
        for port in self.ports:
            if how == "drop":
                sh("tc", "-n", self.mns, "qdisc", "add", "dev", port, "root", "pfifo", "limit", "0")
            else:
                sh("ip", "-n", self.mns, "link", "set", port, "down")

    def heal(self, how):
        for port in self.ports:
            if how == "drop":
                sh("tc", "-n", self.mns, "qdisc", "del", "dev", port, "root")
            else:
                sh("ip", "-n", self.mns, "link", "set", port, "up")

    def remove(self):
        for ns in (self.pns, self.cns, self.mns):
            sh("ip", "netns", "del", ns, check=False)


def can_make_netns(cut):
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    if not shutil.which("ip"):
        return "no `ip` (apt-get install iproute2)"
    if cut == "drop" and not shutil.which("tc"):
        return "no `tc` (apt-get install iproute2)"
    name = f"dfprobe{os.getpid()}"
    r = sh("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    sh("ip", "netns", "del", name, check=False)
    return None


def one_run(env, v, run, cut, cut_s, limit):
    net = Net(env, run)
    prov = env.provider(f"r{run}-provider", "--param", "accesslog=true", host=net.paddr,
                        netns=net.pns)
    fds_idle = fl.open_fds(prov.pid)
    url = fl.dubbo_url(prov.port, host=net.paddr)
    before, after = 2.0, 10.0
    duration = 5.0 + before + cut_s + after
    # sleep(10): ~1,600 calls a second, so the provider's access log (one line a call, ms
    # timestamps) stays small
    bench = env.bench(f"r{run}-bench", url, "sleep", ["10"], concurrency=16, duration=duration,
                      params=["cluster=failover", "retries=2"], timeout_ms=1000, netns=net.cns)
    # cut once calls are being served (the bench's start takes longer on a loaded machine)
    t_bench = time.time()
    while time.time() - t_bench < 5.0 and not fl.log_events(prov.text(), r"accesslog"):
        time.sleep(0.1)
    v.figure(f"run{run}.load_serving_after", f"{(time.time() - t_bench) * 1000:.0f}",
             "ms (bench start to the first call served)")
    time.sleep(before)
    t_cut = time.time()
    net.cut(cut)
    fl.log(f"run {run}: link cut ({cut}) for {cut_s:.0f} s")
    time.sleep(cut_s)
    t_heal = time.time()
    net.heal(cut)
    fl.log(f"run {run}: link healed")
    rc = fl.wait_bench(bench, duration + 60)
    r = fl.parse_bench(bench)
    served = fl.log_events(prov.text(), r"accesslog")
    ts = [t for t, _ in served]
    first_after_heal = next((t for t in ts if t >= t_heal), None)
    last_before_cut = max((t for t in ts if t < t_cut), default=None)
    during = sum(1 for t in ts if t_cut + 0.5 <= t < t_heal)
    late = sum(1 for t in ts if t >= t_heal + limit)
    v.figure(f"run{run}.ok", r["ok"])
    v.figure(f"run{run}.failed", r["failed"], "(expected: calls fail while cut)")
    for e in r["errors"]:
        v.figure(f"run{run}.error", e)
    v.figure(f"run{run}.served_while_cut", during)
    rec = None if first_after_heal is None else first_after_heal - t_heal
    v.figure(f"run{run}.recovery", "never" if rec is None else f"{rec * 1000:.0f}",
             "ms from heal to the first call served")
    v.figure(f"run{run}.served_after_recovery", late, f"calls served from heal+{limit:.0f} s on")
    v.figure(f"run{run}.load_after_heal", f"{t_bench + duration - t_heal:.1f}", "s")
    v.figure(f"run{run}.max_latency", r["max_us"], "us")
    v.check(rc is not None, f"run {run}: bench finished")
    v.check(last_before_cut is not None, f"run {run}: calls were served before the cut")
    v.check(rec is not None and rec <= limit,
            f"run {run}: calls served again within {limit:.0f} s of the heal "
            f"({'never' if rec is None else f'{rec:.2f} s'})")
    v.check(late > 0, f"run {run}: calls keep being served after recovery ({late})")
    t0 = time.time()
    fds = fl.open_fds(prov.pid)
    while fds is not None and fds > fds_idle and time.time() - t0 < 5:
        time.sleep(0.1)
        fds = fl.open_fds(prov.pid)
    v.figure(f"run{run}.provider_fds", f"idle {fds_idle}, after the bench {fds}")
    v.check(fds is not None and fds <= fds_idle,
            f"run {run}: the provider's descriptors back to idle ({fds} vs {fds_idle})")
    code, secs = fl.stop_provider(prov)
    v.check(code == 0, f"run {run}: provider exited 0 after SIGTERM (exit {code})")
    v.check(rc in (0, 1), f"run {run}: bench exited normally (exit {rc})")
    for p in (prov, bench):
        fl.check_no_sanitizer_report(v, p, f"run {run}: no sanitizer report from {p.name}")
    net.remove()
    return rec


def main():
    p = fl.parser(__doc__)
    p.add_argument("--cut", choices=["drop", "link"], default="drop")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the partition (10)")
    p.add_argument("--recover-limit", type=float, default=5.0)
    args = p.parse_args()
    why = can_make_netns(args.cut)
    if why:
        fl.skip(f"cannot make network namespaces here: {why}")
    runs = fl.runs_of(args)
    v = fl.Verdict("partition")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        recs = [one_run(env, v, run, args.cut, args.seconds, args.recover_limit)
                for run in range(runs)]
        got = [r for r in recs if r is not None]
        v.figure("runs", runs)
        if got:
            v.figure("recovery.range", f"{min(got) * 1000:.0f}-{max(got) * 1000:.0f}", "ms")
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
