#!/usr/bin/env python3
"""zookeeper_pause: three demo providers and `dubbo bench` (16 threads,
failover) through a real ZooKeeper (tests/integration/zk/zkserver.sh:
tickTime 200 ms, sessions clamped to 400 ms..10 s), load throughout, two
faults in a row:

  pause    SIGSTOP the ZooKeeper server for longer than the session timeout,
           then SIGCONT: the sessions expire, every process opens a new one,
           the providers register again;
  restart  stop the server (SIGTERM), leave it down, start it again on the
           same port and data.

Expected: 0 failed calls (the consumer keeps its providers; empty-list
protection holds back an empty list), the registry lists the 3 providers
again, and every process logs its registry connection back.

The session timeout asked for is the registry URL's `session` parameter
(src/registry/zookeeper.c, default 60000 ms, which this server clamps to
10000); the negotiated values are read from the server (`cons`: to=...)
and printed.

Short (ctest): session=2000, pause 4 s, down 3 s, 1 run.
--long: 10 runs, alternating session=2000 (pause 4 s) and the default
session (negotiated 10 s, pause 12 s), down 3 s.
"""
import os
import signal
import sys
import time

import faultlib as fl
import outage

BACK = r"zookeeper: connected to "
EVENTS = {"lost": r"zookeeper: lost ", "expired": r"zookeeper: session expired"}


def one_run(env, v, zk, run, session_ms, pause_s, down_s):
    q = f"?session={session_ms}" if session_ms else ""
    reg = f"zookeeper://127.0.0.1:{zk.port}{q}"
    provs = [env.provider(f"r{run}-p{i}", registry=reg) for i in range(3)]
    obs = outage.Observer(lambda: outage.dubbo_list_count(env, f"zookeeper://127.0.0.1:{zk.port}"))
    obs.start()
    try:
        if outage.wait_full(obs, time.time(), 3, 10) is None:
            raise RuntimeError("the 3 providers did not appear in ZooKeeper")
        limit = 15.0 + (session_ms or 10000) / 1000.0
        # the faults take 2 s + pause + ~2 s + 1 s + down + ~3 s when all goes well; a client
        # whose connection attempt reached the restarting server before it served waits out its
        # connect timeout (2/3 of the session) before trying again
        duration = 2 + pause_s + down_s + 11 + (session_ms or 10000) / 1000
        bench = env.bench(f"r{run}-bench", f"zookeeper://127.0.0.1:{zk.port}/{fl.IFACE}{q}",
                          "sayHello", ['"fault"'], concurrency=16, duration=duration,
                          params=["cluster=failover", "retries=2", "loadbalance=roundrobin"])
        t_bench = fl.now()
        time.sleep(2.0)
        sess = zk.sessions()
        v.figure(f"run{run}.negotiated_session_timeouts", ",".join(map(str, sorted(sess))) or "n/a",
                 f"ms (asked {session_ms or 'default 60000'})")
        procs = provs + [bench]

        # ---- pause past the session timeout ----
        pid = zk.pid()
        t_fault = time.time()
        zk_pid_signal(pid, signal.SIGSTOP)
        fl.log(f"run {run}: ZooKeeper (pid {pid}) stopped for {pause_s:.0f} s")
        time.sleep(pause_s)
        zk_pid_signal(pid, signal.SIGCONT)
        t_heal = time.time()
        fl.log(f"run {run}: ZooKeeper continued")
        rec = outage.report_phase(v, run, "pause", procs, t_fault, t_heal, obs, EVENTS, BACK,
                                  limit)
        if rec is not None:
            v.figure(f"run{run}.pause.recovered", f"{rec * 1000:.0f}", "ms after SIGCONT")
        time.sleep(1.0)

        # ---- stop, down, start ----
        t_fault = time.time()
        zk.stop()
        fl.log(f"run {run}: ZooKeeper stopped; down for {down_s:.0f} s")
        time.sleep(down_s)
        t_heal = time.time()
        zk.start()
        v.figure(f"run{run}.restart.server_start", f"{(time.time() - t_heal) * 1000:.0f}",
                 "ms (start to ruok = imok)")
        fl.log(f"run {run}: ZooKeeper serving again")
        rec = outage.report_phase(v, run, "restart", procs, t_fault, t_heal, obs, EVENTS, BACK,
                                  limit)
        if rec is not None:
            v.figure(f"run{run}.restart.recovered", f"{rec * 1000:.0f}",
                     "ms after the start command (JVM start included)")
        t_last = fl.now()
        fl.log(f"run {run}: faults over at {t_last - t_bench:.1f} s of {duration:.0f} s of load")
        return outage.finish_run(v, run, bench, provs, duration, t_bench, t_last)
    finally:
        obs.stop()


def zk_pid_signal(pid, sig):
    if pid:
        os.kill(pid, sig)


def main():
    p = fl.parser(__doc__)
    p.add_argument("--session", type=int, default=None,
                   help="the session timeout asked for, ms (default 2000; --long alternates "
                        "2000 and the default)")
    p.add_argument("--pause", type=float, default=None, help="seconds stopped (default 2 x session)")
    p.add_argument("--down", type=float, default=3.0, help="seconds down in the restart (3)")
    args = p.parse_args()
    runs = fl.runs_of(args)
    v = fl.Verdict("zookeeper_pause")
    env = fl.Env(args.dubbo, args.keep, args.debug)
    try:
        zk = fl.ZooKeeper(env, args.zkserver)
        t0 = fl.now()
        zk.start()
        v.figure("zookeeper_start", f"{(fl.now() - t0) * 1000:.0f}", "ms")
        results = []
        for run in range(runs):
            if args.session is not None:
                session = args.session
            else:
                session = 2000 if (not args.long or run % 2 == 0) else 0
            pause = args.pause or (2.0 * session / 1000.0 if session else 12.0)
            fl.log(f"run {run}: session {session or 'default'}, pause {pause:.0f} s")
            if not zk.ok():
                zk.start()
            results.append(one_run(env, v, zk, run, session, pause, args.down))
        fl.figure_totals(v, results)
    except RuntimeError as e:
        v.check(False, str(e))
    finally:
        env.cleanup()
    return v.finish()


if __name__ == "__main__":
    sys.exit(main())
