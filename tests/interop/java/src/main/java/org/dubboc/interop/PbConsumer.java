package org.dubboc.interop;

import helloworld.Greeter;
import helloworld.HelloReply;
import helloworld.HelloRequest;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.dubbo.common.URL;
import org.apache.dubbo.common.serialize.protobuf.support.ProtobufUtils;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.rpc.Invoker;
import org.apache.dubbo.rpc.Protocol;
import org.apache.dubbo.rpc.RpcContext;
import org.apache.dubbo.rpc.RpcInvocation;
import org.apache.dubbo.rpc.model.ApplicationModel;
import org.apache.dubbo.rpc.model.ModuleModel;

/**
 * The protobuf-serialization consumer (issue 13): calls helloworld.Greeter at a direct
 * dubbo:// URL with serialization=protobuf (Dubbo header id 22) and prints
 * "RESULT <case> PASS|FAIL <detail>" per case, as JavaConsumer does.
 */
public final class PbConsumer {
    private static final String USAGE = "usage: PbConsumer --url dubbo://H:P [--cases a,b] [--param k=v]...\n"
            + "       [--expect-exception CLASS] [--expect-message TEXT] [--app NAME]\n"
            + "  exception: sayHello(\"boom\") must throw CLASS (default java.lang.IllegalStateException)"
            + " whose message contains TEXT (default boom)\n"
            + "cases: say_hello,say_hello_unicode,say_hello_empty,exception,unknown_method,attachments,heartbeat";

    private final String url;
    private final Map<String, String> params;
    private final String expectException;
    private final String expectMessage;
    private final Map<String, Object> refs = new HashMap<>();

    private PbConsumer(String url, Map<String, String> params, String expectException, String expectMessage) {
        this.url = url;
        this.params = params;
        this.expectException = expectException;
        this.expectMessage = expectMessage;
    }

    private static RuntimeException fail(String detail) {
        return new IllegalStateException(detail);
    }

    @FunctionalInterface
    private interface Case {
        String run(PbConsumer c) throws Throwable;
    }

    private static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        CASES.put("say_hello", c -> Checks.expect("Hello world", c.hello(c.greeter(), "world"), PbConsumer::fail));
        CASES.put("say_hello_unicode", c -> Checks.expect(
                "Hello h\u00e9llo \u2713 \uD83D\uDE00", c.hello(c.greeter(), "h\u00e9llo \u2713 \uD83D\uDE00"),
                PbConsumer::fail));
        CASES.put("say_hello_empty", c -> Checks.expect("Hello ", c.hello(c.greeter(), ""), PbConsumer::fail));
        CASES.put("exception", PbConsumer::exceptionCase);
        CASES.put("unknown_method", PbConsumer::unknownMethodCase);
        CASES.put("attachments", PbConsumer::attachmentsCase);
        CASES.put("heartbeat", PbConsumer::heartbeatCase);
    }

    /** A reference built once per key: to `type` at the URL's path (helloworld.Greeter). */
    @SuppressWarnings("unchecked")
    private <T> T ref(String key, Class<T> type, Map<String, String> extra) {
        Object r = refs.get(key);
        if (r == null) {
            try {
                ReferenceConfig<T> rc = new ReferenceConfig<>();
                rc.setInterface(type);
                Map<String, String> p = new HashMap<>(params);
                p.putIfAbsent("serialization", "protobuf");
                p.putAll(extra);
                rc.setParameters(p);
                rc.setUrl(url + "/" + Greeter.JAVA_SERVICE_NAME);
                r = rc.get();
            } catch (Throwable t) {
                r = t;
            }
            refs.put(key, r);
        }
        if (r instanceof Throwable) {
            throw fail("no reference to " + type.getName() + ": " + JavaConsumer.describe((Throwable) r));
        }
        return (T) r;
    }

    Greeter greeter() {
        return ref("greeter", Greeter.class, Map.of());
    }

    String hello(Greeter g, String name) {
        HelloReply r = g.sayHello(HelloRequest.newBuilder().setName(name).build());
        return r == null ? null : r.getMessage();
    }

    private static String exceptionCase(PbConsumer c) {
        HelloReply r;
        try {
            r = c.greeter().sayHello(HelloRequest.newBuilder().setName("boom").build());
        } catch (Throwable t) {
            // the message as Java shows it, less Dubbo's own wrapping (the provider URL, retries)
            String msg = t.getMessage() == null ? "" : t.getMessage();
            int last = msg.lastIndexOf(", cause: ");
            String shown = Cli.oneLine(last >= 0 ? msg.substring(last + 9) : msg);
            String seen = "class=" + t.getClass().getName() + " message=" + shown;
            if (t.getClass().getName().equals(c.expectException) && shown.contains(c.expectMessage)) {
                return seen;
            }
            throw fail("expected class=" + c.expectException + " with \"" + c.expectMessage + "\", got " + seen);
        }
        throw fail("sayHello(\"boom\") returned " + r + " instead of throwing");
    }

    /**
     * A method helloworld.Greeter lacks. The generated stub can only send its own methods, so this
     * goes below it: an invoker of the dubbo protocol (the same codec and serialization) given a
     * hand-made invocation of "SayGoodbye" with a HelloRequest.
     */
    private static String unknownMethodCase(PbConsumer c) throws Throwable {
        Map<String, String> p = new LinkedHashMap<>(c.params);
        p.putIfAbsent("serialization", "protobuf");
        p.put("interface", Greeter.JAVA_SERVICE_NAME);
        p.put("timeout", "3000");
        ModuleModel module = ApplicationModel.defaultModel().getDefaultModule();
        URL u = URL.valueOf(c.url + "/" + Greeter.JAVA_SERVICE_NAME).addParameters(p).setScopeModel(module);
        Protocol dubbo = module.getExtensionLoader(Protocol.class).getExtension("dubbo");
        Invoker<Greeter> invoker = dubbo.refer(Greeter.class, u);
        try {
            RpcInvocation inv = new RpcInvocation("SayGoodbye", Greeter.JAVA_SERVICE_NAME, Greeter.JAVA_SERVICE_NAME,
                    new Class<?>[] {HelloRequest.class}, new Object[] {HelloRequest.newBuilder().setName("world").build()});
            inv.setReturnType(HelloReply.class);
            inv.setInvoker(invoker);
            Object r;
            try {
                r = invoker.invoke(inv).recreate();
            } catch (Throwable t) {
                String text = JavaConsumer.chainText(t).toLowerCase();
                // Java's provider fails to decode it (no such method to take the argument types
                // from): "Fail to decode request due to: RpcInvocation [methodName=SayGoodbye, ...]"
                if (text.contains("saygoodbye") && (text.contains("not found") || text.contains("no such method")
                        || text.contains("nosuchmethod") || text.contains("unimplemented")
                        || text.contains("fail to decode request"))) {
                    return JavaConsumer.describe(t);
                }
                throw fail("not a method-not-found error: " + JavaConsumer.describe(t));
            }
            throw fail("SayGoodbye returned " + r + " instead of failing");
        } finally {
            invoker.destroy();
        }
    }

    private static String attachmentsCase(PbConsumer c) {
        Greeter g = c.greeter();
        RpcContext.getClientAttachment().setAttachment("dubbo-c-test", "v1");
        String r = c.hello(g, "world");
        Object back = RpcContext.getClientResponseContext().getObjectAttachment("echo-dubbo-c-test");
        if (!"Hello world".equals(r)) {
            throw fail("sayHello returned " + Sample.show(r));
        }
        if (!"v1".equals(back)) {
            throw fail("response attachment echo-dubbo-c-test = " + Sample.show(back) + " instead of \"v1\"; all: "
                    + RpcContext.getClientResponseContext().getObjectAttachments());
        }
        return "response echo-dubbo-c-test=\"v1\"";
    }

    /** The provider's view of our address before and after 5 s idle with heartbeat=1000. */
    private static String heartbeatCase(PbConsumer c) throws InterruptedException {
        Map<String, String> extra = new HashMap<>();
        extra.put("heartbeat", "1000");
        extra.put("connections", "1");
        Greeter hb = c.ref("heartbeat", Greeter.class, extra);
        String before = peer(c, hb);
        Thread.sleep(5000);
        String after = peer(c, hb);
        if (before == null || !before.equals(after)) {
            throw fail("peer was " + before + " before 5 s idle and " + after + " after: the connection was not kept");
        }
        return "peer=" + before + " before and after 5 s idle";
    }

    private static String peer(PbConsumer c, Greeter g) {
        RpcContext.getClientAttachment().setAttachment("dubbo-c-peer", "1");
        Checks.expect("Hello hb", c.hello(g, "hb"), PbConsumer::fail);
        Object p = RpcContext.getClientResponseContext().getObjectAttachment("peer");
        return p == null ? null : p.toString();
    }

    private int runCases(List<String> names) {
        int failed = 0;
        for (String name : names) {
            String kind = "PASS";
            String detail;
            try {
                detail = CASES.get(name).run(this);
            } catch (Throwable t) {
                kind = "FAIL";
                detail = t instanceof IllegalStateException && t.getCause() == null
                        ? t.getMessage() : JavaConsumer.describe(t);
                failed++;
            }
            Cli.OUT.println("RESULT " + name + " " + kind + " " + Cli.oneLine(detail));
        }
        return failed;
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, "url", "cases", "expect-exception",
                "expect-message", "app");
        if (opts == null) {
            return;
        }
        String url = opts.get("url");
        if (url == null) {
            Cli.usage("--url is required\n" + USAGE);
        }
        String cases = opts.get("cases");
        List<String> names = cases == null ? List.copyOf(CASES.keySet()) : Arrays.asList(cases.split(","));
        for (String n : names) {
            if (!CASES.containsKey(n)) {
                Cli.usage("unknown case " + n + "\n" + USAGE);
            }
        }
        // Java's protobuf serialization reads and writes only message classes registered first
        ProtobufUtils.marshaller(HelloRequest.getDefaultInstance());
        ProtobufUtils.marshaller(HelloReply.getDefaultInstance());
        DubboBootstrap.getInstance().application(Cli.application(opts.getOrDefault("app", "pb-consumer"))).start();
        PbConsumer consumer = new PbConsumer(url, params,
                opts.getOrDefault("expect-exception", "java.lang.IllegalStateException"),
                opts.getOrDefault("expect-message", "boom"));
        int rc = consumer.runCases(names) == 0 ? 0 : 1;
        Cli.OUT.flush();
        System.exit(rc);
    }
}
