package org.dubboc.interop;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;

/**
 * The REST consumer: calls a REST provider at --url rest://HOST:PORT through Dubbo's "rest"
 * protocol (org.apache.dubbo.extensions:dubbo-rpc-rest, see pom.xml), which builds each HTTP/1.1
 * request from the JAX-RS annotations of RestDemoService. One "RESULT <case> PASS|FAIL <detail>"
 * line per case on stdout; exit 1 when a case failed, 2 on a usage error.
 */
public final class RestConsumer {
    private final String url;
    private final Map<String, String> params;
    private RestDemoService demo;
    private Throwable refError;

    private RestConsumer(String url, Map<String, String> params) {
        this.url = url;
        this.params = params;
    }

    private static final class Fail extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Fail(String detail) {
            super(detail, null, false, false);
        }
    }

    @FunctionalInterface
    private interface Case {
        String run(RestConsumer c) throws Throwable;
    }

    private static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        // GET /demo/hello/{name}
        CASES.put("say_hello", c -> expect("Hello java", c.demo().sayHello("java")));
        // GET /demo/hello/{name} with a name that must be percent-encoded
        CASES.put("say_hello_unicode", c -> expect("Hello 你好 a b", c.demo().sayHello("你好 a b")));
        // GET /demo/hello?name=
        CASES.put("say_hello_query", c -> expect("Hello query", c.demo().sayHelloQuery("query")));
        // POST /demo/echo, a JSON object body
        CASES.put("echo", RestConsumer::echoCase);
        // GET /demo/whoami: some ip:port
        CASES.put("whoami", RestConsumer::whoamiCase);
        // POST /demo/sleep, form ms=
        CASES.put("sleep", RestConsumer::sleepCase);
        // POST /demo/fail, text body: the provider's 500 comes back as an exception carrying "boom"
        CASES.put("fail", RestConsumer::failCase);
    }

    private static final String USAGE = "usage: RestConsumer --url rest://127.0.0.1:P [--cases a,b,c] [--param k=v]...\n"
            + "cases: " + String.join(",", CASES.keySet());

    RestDemoService demo() {
        if (demo == null && refError == null) {
            try {
                ReferenceConfig<RestDemoService> rc = new ReferenceConfig<>();
                rc.setInterface(RestDemoService.class);
                rc.setProtocol("rest");
                rc.setUrl(url);
                // one try per call: a failing case must not be sent three times
                rc.setRetries(0);
                rc.setTimeout(5000);
                rc.setParameters(new HashMap<>(params));
                demo = rc.get();
            } catch (Throwable t) {
                refError = t;
            }
        }
        if (refError != null) {
            throw new Fail("no reference: " + JavaConsumer.describe(refError));
        }
        return demo;
    }

    private static String expect(Object want, Object got) {
        return Checks.expect(want, got, Fail::new);
    }

    private static String echoCase(RestConsumer c) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("a", 1);
        v.put("s", "x\"y");
        v.put("l", Arrays.asList(1, 2, 3));
        Object got = c.demo().echo(v);
        // the answer is decoded as fastjson2's JSONObject (a LinkedHashMap) holding a JSONArray
        if (!(got instanceof Map) || !v.equals(got)) {
            throw new Fail("echo(" + v + ") returned " + Sample.show(got));
        }
        return "echo " + got;
    }

    private static String whoamiCase(RestConsumer c) {
        String got = c.demo().whoami();
        if (got == null || !got.matches(".*:[0-9]+")) {
            throw new Fail("whoami() returned " + Sample.show(got) + ", not ip:port");
        }
        return "whoami " + got;
    }

    private static String sleepCase(RestConsumer c) {
        long start = System.nanoTime();
        c.demo().sleep(200);
        long ms = (System.nanoTime() - start) / 1_000_000;
        if (ms < 190) {
            throw new Fail("sleep(200) returned after " + ms + " ms");
        }
        return "sleep(200) took " + ms + " ms";
    }

    private static String failCase(RestConsumer c) {
        Object r;
        try {
            r = c.demo().fail("boom");
        } catch (Throwable t) {
            // the rest protocol turns a 5xx into RemoteServerInternalException (an RpcException
            // cause) whose message is the response body; the outer RpcException's text is long
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String seen = root.getClass().getName() + ": " + root.getMessage();
            if (root.getMessage() == null || !root.getMessage().contains("boom")) {
                throw new Fail("an exception without \"boom\": " + JavaConsumer.chainText(t));
            }
            return Cli.oneLine(seen);
        }
        throw new Fail("fail(\"boom\") returned " + Sample.show(r) + " instead of throwing");
    }

    private int runCases(List<String> names) {
        int failed = 0;
        for (String name : names) {
            String kind = "PASS";
            String detail;
            try {
                detail = CASES.get(name).run(this);
            } catch (Fail f) {
                kind = "FAIL";
                detail = f.getMessage();
            } catch (Throwable t) {
                kind = "FAIL";
                detail = JavaConsumer.describe(t);
            }
            if (!"PASS".equals(kind)) {
                failed++;
            }
            Cli.OUT.println("RESULT " + name + " " + kind + " " + Cli.oneLine(detail));
        }
        return failed;
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, "url", "cases");
        if (opts == null) {
            return;
        }
        String url = opts.get("url");
        if (url == null) {
            Cli.usage("--url is required\n" + USAGE);
        }
        String cases = opts.get("cases");
        List<String> names = cases == null ? new ArrayList<>(CASES.keySet()) : Arrays.asList(cases.split(","));
        for (String n : names) {
            if (!CASES.containsKey(n)) {
                Cli.usage("unknown case " + n + "\n" + USAGE);
            }
        }
        DubboBootstrap.getInstance().application(Cli.application("rest-consumer")).start();
        int failed = new RestConsumer(url, params).runCases(names);
        Cli.OUT.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
