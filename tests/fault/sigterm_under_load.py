#!/usr/bin/env python3
"""sigterm_under_load: three demo providers, `dubbo bench` from 16 threads
through a failover reference over the three (direct ';' URLs), the
providers stopped with SIGTERM one after the other, the last one kept.
Graceful shutdown (readonly event, stop accepting, drain) must cost no
call: 0 failed calls expected.

Figures: calls ok, failed, max latency, each provider's shutdown time
(SIGTERM to exit). Fails on a failed call, a provider that does not exit 0
(or exits with a sanitizer report), or a bench that does not finish.

Short: 1 run, 7 s of load; SIGTERM to p0 at 2 s and p1 at 4 s. CTest runs
it with --cluster failfast (no retries): the provider's grace after readonly
and the consumer's reconnect-before-available must make it lose nothing.
--long: 10 runs of a rolling restart under 20 s of load: each provider in
turn gets SIGTERM, is started again on the same port, and the next one goes
1.5 s later (two rounds), then p0 and p1 are stopped for good.
"""
import sys
import time

import faultlib as fl

def stop(env, v, run, p):
    code, secs = fl.stop_provider(p)
    v.figure(f"run{run}.{p.name}.shutdown", f"{secs * 1000:.0f}", "ms")
    v.check(code == 0, f"run {run}: {p.name} exited 0 after SIGTERM (exit {code}, {secs:.2f} s)")
    fl.check_no_sanitizer_report(v, p, f"run {run}: no sanitizer report from {p.name}")


def one_run(env, v, run, long, cluster):
    # the long version restarts providers on their ports: take them below the ephemeral range
    provs = [env.provider(f"r{run}-p{i}", port=fl.quiet_port() if long else 0) for i in range(3)]
    ports = [p.port for p in provs]
    urls = ";".join(fl.dubbo_url(p) for p in ports)
    duration = 20.0 if long else 7.0
    bench = env.bench(f"r{run}-bench", urls, "sayHello", ['"fault"'], concurrency=16,
                      duration=duration,
                      params=[f"cluster={cluster}", "retries=2", "loadbalance=roundrobin"])
    t0 = fl.now()
    time.sleep(2.0)
    if long:
        gen = 1
        for rnd in range(2):
            for i in range(3):
                stop(env, v, run, provs[i])
                provs[i] = env.provider(f"r{run}-p{i}-g{gen}", port=ports[i])
                gen += 1
                fl.log(f"run {run}: p{i} restarted on port {ports[i]}")
                time.sleep(1.5)
        stop(env, v, run, provs[0])
        time.sleep(1.0)
        stop(env, v, run, provs[1])
    else:
        stop(env, v, run, provs[0])
        time.sleep(max(0.0, 4.0 - (fl.now() - t0)))
        stop(env, v, run, provs[1])
    fl.log(f"run {run}: faults done at {fl.now() - t0:.1f} s; {provs[2].name} stays")
    rc = fl.wait_bench(bench, duration + 30)
    r = fl.parse_bench(bench)
    fl.bench_verdict(v, run, bench, rc, r, "across the SIGTERMs")
    stop(env, v, run, provs[2])
    fl.check_no_sanitizer_report(v, bench, f"run {run}: no sanitizer report from the bench")
    return r


def main():
    p = fl.parser(__doc__)
    p.add_argument("--cluster", default="failover",
                   help="the reference's cluster (failfast shows what graceful shutdown costs "
                        "a caller that does not retry)")
    args = p.parse_args()
    runs = fl.runs_of(args)
    v = fl.Verdict("sigterm_under_load")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        results = [one_run(env, v, i, args.long, args.cluster) for i in range(runs)]
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
