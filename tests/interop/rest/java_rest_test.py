#!/usr/bin/env python3
"""interop/rest-java: REST (seed 004) against Java Dubbo 3.3.6's Triple-REST, both
ways, on loopback only:

  1. urllib  -> RestProvider    the demo's mapping (JAX-RS annotations, RestDemoService)
                                served by Java's "tri" port over HTTP/1.1: every route,
                                content negotiation, and Java's error answers (404, 405,
                                415, 500) as tests/interop/rest/java-wire.md records them
  2. dubbo call rest:// -> RestProvider and -> TriProvider
                                our consumer without a mapping: Java's default
                                POST /{interface}/{method} with a JSON array. TriProvider
                                serves the plain DemoService, where that route binds the
                                array positionally; on the annotated RestProvider it binds
                                by the annotations (sayHello gets null), so only methods
                                whose binding does not matter are called there
  3. RestConsumer -> RestProvider   Java to Java (the "rest" protocol of
                                dubbo-spi-extensions 3.3.0 as the consumer)
  4. RestConsumer -> dubbo demo provider --protocol dubbo,tri,rest
                                Java's REST consumer against ours

Java binds ::1 (DUBBO_IP_TO_BIND; it treats every 127.x address as unset and
would bind 0.0.0.0); ours binds 127.0.0.1. Logs go to --work. Prints one line per
case and "N passed, N failed"; exit 0 when every case passed, 1 otherwise, 77
(skip) only with DUBBO_C_ALLOW_SKIP=1 when java or mvn is missing."""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

INTERFACE = "org.apache.dubbo.demo.DemoService"
RESULTS = []


def record(name, ok, detail):
    RESULTS.append(ok)
    print("  %-34s %s %s" % (name, "PASS" if ok else "FAIL", detail[:200]), flush=True)


def start(argv, log, pattern, env):
    out = open(log, "w")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL,
                         text=True, env=env)
    deadline = time.time() + 90
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return p, int(m.group(1))
    p.kill()
    p.wait()
    sys.exit("java_rest_test: %s did not start (see %s)" % (" ".join(argv[-4:]), log))


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Http:
    """One keep-alive HTTP/1.1 connection (Java answers every request with
    connection: keep-alive; the cases below all go over one connection)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def request(self, verb, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        data = body.encode() if isinstance(body, str) else body
        self.conn.request(verb, path, body=data, headers=headers or {})
        r = self.conn.getresponse()
        raw = r.read()
        if r.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, raw

    def close(self):
        if self.conn:
            self.conn.close()


def check_http(h, name, verb, path, want_status, want_type=None, want_json=None, want_text=None,
               body=None, headers=None, want_header=None):
    """One request; PASS when status, content type, body (as JSON or text) and
    the given response header are what Java 3.3.6 answers."""
    try:
        t0 = time.time()
        try:
            status, hdrs, raw = h.request(verb, path, body, headers)
        except TimeoutError:
            # a JVM on a loaded machine (its first 404 loads a lot): once more
            # on a fresh connection before calling it a failure
            h.conn = None
            t0 = time.time()
            status, hdrs, raw = h.request(verb, path, body, headers)
        ms = (time.time() - t0) * 1000
    except Exception as e:  # noqa: BLE001 - any transport failure is the case's failure
        h.conn = None
        record(name, False, "%s %s: %s" % (verb, path, e))
        return None
    text = raw.decode("utf-8", "replace")
    got = "%d %s %s" % (status, hdrs.get("content-type", "-"), text)
    problems = []
    if status != want_status:
        problems.append("status %d, want %d" % (status, want_status))
    if want_type and hdrs.get("content-type", "").split(";")[0].strip() != want_type:
        problems.append("content-type %r, want %r" % (hdrs.get("content-type"), want_type))
    if want_json is not None:
        try:
            v = json.loads(text)
        except ValueError:
            v = ValueError
        if callable(want_json):
            if not want_json(v):
                problems.append("unexpected body")
        elif v != want_json:
            problems.append("body %s, want %s" % (text, json.dumps(want_json, ensure_ascii=False)))
    if want_text is not None and text != want_text:
        problems.append("body %r, want %r" % (text, want_text))
    if want_header:
        k, v = want_header
        if hdrs.get(k) != v:
            problems.append("header %s: %r, want %r" % (k, hdrs.get(k), v))
    record(name, not problems, "; ".join(problems) + (" | got " if problems else "") + got)
    return ms


def urllib_cases(host, port):
    """The demo's mapping on Java's Triple-REST, and Java's error answers."""
    print("urllib -> Java RestProvider (http://[%s]:%d)" % (host, port), flush=True)
    h = Http(host, port)
    J = "application/json"
    check_http(h, "hello_path", "GET", "/demo/hello/x", 200, J, "Hello x")
    check_http(h, "hello_path_encoded", "GET", "/demo/hello/" + urllib.parse.quote("你 a/b", safe=""),
               200, J, "Hello 你 a/b")
    check_http(h, "hello_query", "GET", "/demo/hello?name=" + urllib.parse.quote("Zoë"), 200, J, "Hello Zoë")
    check_http(h, "hello_accept_text", "GET", "/demo/hello/x", 200, "text/plain", want_text="Hello x",
               headers={"Accept": "text/plain"})
    obj = {"name": "Ann", "age": 42, "tags": ["a", "b"], "nested": {"ok": True, "pi": 3.5}}
    check_http(h, "echo_json", "POST", "/demo/echo", 200, J, obj, body=json.dumps(obj),
               headers={"Content-Type": J})
    # fastjson2 writes no null-valued keys: {"n":null} comes back as {}
    check_http(h, "echo_null_key_dropped", "POST", "/demo/echo", 200, J, {"a": 1}, body='{"a":1,"n":null}',
               headers={"Content-Type": J})
    check_http(h, "whoami", "GET", "/demo/whoami", 200, J,
               lambda v: isinstance(v, str) and v.endswith(":%d" % port))
    ms = check_http(h, "sleep_form", "POST", "/demo/sleep", 200, J, want_text="null", body="ms=120",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    if ms is not None:
        record("sleep_form_waited", ms >= 110, "%.0f ms for ms=120" % ms)
    check_http(h, "fail_text", "POST", "/demo/fail", 500, "text/plain",
               {"message": "boom", "status": "500"}, body="boom", headers={"Content-Type": "text/plain"})
    check_http(h, "fail_accept_json", "POST", "/demo/fail", 500, J, {"message": "boom", "status": "500"},
               body="boom", headers={"Content-Type": "text/plain", "Accept": J})
    check_http(h, "not_found", "GET", "/demo/nope", 404, J, {"message": "Invoker not found", "status": "404"})
    check_http(h, "wrong_verb", "DELETE", "/demo/hello/x", 405, J,
               {"message": "Request method 'DELETE' not supported", "status": "405"})
    check_http(h, "options_allow", "OPTIONS", "/demo/hello/x", 204, want_text="", want_header=("allow", "GET"))
    check_http(h, "unsupported_type", "POST", "/demo/echo", 415, J,
               {"message": "Content type 'application/xml' not supported", "status": "415"},
               body="<a/>", headers={"Content-Type": "application/xml"})
    check_http(h, "bad_int_is_500", "POST", "/demo/sleep", 500, J,
               {"message": "For input string: \"abc\"", "status": "500"}, body="ms=abc",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    check_http(h, "bad_json_is_500", "POST", "/demo/echo", 500, J,
               {"message": "Error decoding json", "status": "500"}, body="{bad",
               headers={"Content-Type": J})
    h.close()


def default_form_cases(host, port):
    """Java's default route on the plain DemoService (TriProvider)."""
    print("urllib -> Java TriProvider, the default /{interface}/{method} (http://[%s]:%d)" % (host, port),
          flush=True)
    h = Http(host, port)
    J = "application/json"
    base = "/" + INTERFACE + "/"
    check_http(h, "default_array", "POST", base + "sayHello", 200, J, "Hello x", body='["x"]',
               headers={"Content-Type": J})
    check_http(h, "default_single", "POST", base + "sayHello", 200, J, "Hello y", body='"y"',
               headers={"Content-Type": J})
    # a one-parameter method takes the whole body as its argument when it decodes to the
    # parameter's type; for echo(Object) an array always does, so the array is the argument
    check_http(h, "default_echo_bare", "POST", base + "echo", 200, J, {"a": 1}, body='{"a":1}',
               headers={"Content-Type": J})
    check_http(h, "default_echo_array_is_the_arg", "POST", base + "echo", 200, J, [{"a": 1}],
               body='[{"a":1}]', headers={"Content-Type": J})
    check_http(h, "default_attachment_header", "POST", base + "attachment", 200, J, "v1",
               body='["dubbo-c-test"]', headers={"Content-Type": J, "dubbo-c-test": "v1"})
    check_http(h, "default_fail", "POST", base + "fail", 500, J, {"message": "boom", "status": "500"},
               body='["boom"]', headers={"Content-Type": J})
    check_http(h, "default_no_method", "POST", base + "nosuch", 404, J,
               {"message": "Invoker not found", "status": "404"}, body="[]", headers={"Content-Type": J})
    h.close()


def cli_call(name, cli, url, method, args, env, want_out=None, want_err=None):
    argv = [cli, "call", url, method] + args + ["--timeout", "5000", "--param", "retries=0"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    except subprocess.TimeoutExpired:
        record(name, False, "timed out: %s" % " ".join(argv))
        return
    out, err = r.stdout.strip(), r.stderr.strip()
    if want_out is not None:
        ok = r.returncode == 0 and (want_out(out) if callable(want_out) else out == want_out)
    else:
        ok = r.returncode == 1 and want_err in err
    record(name, ok, "exit %d out %s err %s" % (r.returncode, out, err))


def cli_cases(cli, rest_port, tri_port, env):
    print("dubbo call rest:// -> Java (Java's default route)", flush=True)
    plain = "rest://[::1]:%d/%s" % (tri_port, INTERFACE)
    cli_call("cli_tri_sayHello", cli, plain, "sayHello", ['"x"'], env, '"Hello x"')
    # echo must give back what was sent; a consumer that sends [arg] for a one-parameter
    # echo(Object) gets [arg] back from Java (see default_echo_array_is_the_arg)
    cli_call("cli_tri_echo", cli, plain, "echo", ['{"a":1,"b":[1,2]}'], env,
             lambda o: json.loads(o) == {"a": 1, "b": [1, 2]})
    cli_call("cli_tri_fail", cli, plain, "fail", ['"boom"'], env, want_err="HTTP 500: boom")
    cli_call("cli_tri_no_method", cli, plain, "nosuch", [], env, want_err="HTTP 404")
    annotated = "rest://[::1]:%d/%s" % (rest_port, INTERFACE)
    cli_call("cli_rest_whoami", cli, annotated, "whoami", [], env, '"[::1]:%d"' % rest_port)
    cli_call("cli_rest_sleep", cli, annotated, "sleep", ["10"], env, "null")
    cli_call("cli_rest_fail", cli, annotated, "fail", ['"boom"'], env, want_err="HTTP 500")


def java_consumer(prefix, java, url, env, log, label):
    print("RestConsumer -> %s (%s)" % (label, url), flush=True)
    cases = ["say_hello", "say_hello_unicode", "say_hello_query", "echo", "whoami", "sleep", "fail"]
    try:
        r = subprocess.run(java + ["org.dubboc.interop.RestConsumer", "--url", url], capture_output=True,
                           text=True, env=env, timeout=180)
    except subprocess.TimeoutExpired:
        record(prefix + "consumer", False, "timed out")
        return
    with open(log, "w") as f:
        f.write(r.stderr)
    seen = set()
    for line in r.stdout.splitlines():
        m = re.match(r"RESULT (\S+) (PASS|FAIL|SKIP) ?(.*)", line)
        if m:
            seen.add(m.group(1))
            record(prefix + m.group(1), m.group(2) == "PASS", m.group(3))
    for c in cases:
        if c not in seen:
            record(prefix + c, False, "no RESULT line (exit %d; see %s)" % (r.returncode, log))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True, help="build/tools/dubbo")
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    b = subprocess.run([os.path.join(a.source, "tests/interop/java/build.sh")], capture_output=True, text=True)
    if b.returncode == 77:
        print(b.stderr.strip())
        if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1":
            print("SKIP: java_rest_test: no Java peer")
            sys.exit(77)
        sys.exit(1)
    if b.returncode:
        sys.exit("java_rest_test: the Java peer did not build:\n" + b.stderr)
    with open(os.path.join(b.stdout.strip().splitlines()[-1], "classpath")) as f:
        cp = f.read().strip()
    java = ["java", "-Xss2m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp]
    # Java: bind ::1 only (with 127.0.0.1 it would bind every address)
    env = dict(os.environ, DUBBO_IP_TO_BIND="::1", DUBBO_IP_TO_REGISTRY="::1")
    procs = []
    try:
        rp, rest_port = start(java + ["org.dubboc.interop.RestProvider", "--port", "0"],
                              os.path.join(a.work, "java-rest-provider.log"), r"^READY (\d+)", env)
        procs.append(rp)
        tp, tri_port = start(java + ["org.dubboc.interop.TriProvider", "--port", "0"],
                             os.path.join(a.work, "java-tri-provider.log"), r"^READY (\d+)", env)
        procs.append(tp)
        urllib_cases("::1", rest_port)
        default_form_cases("::1", tri_port)
        cli_cases(a.cli, rest_port, tri_port, env)
        java_consumer("java_java_", java, "rest://[::1]:%d" % rest_port, env,
                      os.path.join(a.work, "java-consumer-java.log"), "Java RestProvider")
        cp_, c_port = start([a.cli, "demo", "provider", "--protocol", "dubbo,tri,rest", "--host", "127.0.0.1",
                             "--port", "0", "--registry", "none"],
                            os.path.join(a.work, "c-provider.log"), r"listening on .*:(\d+)$", env)
        procs.append(cp_)
        java_consumer("java_c_", java, "rest://127.0.0.1:%d" % c_port, env,
                      os.path.join(a.work, "java-consumer-c.log"), "dubbo demo provider")
    finally:
        for p in procs:
            stop(p)
    passed = sum(1 for r in RESULTS if r)
    failed = len(RESULTS) - passed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
