#!/usr/bin/env python3
"""Application-level service discovery against Java Dubbo 3.3.6, both ways,
through a real ZooKeeper (docs/service-discovery.md).

Started once: a ZooKeeper (tests/integration/zk/zkserver.sh); Java's
JavaProvider with register-mode=instance (application jprov); our demo
provider with register-mode=instance (application cprov, dubbo and tri on
one port); our demo provider with the default register-mode=interface
(application iprov). Everything on ::1 (Java rewrites 127.0.0.1).

Cases:

* the layout our provider writes is Java's: /services/cprov/[::1]:P
  (ephemeral, Curator's JSON with Java's metadata keys, meta-v 1.0.0,
  storage-type local), /dubbo/mapping/<interface> naming cprov beside
  jprov, and no interface-level node for cprov;
* our consumer, migration=FORCE_APPLICATION: finds Java's instance-only
  provider (provided-by=jprov) and calls it; finds both applications
  through the mapping alone;
* Java's JavaConsumer with dubbo.application.service-discovery.migration=
  FORCE_APPLICATION and provided-by=cprov: calls our provider (Java reads
  our MetadataService with hessian2 over dubbo);
* Java's consumer with Java's default (APPLICATION_FIRST) reaches ours too;
* migration steps on our side: FORCE_INTERFACE sees only iprov,
  APPLICATION_FIRST prefers the instances (jprov, cprov);
* a stopped provider's instance goes: our FORCE_APPLICATION consumer of
  provided-by=cprov then has no provider, named.

Prints PASS/FAIL per case and "N passed, N failed"; exit 0 when all passed,
77 when java or mvn is missing and DUBBO_C_ALLOW_SKIP=1."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from interoplib import Proc  # noqa: E402

ITF = "org.apache.dubbo.demo.DemoService"
C_EXCEPTION = "java.lang.IllegalStateException"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


class Run:
    def __init__(self, a, java, env):
        self.a = a
        self.java = java
        self.env = env
        self.passed = 0
        self.failed = []
        self.procs = []

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[-1500:]), flush=True)

    def start(self, name, argv):
        p = Proc(name, argv, self.env, self.a.work)
        self.procs.append(p)
        return p

    def zk(self, *args):
        """zkCli.sh against our ZooKeeper: its last non-empty stdout line."""
        r = subprocess.run([ZKCLI, "-server", "127.0.0.1:%d" % self.zkport] + list(args),
                           capture_output=True, text=True, timeout=60)
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def call(self, url, method, *args, params=(), count=None):
        argv = [self.a.cli, "call", url, method] + list(args)
        for k, v in params:
            argv += ["--param", "%s=%s" % (k, v)]
        if count:
            argv += ["--count", str(count)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=self.env)

    def java_consumer(self, name, props, params, cases):
        argv = (self.java[:1] + props + self.java[1:] +
                ["org.dubboc.interop.JavaConsumer", "--registry", self.zkurl, "--cases", cases,
                 "--expect-exception", C_EXCEPTION])
        for p in params:
            argv += ["--param", p]
        with open(os.path.join(self.a.work, name + ".log"), "w") as err:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                               env=self.env, timeout=180)
        got = {}
        for line in r.stdout.splitlines():
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "RESULT":
                got[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
        return got

    def run(self):
        zkdir = os.path.join(self.a.work, "zk")
        shutil.rmtree(zkdir, ignore_errors=True)  # no nodes of an earlier run
        r = subprocess.run(["bash", self.a.zkserver, "start", zkdir], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print("ZooKeeper did not start: " + r.stdout + r.stderr)
            return 77 if r.returncode == 77 else 1
        self.zkport = int(r.stdout.strip().splitlines()[-1])
        self.zkurl = "zookeeper://127.0.0.1:%d" % self.zkport
        try:
            self.cases()
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.case("setup", False, e)
        finally:
            for p in self.procs:
                p.stop()
            subprocess.run(["bash", self.a.zkserver, "stop", zkdir], capture_output=True)
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0

    def cases(self):
        zk = self.zkurl
        jprov = self.start("java-provider", self.java + [
            "org.dubboc.interop.JavaProvider", "--port", "0", "--registry", zk, "--app", "jprov",
            "--param", "register-mode=instance"])
        cprov = self.start("c-provider", [
            self.a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--host", "::1",
            "--port", "0", "--application", "cprov",
            "--registry", zk + "?register-mode=instance"])
        iprov = self.start("c-interface-provider", [
            self.a.cli, "demo", "provider", "--host", "::1", "--port", "0",
            "--application", "iprov", "--registry", zk])
        ports = {}
        for p in (cprov, iprov):
            m = p.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                raise RuntimeError("%s did not start (%s.log)" % (p.name, p.name))
            ports[p.name] = int(m.group(1))
        m = jprov.wait_line(r"^READY (\d+)", 120)
        if not m:
            raise RuntimeError("the Java provider did not start (java-provider.log)")
        jport = int(m.group(1))
        cport = ports["c-provider"]

        # -- the layout we write is Java's
        node = "/services/cprov/[::1]:%d" % cport
        text = self.zk("get", node)
        try:
            inst = json.loads(text)
            md = inst["payload"]["metadata"]
            eps = json.loads(md["dubbo.endpoints"])
            urlp = json.loads(md["dubbo.metadata-service.url-params"])
            ok = (inst["name"] == "cprov" and inst["id"] == "[::1]:%d" % cport and
                  inst["address"] == "[::1]" and inst["port"] == cport and
                  inst["payload"]["@class"] ==
                  "org.apache.dubbo.registry.zookeeper.ZookeeperInstance" and
                  re.fullmatch(r"[0-9a-f]{32}", md["dubbo.metadata.revision"]) and
                  md["dubbo.metadata.storage-type"] == "local" and md["meta-v"] == "1.0.0" and
                  sorted(e["protocol"] for e in eps) == ["dubbo", "tri"] and
                  urlp["protocol"] == "dubbo" and urlp["port"] == str(cport) and
                  urlp["version"] == "1.0.0")
        except (ValueError, KeyError, TypeError) as e:
            ok, text = False, "%s: %s" % (e, text)
        self.case("our instance node is Java's: Curator JSON, revision, endpoints, "
                  "metadata-service url-params", ok, text)
        stat = subprocess.run([ZKCLI, "-server", "127.0.0.1:%d" % self.zkport, "stat", node],
                              capture_output=True, text=True, timeout=60).stdout
        self.case("our instance node is ephemeral",
                  re.search(r"ephemeralOwner = 0x[0-9a-f]*[1-9a-f]", stat) is not None, stat)
        mapping = self.zk("get", "/dubbo/mapping/" + ITF)
        self.case("/dubbo/mapping/<interface> names cprov beside jprov",
                  set(mapping.split(",")) >= {"cprov", "jprov"}, mapping)
        provs = self.zk("ls", "/dubbo/%s/providers" % ITF)
        self.case("register-mode=instance writes no interface-level provider node; "
                  "interface mode does", ("%3A" + str(cport)) not in provs and
                  ("%3A" + str(ports["c-interface-provider"])) in provs, provs)
        r = self.call("dubbo://[::1]:%d/org.apache.dubbo.metadata.MetadataService?group=cprov"
                      "&version=1.0.0" % cport, "getMetadataInfo",
                      json.dumps(md.get("dubbo.metadata.revision", "") if ok else ""))
        self.case("our MetadataService answers getMetadataInfo(revision) with a MetadataInfo "
                  "of both protocols",
                  r.returncode == 0 and "org.apache.dubbo.metadata.MetadataInfo" in r.stdout and
                  "%s:dubbo" % ITF in r.stdout and "%s:tri" % ITF in r.stdout,
                  r.stdout + r.stderr)

        r = subprocess.run([self.a.cli, "list", zk], capture_output=True, text=True, timeout=60,
                           env=self.env)
        apps = r.stdout.split("applications:\n", 1)[-1]
        self.case("dubbo list: the applications, their instances and services (Java's and ours)",
                  r.returncode == 0 and "  jprov\n" in apps and "  cprov\n" in apps and
                  "[::1]:%d  revision" % jport in apps and "[::1]:%d  revision" % cport in apps
                  and "      com.example.UserService:dubbo" in apps and
                  "      %s:tri" % ITF in apps, r.stdout + r.stderr)

        # -- our consumer finds Java's instance-only provider
        fa = zk + "/" + ITF + "?migration=FORCE_APPLICATION"
        r = self.call(fa, "sayHello", '"sd"', params=[("provided-by", "jprov")])
        self.case("dubbo-c consumer, FORCE_APPLICATION -> Java register-mode=instance: sayHello",
                  r.returncode == 0 and '"Hello sd"' in r.stdout, r.stdout + r.stderr)
        r = self.call(fa, "whoami", params=[("provided-by", "jprov"), ("loadbalance", "roundrobin")],
                      count=4)
        self.case("... provided-by=jprov: only Java's instance, the mapping not needed",
                  set(re.findall(r":(\d+)\"", r.stdout)) == {str(jport)}, r.stdout + r.stderr)
        r = self.call(zk + "/com.example.UserService?migration=FORCE_APPLICATION", "sample",
                      params=[("provided-by", "jprov")])
        self.case("dubbo-c consumer, FORCE_APPLICATION -> Java: UserService.sample()",
                  r.returncode == 0 and "com.example.User" in r.stdout, r.stdout + r.stderr)
        r = self.call(fa, "whoami", params=[("loadbalance", "roundrobin")], count=8)
        seen = set(re.findall(r":(\d+)\"", r.stdout))
        self.case("dubbo-c consumer, FORCE_APPLICATION through the mapping alone: calls reach "
                  "both applications' instances (jprov, cprov), not iprov",
                  {str(jport), str(cport)} <= seen and str(ports["c-interface-provider"]) not in
                  seen, r.stdout + r.stderr)

        # -- Java finds ours
        props = ["-Ddubbo.application.service-discovery.migration=FORCE_APPLICATION"]
        cases = "say_hello,echo_user,user_echo,exception,whoami"
        got = self.java_consumer("java-consumer-force-app", props, ["provided-by=cprov"], cases)
        for c in cases.split(","):
            v, d = got.get(c, ("FAIL", "no RESULT line (java-consumer-force-app.log)"))
            if c == "whoami" and v == "PASS":
                v = "PASS" if d.strip().endswith(":%d" % cport) else "FAIL"
            self.case("Java JavaConsumer, FORCE_APPLICATION, provided-by=cprov -> dubbo-c: %s"
                      % c, v == "PASS", d)
        got = self.java_consumer("java-consumer-default", [], ["provided-by=cprov"], "say_hello")
        v, d = got.get("say_hello", ("FAIL", "no RESULT line (java-consumer-default.log)"))
        self.case("Java JavaConsumer, Java's default APPLICATION_FIRST, provided-by=cprov -> "
                  "dubbo-c: say_hello", v == "PASS", d)

        # -- our migration steps
        def ports_of(url):
            r = self.call(url, "whoami", params=[("loadbalance", "roundrobin")], count=8)
            return set(re.findall(r":(\d+)\"", r.stdout)), r
        seen, r = ports_of(zk + "/" + ITF)
        self.case("dubbo-c consumer, FORCE_INTERFACE (the default): only the interface-level "
                  "provider", seen == {str(ports["c-interface-provider"])}, r.stdout + r.stderr)
        seen, r = ports_of(zk + "/" + ITF + "?migration=APPLICATION_FIRST")
        self.case("dubbo-c consumer, APPLICATION_FIRST: the instances when there are some",
                  seen == {str(jport), str(cport)}, r.stdout + r.stderr)
        r = self.call(zk + "/" + ITF + "?migration=FORCE_APPLICATION", "sayHello", '"x"',
                      params=[("provided-by", "nobody")])
        self.case("dubbo-c consumer, FORCE_APPLICATION of an application with no instance: "
                  "no provider, named",
                  r.returncode != 0 and "No provider available" in r.stderr, r.stderr)

        # -- an instance whose MetadataService does not answer is tried again:
        # its node (persistent, written by hand here, so it never changes)
        # names a port where nobody listens yet; a consumer under load finds
        # no provider; then a provider of that application, revision and port
        # starts (registered in a second ZooKeeper, so the node stays as it
        # is) and the consumer's retry picks it up.
        self.retry_case()

        # -- a stopped provider's instance goes
        cprov.stop()
        deadline = time.time() + 10
        while time.time() < deadline and "[::1]:%d" % cport in self.zk("ls", "/services/cprov"):
            time.sleep(0.5)
        r = self.call(fa, "sayHello", '"gone"', params=[("provided-by", "cprov")])
        self.case("our provider stopped: its instance is withdrawn, a FORCE_APPLICATION "
                  "consumer of cprov has no provider",
                  r.returncode != 0 and "No provider available" in r.stderr,
                  r.stdout + r.stderr)


    def retry_case(self):
        zk2dir = os.path.join(self.a.work, "zk2")
        shutil.rmtree(zk2dir, ignore_errors=True)
        r = subprocess.run(["bash", self.a.zkserver, "start", zk2dir], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError("a second ZooKeeper did not start: " + r.stdout + r.stderr)
        zk2 = "zookeeper://127.0.0.1:%s" % r.stdout.strip().splitlines()[-1]
        try:
            argv = [self.a.cli, "demo", "provider", "--host", "::1", "--port", "0",
                    "--application", "late", "--registry", zk2 + "?register-mode=instance"]
            p = self.start("late-provider-1", argv)
            m = p.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                raise RuntimeError("late-provider-1 did not start")
            port = int(m.group(1))
            saved, self.zkport = self.zkport, int(zk2.rsplit(":", 1)[1])
            node = self.zk("get", "/services/late/[::1]:%d" % port)
            self.zkport = saved
            p.stop()
            self.zk("create", "/services/late", "")
            self.zk("create", "/services/late/[::1]:%d" % port, node)
            cons = self.start("late-consumer", [
                self.a.c_consumer, "--registry", self.zkurl + "?migration=FORCE_APPLICATION",
                "--param", "provided-by=late", "--load-seconds", "14", "--threads", "1"])
            if not cons.wait_line(r"^LOADSTART", 30):
                raise RuntimeError("the consumer did not start (late-consumer.log)")
            time.sleep(2)
            argv[argv.index("--port") + 1] = str(port)
            self.start("late-provider-2", argv)
            m = cons.wait_line(r"^LOAD ok=(\d+) failed=(\d+)", 40)
            log = open(os.path.join(self.a.work, "late-consumer.log"), errors="replace").read()
            self.case("an instance whose MetadataService did not answer is fetched again "
                      "(its node unchanged): calls reach it once its provider is up",
                      m is not None and int(m.group(1)) > 0 and
                      "fetching the metadata that failed again" in log,
                      (m.group(0) if m else "no LOAD line") + "\n" + log[-800:])
        finally:
            subprocess.run(["bash", self.a.zkserver, "stop", zk2dir], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--zkserver", required=True)
    ap.add_argument("--c-consumer", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if not os.path.exists(ZKCLI):
        print("no %s (Debian's zookeeper package)" % ZKCLI)
        sys.exit(77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1)
    b = subprocess.run([os.path.join(a.source, "tests/interop/java/build.sh")],
                       capture_output=True, text=True)
    if b.returncode == 77:
        print(b.stderr.strip())
        sys.exit(77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1)
    if b.returncode:
        sys.exit("java_sd_test: the Java peer did not build:\n" + b.stderr)
    with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
        cp = f.read().strip()
    java = ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp]
    env = dict(os.environ, DUBBO_IP_TO_BIND="::1", DUBBO_IP_TO_REGISTRY="::1")
    sys.exit(Run(a, java, env).run())


if __name__ == "__main__":
    main()
