package org.dubboc.interop;

import com.example.User;
import com.example.UserService;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.apache.dubbo.common.utils.PojoUtils;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.SslConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.demo.DemoService;
import org.apache.dubbo.rpc.RpcContext;
import org.apache.dubbo.rpc.RpcException;
import org.apache.dubbo.rpc.service.EchoService;
import org.apache.dubbo.rpc.service.GenericService;

/**
 * The consumer program of PEERS.md: runs the cases against one provider (direct URL or
 * through ZooKeeper) and prints "RESULT <case> PASS|FAIL|SKIP <detail>" per case, or the
 * load mode's "LOAD ok=N failed=M".
 */
public final class JavaConsumer {
    private static final String USAGE_HEAD = "usage: JavaConsumer (--url dubbo://127.0.0.1:P | --registry zookeeper://127.0.0.1:PORT)"
            + " [--cases a,b,c] [--param k=v]... [--expect-exception CLASS] [--app NAME]\n"
            + "       [--load-seconds S [--threads T]]\n"
            + "       [--tls-cert PEM --tls-key PEM] [--tls-ca PEM] | [--tls-anonymous-ca PEM]: TLS (dubbo.ssl; see README.md)\n";

    private static final String DEMO = "org.apache.dubbo.demo.DemoService";
    private static final String USER = "com.example.UserService";
    private static final String DEFAULT_EXCEPTION = "org.apache.dubbo.demo.DemoException";

    private final String url;
    private final Map<String, String> params;
    private final String expectException;
    private final Map<String, Object> refs = new HashMap<>();

    private JavaConsumer(String url, Map<String, String> params, String expectException) {
        this.url = url;
        this.params = params;
        this.expectException = expectException;
    }

    /** A case's verdict other than PASS. */
    private static final class Verdict extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String kind;

        Verdict(String kind, String detail) {
            super(detail, null, false, false);
            this.kind = kind;
        }
    }

    private static Verdict fail(String detail) {
        return new Verdict("FAIL", detail);
    }

    private static Verdict skip(String detail) {
        return new Verdict("SKIP", detail);
    }

    @FunctionalInterface
    private interface Case {
        /** Returns the PASS detail; throws a Verdict (or anything: FAIL) otherwise. */
        String run(JavaConsumer c) throws Throwable;
    }

    private static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        CASES.put("say_hello", c -> expect("Hello world", c.demo().sayHello("world")));
        CASES.put("echo_string", c -> c.echoSame("h\u00e9llo \u2713 \uD83D\uDE00"));
        CASES.put("echo_int", c -> c.echoSame(-123456));
        CASES.put("echo_long", c -> c.echoSame(9007199254740993L));
        CASES.put("echo_double", c -> c.echoSame(3.25));
        CASES.put("echo_null", c -> {
            Object r = c.demo().echo(null);
            if (r != null) {
                throw fail("expected null, got " + Sample.show(r));
            }
            return "null";
        });
        CASES.put("echo_list", c -> c.echoSame(new ArrayList<>(Arrays.asList(1, "two", 3.0))));
        CASES.put("echo_map", c -> {
            HashMap<String, Object> m = new HashMap<>();
            m.put("a", 1);
            m.put("b", "x");
            return c.echoSame(m);
        });
        CASES.put("echo_bytes", c -> {
            byte[] b = new byte[256];
            for (int i = 0; i < 256; i++) {
                b[i] = (byte) i;
            }
            return c.echoSame(b);
        });
        CASES.put("echo_date", c -> c.echoSame(new Date(1700000000123L)));
        CASES.put("echo_bigdecimal", c -> c.echoSame(new BigDecimal("3.14159265358979323846")));
        CASES.put("echo_user", c -> sameAsSample(c.demo().echo((Object) Sample.user())));
        CASES.put("user_echo", c -> sameAsSample(c.user().echo(Sample.user())));
        CASES.put("user_sample", c -> sameAsSample(c.user().sample()));
        CASES.put("user_check", c -> expect("ok", c.user().check(Sample.user())));
        CASES.put("whoami", c -> {
            String r = c.demo().whoami();
            if (r == null || !Pattern.matches("\\S+:\\d+", r)) {
                throw fail("expected ip:port, got " + Sample.show(r));
            }
            return r;
        });
        CASES.put("exception", JavaConsumer::exceptionCase);
        CASES.put("generic", c -> expect(
                "Hello world",
                c.generic(DEMO).$invoke("sayHello", new String[] {"java.lang.String"}, new Object[] {"world"})));
        CASES.put("generic_user", JavaConsumer::genericUserCase);
        CASES.put("echo_service", c -> expect("ping", ((EchoService) c.demo()).$echo("ping")));
        CASES.put("attachments", JavaConsumer::attachmentsCase);
        CASES.put("timeout", JavaConsumer::timeoutCase);
        CASES.put("heartbeat", JavaConsumer::heartbeatCase);
    }

    private static final String USAGE = USAGE_HEAD + "cases: " + String.join(",", CASES.keySet());

    static List<String> caseNames() {
        return new ArrayList<>(CASES.keySet());
    }

    // ---- references -------------------------------------------------------------------

    /** A reference built once per key (a failure to build it is remembered too). */
    @SuppressWarnings("unchecked")
    private <T> T ref(String key, Class<T> type, String iface, boolean generic, Map<String, String> extra) {
        Object r = refs.get(key);
        if (r == null) {
            try {
                ReferenceConfig<T> rc = new ReferenceConfig<>();
                rc.setInterface(iface);
                if (generic) {
                    rc.setGeneric("true");
                } else {
                    rc.setInterface(type);
                }
                Map<String, String> p = new HashMap<>(params);
                p.putAll(extra);
                rc.setParameters(p);
                if (url != null) {
                    rc.setUrl(url);
                }
                r = rc.get();
            } catch (Throwable t) {
                r = t;
            }
            refs.put(key, r);
        }
        if (r instanceof Throwable) {
            throw fail("no reference to " + iface + ": " + describe((Throwable) r));
        }
        return (T) r;
    }

    DemoService demo() {
        return ref("demo", DemoService.class, DEMO, false, Map.of());
    }

    UserService user() {
        return ref("user", UserService.class, USER, false, Map.of());
    }

    GenericService generic(String iface) {
        return ref("generic:" + iface, GenericService.class, iface, true, Map.of());
    }

    // ---- helpers ----------------------------------------------------------------------

    private static String expect(Object want, Object got) {
        return Checks.expect(want, got, JavaConsumer::fail);
    }

    /** echo(v) returns an equal value of the same Java class. */
    private String echoSame(Object v) {
        Object r = demo().echo(v);
        boolean same = r != null && r.getClass() == v.getClass()
                && (v instanceof byte[] ? Arrays.equals((byte[]) v, (byte[]) r) : v.equals(r));
        if (!same) {
            throw fail("expected " + Sample.show(v) + ", got " + Sample.show(r));
        }
        String s = Sample.show(r);
        return s.length() > 120 ? s.substring(0, 60) + "..." + s.substring(s.length() - 40) : s;
    }

    private static String sameAsSample(Object r) {
        String d = Sample.diffFromSample(r);
        if (d != null) {
            throw fail(d);
        }
        return "equals the sample field by field";
    }

    /** The exception's class and message, and those of its causes. */
    /** Every message of the cause chain, untruncated (describe() cuts at ~600 chars). */
    static String chainText(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append('\n');
        }
        return sb.toString();
    }

    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null && sb.length() < 600; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- caused by ");
            }
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage());
        }
        return Cli.oneLine(sb.toString());
    }

    private static boolean noSuchMethod(String text) {
        String s = text.toLowerCase();
        return s.contains("nosuchmethod") || s.contains("no such method") || s.contains("not found method")
                || s.contains("fail to decode request")
                || s.contains("method not found") || s.contains("unknown method")
                || s.contains("no provider available") && s.contains(USER.toLowerCase());
    }

    // ---- the cases with more to them ---------------------------------------------------

    private static String exceptionCase(JavaConsumer c) {
        String want = c.expectException == null ? DEFAULT_EXCEPTION : c.expectException;
        return Checks.failThrows(c.demo(), want, JavaConsumer::fail);
    }

    private static String genericUserCase(JavaConsumer c) {
        Object generalized = PojoUtils.generalize(Sample.user());
        if (!(generalized instanceof Map) || !"com.example.User".equals(((Map<?, ?>) generalized).get("class"))) {
            throw fail("PojoUtils.generalize(sample) gave " + Sample.show(generalized));
        }
        Object r = c.generic(USER)
                .$invoke("echo", new String[] {"com.example.User"}, new Object[] {generalized});
        if (!(r instanceof Map)) {
            throw fail("expected a generic map, got " + Sample.show(r));
        }
        Object name = ((Map<?, ?>) r).get("name");
        if (!Sample.NAME.equals(name)) {
            throw fail("name: expected " + Sample.show(Sample.NAME) + ", got " + Sample.show(name));
        }
        return "name=" + Sample.show(name) + " class=" + ((Map<?, ?>) r).get("class");
    }

    private static String attachmentsCase(JavaConsumer c) {
        DemoService demo = c.demo();
        RpcContext.getClientAttachment().setAttachment("dubbo-c-test", "v1");
        String r = demo.attachment("dubbo-c-test");
        Object back = RpcContext.getClientResponseContext().getObjectAttachment("echo-dubbo-c-test");
        if (!"v1".equals(r)) {
            throw fail("attachment(\"dubbo-c-test\") returned " + Sample.show(r) + " instead of \"v1\"");
        }
        if (!"v1".equals(back)) {
            throw fail("response attachment echo-dubbo-c-test = " + Sample.show(back) + " instead of \"v1\"; all: "
                    + RpcContext.getClientResponseContext().getObjectAttachments());
        }
        return "attachment=\"v1\" response echo-dubbo-c-test=\"v1\"";
    }

    private static boolean isTimeout(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof RpcException && ((RpcException) c).isTimeout()) {
                return true;
            }
            if (c instanceof TimeoutException || c.getClass().getName().endsWith(".TimeoutException")) {
                return true;
            }
        }
        return false;
    }

    private static String timeoutCase(JavaConsumer c) {
        DemoService slow = c.ref("demo-timeout", DemoService.class, DEMO, false, Map.of("timeout", "500"));
        long t0 = System.nanoTime();
        String seen;
        try {
            slow.sleep(3000);
            throw fail("sleep(3000) returned after " + (System.nanoTime() - t0) / 1_000_000 + " ms, no timeout");
        } catch (Verdict v) {
            throw v;
        } catch (Throwable t) {
            long ms = (System.nanoTime() - t0) / 1_000_000;
            seen = t.getClass().getName() + " after " + ms + " ms";
            if (!isTimeout(t)) {
                throw fail("not a timeout: " + seen + ": " + describe(t));
            }
            if (ms < 400 || ms > 2000) {
                throw fail("timeout after " + ms + " ms, outside 400-2000 ms: " + describe(t));
            }
        }
        String hello = slow.sayHello("world");
        if (!"Hello world".equals(hello)) {
            throw fail(seen + ", then sayHello returned " + Sample.show(hello));
        }
        return seen + ", then sayHello ok";
    }

    private static String heartbeatCase(JavaConsumer c) throws InterruptedException {
        // connections=1: a connection of its own, so the client's heartbeat is this reference's
        // 1000 ms (a shared connection keeps the heartbeat of the first reference that opened it).
        // sticky=true: both calls go to the same provider when the registry lists several.
        Map<String, String> extra = new HashMap<>();
        extra.put("heartbeat", "1000");
        extra.put("connections", "1");
        extra.put("sticky", "true");
        DemoService hb = c.ref("demo-heartbeat", DemoService.class, DEMO, false, extra);
        String before = hb.peer();
        Thread.sleep(5000);
        String after = hb.peer();
        if (before == null || !before.equals(after)) {
            throw fail("peer() was " + before + " before 5 s idle and " + after + " after: the connection was not kept");
        }
        return "peer()=" + before + " before and after 5 s idle";
    }

    // ---- running ------------------------------------------------------------------------

    private int runCases(List<String> names) {
        int failed = 0;
        for (String name : names) {
            String kind = "PASS";
            String detail;
            String full = "";
            try {
                detail = CASES.get(name).run(this);
            } catch (Verdict v) {
                kind = v.kind;
                detail = v.getMessage();
                full = detail;
            } catch (Throwable t) {
                kind = "FAIL";
                detail = describe(t);
                full = chainText(t);
            }
            if (kind.equals("FAIL") && (name.equals("user_sample") || name.equals("user_check"))
                    && noSuchMethod(full)) {
                // PEERS.md: skipped against a provider without it (dubbo-c)
                kind = "SKIP";
                detail = "the provider has no UserService." + name.substring(5) + ": " + detail;
            }
            if (kind.equals("FAIL")) {
                failed++;
            }
            Cli.OUT.println("RESULT " + name + " " + kind + " " + Cli.oneLine(detail));
        }
        return failed;
    }

    private int runLoad(int seconds, int threads) throws InterruptedException {
        Map<String, String> extra = new HashMap<>();
        extra.put("cluster", "failover");
        extra.put("retries", "2");
        DemoService demo;
        try {
            demo = ref("demo-load", DemoService.class, DEMO, false, extra);
        } catch (Verdict v) {
            Cli.OUT.println("LOAD ok=0 failed=1");
            Cli.OUT.println("LOADERR " + Cli.oneLine(v.getMessage()));
            return 1;
        }
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        Thread[] workers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Thread(
                    () -> {
                        while (System.nanoTime() < deadline) {
                            try {
                                String r = demo.sayHello("load");
                                if ("Hello load".equals(r)) {
                                    ok.incrementAndGet();
                                    continue;
                                }
                                failed.incrementAndGet();
                                if (errors.size() < 5) {
                                    errors.add("unexpected answer " + Sample.show(r));
                                }
                            } catch (Throwable t) {
                                failed.incrementAndGet();
                                if (errors.size() < 5) {
                                    errors.add(describe(t));
                                }
                            }
                        }
                    },
                    "load-" + i);
            workers[i].start();
        }
        for (Thread w : workers) {
            w.join();
        }
        Cli.OUT.println("LOAD ok=" + ok.get() + " failed=" + failed.get());
        int n = 0;
        for (String e : errors) {
            if (n++ == 5) {
                break;
            }
            Cli.OUT.println("LOADERR " + Cli.oneLine(e));
        }
        return failed.get() == 0 ? 0 : 1;
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, Cli.withTls("url", "registry", "cases", "expect-exception", "app", "load-seconds", "threads"));
        if (opts == null) {
            return;
        }
        String url = opts.get("url");
        String registry = opts.get("registry");
        String cases = opts.get("cases");
        String expectException = opts.get("expect-exception");
        String app = opts.getOrDefault("app", "java-consumer");
        int loadSeconds = Cli.intOption(opts, "load-seconds", -1, USAGE);
        int threads = Cli.intOption(opts, "threads", 1, USAGE);
        if ((url == null) == (registry == null)) {
            Cli.usage("give exactly one of --url and --registry\n" + USAGE);
        }
        List<String> names = cases == null ? caseNames() : Arrays.asList(cases.split(","));
        for (String n : names) {
            if (!CASES.containsKey(n)) {
                Cli.usage("unknown case " + n + "\n" + USAGE);
            }
        }

        ApplicationConfig application = Cli.application(app);
        DubboBootstrap bootstrap = DubboBootstrap.getInstance().application(application);
        SslConfig ssl = Cli.ssl(opts, false, USAGE);
        if (ssl != null) {
            bootstrap.ssl(ssl);
        }
        if (registry != null) {
            // Java 3.3's defaults: the consumer subscribes to both the application-level
            // (/services) and the interface-level (/dubbo) addresses and prefers the former
            // (migration step APPLICATION_FIRST). Nothing is forced here.
            bootstrap.registry(new RegistryConfig(registry));
        }
        bootstrap.start();

        JavaConsumer consumer = new JavaConsumer(url, params, expectException);
        int rc = loadSeconds >= 0 ? consumer.runLoad(loadSeconds, Math.max(1, threads)) : (consumer.runCases(names) == 0 ? 0 : 1);
        Cli.OUT.flush();
        System.exit(rc);
    }
}
