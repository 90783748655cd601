package org.dubboc.interop;

import com.example.UserService;
import helloworld.Greeter;
import helloworld.HelloReply;
import helloworld.HelloRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.dubbo.common.stream.StreamObserver;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.SslConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.demo.DemoService;
import org.apache.dubbo.rpc.RpcContext;
import org.apache.dubbo.rpc.RpcException;

/**
 * The Triple consumer: runs the Triple cases against one provider (direct tri:// URL or through
 * ZooKeeper) and prints "RESULT <case> PASS|FAIL <detail>" per case; exit 1 when one failed.
 */
public final class TriConsumer {
    private static final String DEFAULT_EXCEPTION = "org.apache.dubbo.demo.DemoException";

    private final String url;
    private final Map<String, String> params;
    private final String expectException;
    private final Map<String, Object> refs = new HashMap<>();

    private TriConsumer(String url, Map<String, String> params, String expectException) {
        this.url = url;
        this.params = params;
        this.expectException = expectException;
    }

    /** A failed case: the detail is printed after FAIL. */
    private static final class Fail extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Fail(String detail) {
            super(detail, null, false, false);
        }
    }

    @FunctionalInterface
    private interface Case {
        /** Returns the PASS detail; throws otherwise. */
        String run(TriConsumer c) throws Throwable;
    }

    private static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        // DemoService: a plain interface, so wrapper mode (hessian2 in TripleRequestWrapper)
        CASES.put("say_hello", c -> expect("Hello java", c.demo().sayHello("java")));
        CASES.put("exception", TriConsumer::exceptionCase);
        CASES.put("attachment", TriConsumer::attachmentCase);
        CASES.put("attachment_forms", TriConsumer::attachmentFormsCase);
        // helloworld.Greeter: generated stubs, protobuf messages as such
        CASES.put("idl_say_hello", c -> expect("Hello java",
                c.greeter().sayHello(HelloRequest.newBuilder().setName("java").build()).getMessage()));
        CASES.put("idl_stream", TriConsumer::streamCase);
        CASES.put("idl_exception", TriConsumer::idlExceptionCase);
        // UserService is not exported by TriProvider: the provider's "no such service" answer
        CASES.put("not_found", TriConsumer::notFoundCase);
    }

    private static final String USAGE = "usage: TriConsumer (--url tri://[::1]:P | --registry zookeeper://127.0.0.1:PORT)"
            + " [--cases a,b,c] [--param k=v]... [--expect-exception CLASS] [--app NAME]\n"
            + "       [--tls-cert PEM --tls-key PEM] [--tls-ca PEM] | [--tls-anonymous-ca PEM]: TLS (dubbo.ssl; see README.md)\n"
            + "cases: " + String.join(",", CASES.keySet());

    /** A reference built once per interface (a failure to build it is remembered too). */
    @SuppressWarnings("unchecked")
    private <T> T ref(Class<T> type) {
        Object r = refs.get(type.getName());
        if (r == null) {
            try {
                ReferenceConfig<T> rc = new ReferenceConfig<>();
                rc.setInterface(type);
                rc.setProtocol("tri");
                if (type == UserService.class) {
                    // not_found: through a registry there is no provider of it at all; the call,
                    // not the reference, is to fail
                    rc.setCheck(false);
                }
                rc.setParameters(new HashMap<>(params));
                if (url != null) {
                    rc.setUrl(url);
                }
                r = rc.get();
            } catch (Throwable t) {
                r = t;
            }
            refs.put(type.getName(), r);
        }
        if (r instanceof Throwable) {
            throw new Fail("no reference to " + type.getName() + ": " + JavaConsumer.describe((Throwable) r));
        }
        return (T) r;
    }

    DemoService demo() {
        return ref(DemoService.class);
    }

    Greeter greeter() {
        return ref(Greeter.class);
    }

    private static String expect(Object want, Object got) {
        return Checks.expect(want, got, Fail::new);
    }

    private static String exceptionCase(TriConsumer c) {
        String want = c.expectException == null ? DEFAULT_EXCEPTION : c.expectException;
        return Checks.failThrows(c.demo(), want, Fail::new);
    }

    private static String attachmentCase(TriConsumer c) {
        DemoService demo = c.demo();
        RpcContext.getClientAttachment().setAttachment("dubbo-c-test", "v1");
        String r = demo.attachment("dubbo-c-test");
        Object back = RpcContext.getClientResponseContext().getObjectAttachment("echo-dubbo-c-test");
        if (!"v1".equals(r)) {
            throw new Fail("attachment(\"dubbo-c-test\") returned " + Sample.show(r) + " instead of \"v1\"");
        }
        if (!"v1".equals(back)) {
            throw new Fail("response attachment echo-dubbo-c-test = " + Sample.show(back) + " instead of \"v1\"; all: "
                    + RpcContext.getClientResponseContext().getObjectAttachments());
        }
        return "attachment=\"v1\" response echo-dubbo-c-test=\"v1\"";
    }

    /**
     * An attachment key with capitals (Triple lower-cases header names and says so in
     * tri-header-convert) plus a byte[] attachment (sent as "<key>-bin", base64): the provider
     * must give the key back as the consumer spelt it.
     */
    private static String attachmentFormsCase(TriConsumer c) {
        DemoService demo = c.demo();
        RpcContext.getClientAttachment().setAttachment("Mixed-Case", "V2");
        RpcContext.getClientAttachment().setObjectAttachment("raw", new byte[] {0, 1, 2, (byte) 0xff});
        String r = demo.attachment("Mixed-Case");
        Object back = RpcContext.getClientResponseContext().getObjectAttachment("echo-Mixed-Case");
        if (!"V2".equals(r)) {
            throw new Fail("attachment(\"Mixed-Case\") returned " + Sample.show(r) + " instead of \"V2\"");
        }
        if (!"V2".equals(back)) {
            throw new Fail("response attachment echo-Mixed-Case = " + Sample.show(back) + " instead of \"V2\"; all: "
                    + RpcContext.getClientResponseContext().getObjectAttachments());
        }
        return "attachment(\"Mixed-Case\")=\"V2\" response echo-Mixed-Case=\"V2\"";
    }

    /** An exception thrown by an IDL method: an RpcException carrying the message "boom". */
    private static String idlExceptionCase(TriConsumer c) {
        HelloReply r;
        try {
            r = c.greeter().sayHello(HelloRequest.newBuilder().setName("boom").build());
        } catch (RpcException e) {
            String seen = "class=" + e.getClass().getName() + " code=" + e.getCode() + " message=" + Cli.oneLine(e.getMessage());
            if (e.getMessage() == null || !e.getMessage().contains("boom")) {
                throw new Fail("expected an RpcException about boom, got " + seen);
            }
            return seen;
        }
        throw new Fail("SayHello(boom) returned " + Sample.show(r.getMessage()) + " instead of failing");
    }

    /**
     * A call to a service the provider does not have fails with an RpcException (direct: the
     * provider's UNIMPLEMENTED answer; through a registry: "No provider available").
     */
    private static String notFoundCase(TriConsumer c) {
        Object r;
        try {
            r = c.ref(UserService.class).sample();
        } catch (RpcException e) {
            return "class=" + e.getClass().getName() + " code=" + e.getCode() + " message=" + Cli.oneLine(e.getMessage());
        }
        throw new Fail("UserService.sample() returned " + Sample.show(r) + " from a provider that does not export it");
    }

    private static String streamCase(TriConsumer c) throws InterruptedException {
        List<String> got = new ArrayList<>();
        Throwable[] error = new Throwable[1];
        CountDownLatch done = new CountDownLatch(1);
        c.greeter().sayHelloStream(HelloRequest.newBuilder().setName("java").build(), new StreamObserver<HelloReply>() {
            @Override
            public void onNext(HelloReply reply) {
                synchronized (got) {
                    got.add(reply.getMessage());
                }
            }

            @Override
            public void onError(Throwable t) {
                error[0] = t;
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        });
        if (!done.await(10, TimeUnit.SECONDS)) {
            synchronized (got) {
                throw new Fail("no end of stream after 10 s; replies so far " + got);
            }
        }
        if (error[0] != null) {
            throw new Fail("onError after " + got + ": " + JavaConsumer.describe(error[0]));
        }
        List<String> want = Arrays.asList("Hello java 0", "Hello java 1", "Hello java 2");
        if (!want.equals(got)) {
            throw new Fail("expected " + want + ", got " + got);
        }
        return "3 replies " + got;
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
        Map<String, String> opts = Cli.options(args, USAGE, params, Cli.withTls("url", "registry", "cases", "expect-exception", "app"));
        if (opts == null) {
            return;
        }
        String url = opts.get("url");
        String registry = opts.get("registry");
        String cases = opts.get("cases");
        String expectException = opts.get("expect-exception");
        String app = opts.getOrDefault("app", "tri-consumer");
        if ((url == null) == (registry == null)) {
            Cli.usage("give exactly one of --url and --registry\n" + USAGE);
        }
        List<String> names = cases == null ? new ArrayList<>(CASES.keySet()) : Arrays.asList(cases.split(","));
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
            bootstrap.registry(new RegistryConfig(registry));
        }
        bootstrap.start();

        int failed = new TriConsumer(url, params, expectException).runCases(names);
        Cli.OUT.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
