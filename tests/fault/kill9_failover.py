#!/usr/bin/env python3
"""kill9_failover: three demo providers, `dubbo bench` from 16 threads
through a failover reference over the three (direct ';' URLs, roundrobin,
retries=2), one provider killed -9 mid-run. Expected: 0 failed calls
(failover retries a refused or closed connection on another provider).

Figures per run: calls ok, failed, qps, p99 and max latency (the max is the
price of the kill: calls in flight on the killed provider retried
elsewhere). Fails on any failed call, a bench that does not finish, or a
sanitizer report / unclean exit of a surviving provider.

Short (ctest): 1 run, 6 s of load, kill at 2 s. --long: 10 runs of 10 s,
the kill at 3 s, each run killing a different provider.

--protocol tri|rest: the same over Triple or REST (the providers serve
dubbo,tri,rest on one port; the references are tri:// or rest:// URLs).
"""
import signal
import sys
import time

import faultlib as fl


def one_run(env, v, run, duration, kill_at, proto):
    extra = ["--protocol", "dubbo,tri,rest"] if proto != "dubbo" else []
    provs = [env.provider(f"r{run}-p{i}", *extra) for i in range(3)]
    urls = ";".join(proto + fl.dubbo_url(p.port)[len("dubbo"):] for p in provs)
    bench = env.bench(f"r{run}-bench", urls, "sayHello", ['"fault"'], concurrency=16,
                      duration=duration,
                      params=["cluster=failover", "retries=2", "loadbalance=roundrobin"])
    victim = provs[run % 3]
    time.sleep(kill_at)
    t_kill = fl.now()
    victim.signal(signal.SIGKILL)
    victim.wait(5)
    fl.log(f"run {run}: killed -9 provider {victim.name} (port {victim.port}) at {kill_at:.1f} s")
    rc = fl.wait_bench(bench, duration + 30)
    r = fl.parse_bench(bench)
    fl.bench_verdict(v, run, bench, rc, r, "after kill -9", p99=True)
    for p in provs:
        if p is victim:
            continue
        code, secs = fl.stop_provider(p)
        v.check(code == 0, f"run {run}: surviving provider {p.name} shut down cleanly "
                           f"(exit {code} in {secs:.2f} s)")
    for p in provs + [bench]:
        fl.check_no_sanitizer_report(v, p, f"run {run}: no sanitizer report from {p.name}")
    return r


def main():
    p = fl.parser(__doc__)
    p.add_argument("--protocol", choices=["dubbo", "tri", "rest"], default="dubbo")
    args = p.parse_args()
    runs = fl.runs_of(args)
    duration, kill_at = (10.0, 3.0) if args.long else (6.0, 2.0)
    v = fl.Verdict("kill9_failover" + ("" if args.protocol == "dubbo" else f"[{args.protocol}]"))
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        results = [one_run(env, v, i, duration, kill_at, args.protocol) for i in range(runs)]
        mx = [r["max_us"] or 0 for r in results]
        fl.figure_totals(v, results)
        v.figure("max_latency.range", f"{min(mx)}-{max(mx)}", "us")
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
