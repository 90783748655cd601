#!/usr/bin/env python3
"""etcd_pause: three demo providers and `dubbo bench` (16 threads, failover)
through a real etcd 3.4 (loopback only); load throughout; etcd paused
(SIGSTOP) for longer than the providers' lease TTL (10 s, kept alive every
3 s), then continued (SIGCONT). The leases run out while etcd is stopped;
each provider must notice, take a new lease and put its key again; the
consumer's watch must carry on.

Expected: 0 failed calls, the 3 provider keys back in etcd, every provider
logging its registry back (`reachable again` or a new lease).

Figures: calls ok / failed, per process the time from SIGCONT to its
registry being back, the time until etcd holds the 3 provider keys again
(`etcdctl get --prefix`), the fewest provider keys seen meanwhile.

Short (ctest): one 12 s pause. --long: 10 runs, each a 12 s pause and then
etcd stopped (SIGTERM) for 3 s and started again on the same data.
"""
import signal
import sys
import time

import faultlib as fl
import outage

BACK = r"etcd .*(reachable again|lease .* (is gone|expired))|watch .* (read again|watching again)"
EVENTS = {"lost": r"(etcd|watch).*(refused|timed out|timeout|unreachable|retrying|failed)"}


def provider_keys(etcd):
    keys = etcd.keys(f"/dubbo/{fl.IFACE}/providers/")
    return None if keys is None else len(keys)


def one_run(env, v, etcd, run, pause_s, restart, down_s):
    reg = f"etcd://127.0.0.1:{etcd.client}"
    provs = [env.provider(f"r{run}-p{i}", registry=reg) for i in range(3)]
    obs = outage.Observer(lambda: provider_keys(etcd))
    obs.start()
    try:
        if outage.wait_full(obs, time.time(), 3, 15) is None:
            raise RuntimeError("the 3 providers did not appear in etcd")
        limit = 20.0
        duration = 2 + pause_s + 8 + ((down_s + 8) if restart else 0)
        bench = env.bench(f"r{run}-bench", f"{reg}/{fl.IFACE}", "sayHello", ['"fault"'],
                          concurrency=16, duration=duration,
                          params=["cluster=failover", "retries=2", "loadbalance=roundrobin"])
        t_bench = fl.now()
        time.sleep(2.0)
        procs = provs + [bench]

        t_fault = time.time()
        etcd.proc.signal(signal.SIGSTOP)
        fl.log(f"run {run}: etcd (pid {etcd.proc.pid}) stopped for {pause_s:.0f} s")
        time.sleep(pause_s)
        etcd.proc.signal(signal.SIGCONT)
        t_heal = time.time()
        fl.log(f"run {run}: etcd continued")
        rec = outage.report_phase(v, run, "pause", provs, t_fault, t_heal, obs, EVENTS, BACK,
                                  limit)
        if rec is not None:
            v.figure(f"run{run}.pause.recovered", f"{rec * 1000:.0f}", "ms after SIGCONT")
        lost = outage.lines_matching(provs[0], r"lease .* (is gone|expired)")
        v.figure(f"run{run}.pause.leases_lost", "yes" if lost else "no",
                 "(a provider had to take a new lease)")
        if restart:
            time.sleep(1.0)
            t_fault = time.time()
            etcd.proc.signal(signal.SIGTERM)
            etcd.proc.wait(10)
            fl.log(f"run {run}: etcd stopped; down for {down_s:.0f} s")
            time.sleep(down_s)
            t_heal = time.time()
            up = etcd.start()
            v.figure(f"run{run}.restart.server_start", f"{up * 1000:.0f}", "ms")
            rec = outage.report_phase(v, run, "restart", provs, t_fault, t_heal, obs, EVENTS,
                                      BACK, limit)
            if rec is not None:
                v.figure(f"run{run}.restart.recovered", f"{rec * 1000:.0f}",
                         "ms after the start command")
        t_last = fl.now()
        fl.log(f"run {run}: faults over at {t_last - t_bench:.1f} s of {duration:.0f} s of load")
        return outage.finish_run(v, run, bench, provs, duration, t_bench, t_last)
    finally:
        obs.stop()


def main():
    p = fl.parser(__doc__)
    p.add_argument("--pause", type=float, default=12.0, help="seconds stopped (12)")
    p.add_argument("--down", type=float, default=3.0, help="seconds down in the restart (--long)")
    args = p.parse_args()
    runs = fl.runs_of(args)
    v = fl.Verdict("etcd_pause")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        etcd = fl.Etcd(env)
        up = etcd.start()
        v.figure("etcd_start", f"{up * 1000:.0f}", "ms")
        results = [one_run(env, v, etcd, run, args.pause, args.long, args.down)
                   for run in range(runs)]
        fl.figure_totals(v, results)
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
