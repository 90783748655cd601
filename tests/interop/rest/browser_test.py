#!/usr/bin/env python3
"""The demo page (tools/demo_page.html) in headless Chromium, calling the
demo provider across origins: REST (the demo's mapping) and Triple's HTTP/1
JSON mode with fetch(), CORS preflights included.

Two listeners on loopback: provider A (`dubbo demo provider --protocol
dubbo,tri,rest --cors-origin http://127.0.0.1:B`) is the API; listener B
serves the page (a second `dubbo demo provider --protocol rest`, which
serves it at GET /; `--page-server python` serves the file from this
script instead). Chromium (Debian's, /usr/bin/chromium) opens
http://127.0.0.1:B/?api=http://127.0.0.1:A&auto=1 and is driven over the
DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
WebSocket, no npm; tests/interop/rest/README.md says why). The test waits
for #done, checks each result element the page rendered, saves a
screenshot (<work>/demo-page.png), then opens the page from an origin A
does not allow (http://localhost:B), where every call must be refused by
the browser, and last from A itself with no ?api= (same origin). Before
the browser, the CORS answers themselves are checked with plain HTTP, so a
failure names the header that was wrong.

Exit: 0 all passed, 1 a case failed, 77 no Chromium (only when
DUBBO_C_ALLOW_SKIP=1)."""
import argparse
import base64
import http.client
import http.server
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc  # noqa: E402

CORS_FLAG = "--cors-origin"
INTERFACE = "org.apache.dubbo.demo.DemoService"
RESULT_IDS = ["hello-path", "hello-query", "echo", "whoami", "sleep", "fail", "tri", "attach"]

# What the page's elements hold, read in one evaluation once #done exists.
COLLECT_JS = r"""
(function () {
  var done = document.getElementById("done");
  if (!done) return null;
  var out = { done: { text: done.textContent, passed: done.dataset.passed,
                      failed: done.dataset.failed }, results: {} };
  document.querySelectorAll(".result").forEach(function (e) {
    var v = e.querySelector(".value");
    var d = {};
    Object.keys(e.dataset).forEach(function (k) { d[k] = e.dataset[k]; });
    out.results[e.id] = { data: d, value: v ? v.textContent : null, text: e.textContent };
  });
  return JSON.stringify(out);
})()
"""


class CdpError(Exception):
    pass


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe: the
    browser reads NUL-terminated JSON commands on fd 3 and writes replies
    and events on fd 4."""

    def __init__(self, exe, work):
        self.profile = os.path.join(work, "chromium-profile")
        shutil.rmtree(self.profile, ignore_errors=True)
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # move the pipe ends onto 3 and 4 (dup first: they may be 3 or 4 already)
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        argv = [exe, "--headless=new", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--disable-dev-shm-usage", "--password-store=basic", "--use-mock-keychain",
                "--mute-audio", "--window-size=1100,900",
                # loopback only: localhost is 127.0.0.1, every other name fails
                "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "about:blank"]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")
        self.log_path = os.path.join(work, "chromium.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ)
        env.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=self.log, pass_fds=(3, 4), preexec_fn=child_fds,
                                  env=env)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise CdpError("no answer from Chromium in time")
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                continue
            data = os.read(self.from_chrome, 1 << 16)
            if not data:
                raise CdpError("Chromium closed its DevTools pipe (exit %s); see %s"
                               % (self.p.poll(), self.log_path))
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        m = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(m).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            r = self._read_message(deadline)
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise CdpError("%s: %s" % (method, r["error"].get("message")))
                return r.get("result", {})
            if "method" in r:
                self.events.append(r)

    def open_page(self, width=1100, height=900):
        """A fresh tab, attached (flat session), with the domains whose
        events explain a failure: console, exceptions, network log."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                        session=False)
        self.session = att["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def navigate(self, url):
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, r["errorText"]))

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise CdpError("evaluate: %s" % r["exceptionDetails"].get("text"))
        return r["result"].get("value")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        data = base64.b64decode(r["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def messages(self):
        """The page's console lines, uncaught exceptions and network log
        entries (CORS refusals land there), oldest first."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (p.get("type"), " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s %s" % (d.get("text", ""),
                                                 d.get("exception", {}).get("description", "")))
            elif m == "Log.entryAdded":
                en = p.get("entry", {})
                out.append("log.%s (%s): %s" % (en.get("level"), en.get("source"), en.get("text")))
        return out

    def close(self):
        if self.p.poll() is None:
            try:
                self.session = None
                self.call("Browser.close", timeout=5)
            except (CdpError, OSError):
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for fd in (self.to_chrome, self.from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class PageServer:
    """--page-server python: tools/demo_page.html at GET / from a thread of
    this script, for when the demo provider cannot serve it."""

    def __init__(self, page_path):
        page = open(page_path, "rb").read()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def http_req(port, method, path, headers=None, body=None):
    """One request on a fresh connection: (status, {lowercased header: value}, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def cors_headers(hd):
    return {k: v for k, v in hd.items() if k.startswith("access-control") or k == "vary"}


def has_token(value, token):
    """Whether a comma-separated header value lists token (case-insensitive),
    or is the wildcard."""
    if value is None:
        return False
    items = [v.strip().lower() for v in value.split(",")]
    return token.lower() in items or "*" in items


class Run:
    def __init__(self, args):
        self.a = args
        os.makedirs(args.work, exist_ok=True)
        self.failed = []
        self.passed = 0

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, str(detail).strip()[:2000]), flush=True)

    def start_provider(self, name, protocols, extra):
        p = Proc(name, [self.a.cli, "demo", "provider", "--protocol", protocols,
                        "--host", "127.0.0.1", "--port", "0", "--registry", "none"] + extra,
                 dict(os.environ), self.a.work)
        m = p.wait_line(r"^listening on .*:(\d+)$", 60)
        if not m:
            p.stop(signal.SIGKILL, 5)
            raise RuntimeError("%s did not start; see %s/%s.log" % (name, self.a.work, name))
        return p, int(m.group(1))

    def run(self):
        exe = self.a.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe or not os.access(exe, os.X_OK):
            print("browser: no Chromium (Debian package chromium; scripts/setup.sh installs it)")
            return 77 if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1" else 1
        page_path = os.path.join(self.a.source, "tools", "demo_page.html")
        procs = []
        page_server = None
        browser = None
        try:
            # B: the page's origin
            if self.a.page_server == "python":
                page_server = PageServer(page_path)
                port_b = page_server.port
            else:
                pb, port_b = self.start_provider("page-provider", "rest", [])
                procs.append(pb)
            origin = "http://127.0.0.1:%d" % port_b
            # A: the API, CORS open to B only
            pa, port_a = self.start_provider("provider", "dubbo,tri,rest", [CORS_FLAG, origin])
            procs.append(pa)
            print("page origin %s, API http://127.0.0.1:%d" % (origin, port_a), flush=True)

            self.page_served(port_b, page_path)
            self.cors_over_http(port_a, origin)

            browser = Chromium(exe, self.a.work)
            browser.call("Browser.getVersion", session=False)
            browser.open_page()
            url = "%s/?api=http://127.0.0.1:%d&auto=1" % (origin, port_a)
            shot = os.path.join(self.a.work, "demo-page.png")
            res = self.open_and_wait(browser, url, shot)
            if res is not None:
                self.check_results(res, port_a)
            self.denied_origin(browser, port_a, port_b)
            self.same_origin(browser, port_a)

            for p in procs:
                alive = p.alive()
                rc = p.stop(signal.SIGTERM, 30)
                self.case("%s alive to the end, exits 0 on SIGTERM" % p.name, alive and rc == 0,
                          "alive %s, exit %s" % (alive, rc))
        except (RuntimeError, CdpError, OSError) as e:
            self.case("run", False, e)
            if browser:
                print("\n".join(browser.messages()[-40:]))
        finally:
            if browser:
                browser.close()
            if page_server:
                page_server.stop()
            for p in procs:
                p.stop(signal.SIGKILL, 5)
        print("interop rest browser: %d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0

    def page_served(self, port, page_path):
        status, hdrs, body = http_req(port, "GET", "/")
        want = open(page_path, "rb").read()
        self.case("GET / serves the demo page as text/html",
                  status == 200 and hdrs.get("content-type", "").startswith("text/html") and
                  body == want,
                  "status %s, content-type %r, %d bytes (file has %d)%s"
                  % (status, hdrs.get("content-type"), len(body), len(want),
                     "" if body == want else ", not the file's bytes"))

    def cors_over_http(self, port, origin):
        """The provider's CORS answers, read without a browser: what the
        browser will enforce, named header by header."""
        def preflight(name, path, method, req_headers, allowed=True, org=origin):
            h = {"Origin": org, "Access-Control-Request-Method": method}
            if req_headers:
                h["Access-Control-Request-Headers"] = req_headers
            status, hd, body = http_req(port, "OPTIONS", path, h)
            got = "OPTIONS %s (Origin %s, %s%s): %s, %s" % (
                path, org, method, ", " + req_headers if req_headers else "", status,
                cors_headers(hd))
            if not allowed:
                self.case(name, "access-control-allow-origin" not in hd, got)
                return
            ok = 200 <= status < 300 and hd.get("access-control-allow-origin") == origin and \
                has_token(hd.get("access-control-allow-methods"), method)
            for rh in (req_headers or "").split(","):
                if rh.strip():
                    ok = ok and has_token(hd.get("access-control-allow-headers"), rh.strip())
            self.case(name, ok, got)

        preflight("preflight POST /demo/echo with content-type: allowed", "/demo/echo", "POST",
                  "content-type")
        preflight("preflight GET /demo/attachment/x-demo-trace with x-demo-trace: allowed",
                  "/demo/attachment/x-demo-trace", "GET", "x-demo-trace")
        preflight("preflight POST Triple's /%s/sayHello: allowed" % INTERFACE,
                  "/%s/sayHello" % INTERFACE, "POST", "content-type")
        preflight("preflight from another origin: no Access-Control-Allow-Origin", "/demo/echo",
                  "POST", "content-type", allowed=False, org="http://127.0.0.1:9")

        status, hd, body = http_req(port, "GET", "/demo/hello/x", {"Origin": origin})
        self.case("GET with the allowed Origin: Access-Control-Allow-Origin is it",
                  status == 200 and hd.get("access-control-allow-origin") == origin,
                  "%s %s" % (status, cors_headers(hd)))
        status, hd, body = http_req(port, "GET", "/demo/attachment/x-demo-trace",
                                    {"Origin": origin, "x-demo-trace": "page-1"})
        self.case("an answer's attachment header is exposed to the page",
                  status == 200 and hd.get("echo-x-demo-trace") == "page-1" and
                  has_token(hd.get("access-control-expose-headers"), "echo-x-demo-trace"),
                  "GET /demo/attachment/x-demo-trace (x-demo-trace: page-1): %s, "
                  "echo-x-demo-trace %r, %s" % (status, hd.get("echo-x-demo-trace"),
                                                cors_headers(hd)))
        status, hd, body = http_req(port, "GET", "/demo/hello/x", {"Origin": "http://127.0.0.1:9"})
        self.case("GET with another Origin: no Access-Control-Allow-Origin",
                  "access-control-allow-origin" not in hd,
                  "%s %s" % (status, cors_headers(hd)))

    def open_and_wait(self, browser, url, shot, timeout=30):
        """Navigate, wait for #done, screenshot; the page's results or None."""
        browser.events.clear()
        browser.navigate(url)
        deadline = time.time() + timeout
        raw = None
        while time.time() < deadline:
            raw = browser.evaluate(COLLECT_JS)
            if raw:
                break
            time.sleep(0.1)
        png = browser.screenshot(shot)
        print("screenshot: %s" % shot, flush=True)
        self.case("screenshot %s is a PNG" % os.path.basename(shot),
                  png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, "%d bytes" % len(png))
        if not raw:
            self.case("%s: #done within %d s" % (url, timeout), False,
                      "\n".join(browser.messages()[-40:]))
            return None
        self.case("%s: #done within %d s" % (url, timeout), True)
        return json.loads(raw)

    def check_results(self, res, port_a):
        r = res["results"]

        def check(rid, ok, what):
            e = r.get("r-" + rid)
            if e is None:
                self.case("#r-%s rendered" % rid, False, "no element")
                return
            d = e["data"]
            good = d.get("status") == "ok" and ok(e, d)
            detail = "data %s, text %r" % (d, e["text"])
            self.case("#r-%s %s" % (rid, what), good, detail)

        check("hello-path", lambda e, d: d.get("http") == "200" and e["value"] == "Hello Ann Lee",
              "GET /demo/hello/Ann%20Lee: 200 'Hello Ann Lee'")
        check("hello-query", lambda e, d: d.get("http") == "200" and e["value"] == "Hello Zo\u00eb",
              "GET /demo/hello?name=Zo%C3%AB: 200 'Hello Zo\u00eb'")
        check("echo", lambda e, d: d.get("http") == "200" and
              json.loads(e["value"]) == {"name": "Ann", "age": 42},
              "POST /demo/echo JSON: the object back")
        check("whoami", lambda e, d: d.get("http") == "200" and
              e["value"].endswith(":%d" % port_a),
              "GET /demo/whoami: 200, the provider's address (port %d)" % port_a)
        check("sleep", lambda e, d: d.get("http", "").startswith("2") and
              int(d.get("elapsed", "0")) >= 10,
              "POST /demo/sleep form ms=10: 2xx after >= 10 ms")
        check("fail", lambda e, d: d.get("http") == "500" and
              d.get("exceptionClass") == "java.lang.IllegalStateException" and
              "boom" in d.get("exceptionMessage", ""),
              "POST /demo/fail 'boom': 500 with java.lang.IllegalStateException and 'boom'")
        check("tri", lambda e, d: d.get("http") == "200" and e["value"] == '"Hello browser"',
              "Triple HTTP/1 JSON POST /%s/sayHello [\"browser\"]: 200 \"Hello browser\""
              % INTERFACE)
        check("attach", lambda e, d: d.get("http") == "200" and d.get("seen") == "page-1" and
              d.get("echo") == "page-1",
              "GET /demo/attachment/x-demo-trace with x-demo-trace: page-1: 200 'page-1', "
              "and echo-x-demo-trace: page-1 readable (exposed)")
        done = res["done"]
        self.case("#done: %s" % done["text"], done.get("failed") == "0" and
                  done.get("passed") == str(len(RESULT_IDS)), done)

    def denied_origin(self, browser, port_a, port_b):
        """The same page from http://localhost:B, an origin A does not
        allow: the browser must refuse to hand over every answer."""
        url = "http://localhost:%d/?api=http://127.0.0.1:%d&auto=1" % (port_b, port_a)
        res = self.open_and_wait(browser, url, os.path.join(self.a.work, "demo-page-denied.png"))
        if res is None:
            return
        got = {k: v["data"].get("http") for k, v in res["results"].items()}
        self.case("from an origin not allowed every call is refused by the browser (HTTP 0)",
                  len(got) == len(RESULT_IDS) and all(v == "0" for v in got.values()), got)
        cors_logs = [m for m in browser.messages() if "CORS" in m]
        self.case("Chromium names CORS as the reason", len(cors_logs) > 0,
                  "\n".join(browser.messages()[-20:]))


    def same_origin(self, browser, port_a):
        """The page from A itself with no ?api=: it calls its own origin,
        no CORS involved."""
        url = "http://127.0.0.1:%d/?auto=1" % port_a
        shot = os.path.join(self.a.work, "demo-page-same-origin.png")
        res = self.open_and_wait(browser, url, shot)
        if res is None:
            return
        got = {k: (v["data"].get("status"), v["data"].get("http"))
               for k, v in res["results"].items()}
        self.case("same origin, default API: every call ok", res["done"].get("failed") == "0" and
                  res["done"].get("passed") == str(len(RESULT_IDS)), got)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the dubbo command (tools/dubbo)")
    ap.add_argument("--source", required=True, help="the source tree (for tools/demo_page.html)")
    ap.add_argument("--work", required=True, help="logs and screenshots go here")
    ap.add_argument("--chromium", help="the browser (default: chromium on PATH)")
    ap.add_argument("--page-server", choices=("dubbo", "python"), default="dubbo",
                    help="who serves the page on origin B: a second demo provider (default) "
                         "or this script")
    return Run(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
