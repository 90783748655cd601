#!/usr/bin/env python3
"""slow_provider: two demo providers, `dubbo bench` from 16 threads through
a failover reference over both (direct ';' URLs, roundrobin, retries=2,
timeout 500 ms); one provider SIGSTOPped for a few seconds (alive, its
connections open, nothing answered: a slow provider as the consumer sees
it), then SIGCONT.

Expected: calls that went to the stopped provider time out (DUBBO_ETIMEOUT,
seen as failover's retries after "timed out") on time, and are retried on
the other provider, so no call fails; the other provider serves throughout
the stop; the stopped one serves fresh calls again once it resumes.

Figures per run: calls ok, failed, qps, p99 and max latency (a call that
picked the stopped provider costs one timeout plus a call elsewhere), the
retries by cause, calls each provider served during the stop and after it
(from their access logs). Fails on a failed call, a timeout that fired late
(max latency past timeout + 1 s of slack), no timeout at all, the other
provider idle during the stop, the stopped one serving nothing after it, a
sanitizer report or an unclean exit. OPEN (a failure with --long): the
other provider's rate during the stop at least half its rate before (the
balancer keeps sending every other call to the stopped provider: see
docs/fault-injection.md).

Short (ctest): 1 run, 10 s of load, SIGSTOP at 2 s for 3 s. --long: 10
runs of 15 s, SIGSTOP at 3 s for 6 s, each run stopping the other provider.
"""
import signal
import sys
import time

import faultlib as fl

TIMEOUT_MS = 500


def served(pr, t0, t1):
    """Calls pr logged as served (access log) in [t0, t1)."""
    return sum(1 for t, _ in fl.log_events(pr.text(), r"accesslog") if t0 <= t < t1)


def one_run(env, v, run, duration, stop_at, stop_s, lb, strict):
    # sleep(1): each call holds its thread 1 ms, so the access logs stay small
    provs = [env.provider(f"r{run}-p{i}", "--param", "accesslog=true") for i in range(2)]
    urls = ";".join(fl.dubbo_url(p.port) for p in provs)
    bench = env.bench(f"r{run}-bench", urls, "sleep", ["1"], concurrency=16, duration=duration,
                      params=["cluster=failover", "retries=2", f"loadbalance={lb}"],
                      timeout_ms=TIMEOUT_MS)
    victim, other = provs[run % 2], provs[(run + 1) % 2]
    # stop once calls are being served (the bench's start takes longer on a loaded machine)
    t_bench = time.time()
    while time.time() - t_bench < 10.0 and not fl.log_events(victim.text(), r"accesslog"):
        time.sleep(0.1)
    time.sleep(stop_at)
    t_stop = time.time()
    victim.signal(signal.SIGSTOP)
    fl.log(f"run {run}: SIGSTOP provider {victim.name} (port {victim.port}) for {stop_s:.0f} s")
    time.sleep(stop_s)
    t_cont = time.time()
    victim.signal(signal.SIGCONT)
    fl.log(f"run {run}: SIGCONT provider {victim.name}")
    rc = fl.wait_bench(bench, duration + 30)
    t_end = time.time()
    r = fl.parse_bench(bench)
    fl.bench_verdict(v, run, bench, rc, r, "while a provider was stopped", p99=True)
    causes = fl.failover_retries(bench)
    timeouts = sum(n for why, n in causes.items() if "timed out" in why or "timeout" in why)
    v.figure(f"run{run}.retried_after_timeout", timeouts)
    # the stopped provider answers what it had read once it resumes: count from 1 s after
    during = served(other, t_stop + 0.5, t_cont)
    after = served(victim, t_cont + 1.0, t_end)
    rate_before = served(other, t_stop - 1.5, t_stop) / 1.5
    rate_during = during / max(t_cont - t_stop - 0.5, 0.1)
    v.figure(f"run{run}.other_rate_before", f"{rate_before:.0f}", "calls/s")
    v.figure(f"run{run}.other_rate_while_stopped", f"{rate_during:.0f}", "calls/s")
    v.figure(f"run{run}.other_served_while_stopped", during)
    v.figure(f"run{run}.stopped_served_after", after)
    v.check(timeouts > 0, f"run {run}: calls to the stopped provider timed out and were retried "
                          f"({timeouts})")
    slack_us = (TIMEOUT_MS + 1000) * 1000
    v.check(r["max_us"] is not None and r["max_us"] <= slack_us,
            f"run {run}: timeouts fired on time (max latency {r['max_us']} us <= {slack_us} us: "
            f"one {TIMEOUT_MS} ms timeout, then a call elsewhere)")
    v.check(during > 0, f"run {run}: the other provider served during the stop ({during} calls)")
    v.target(rate_during >= rate_before / 2, f"run {run}: the other provider took the load: "
             f"{rate_during:.0f} calls/s while stopped >= half its {rate_before:.0f} before",
             strict)
    v.check(after > 0, f"run {run}: the stopped provider served again after SIGCONT "
                       f"({after} calls from 1 s after)")
    fl.stop_and_check(v, run, provs, [bench])
    return r


def main():
    p = fl.parser(__doc__)
    p.add_argument("--loadbalance", default="roundrobin",
                   help="the reference's loadbalance (default roundrobin)")
    args = p.parse_args()
    runs = fl.runs_of(args)
    duration, stop_at, stop_s = (15.0, 3.0, 6.0) if args.long else (10.0, 2.0, 3.0)
    v = fl.Verdict("slow_provider")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        results = [one_run(env, v, i, duration, stop_at, stop_s, args.loadbalance, args.long)
                   for i in range(runs)]
        fl.figure_totals(v, results)
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
