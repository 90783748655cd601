// Writes, with Java Dubbo 3.3.6's own Dubbo codec (DubboCountCodec) and the
// protobuf serialization of dubbo-serialization-protobuf 3.2.0, the frames
// tests/unit/protobuf_serialization_test.c compares against, as hex lines
// (regenerate.sh runs it). With "decode FILE..." it instead decodes frames
// (hex, one per file: what our C encoder wrote) with the same codec and
// prints what Java understood, one line per frame.
import helloworld.Helloworld.HelloReply;
import helloworld.Helloworld.HelloRequest;

import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.apache.dubbo.common.URL;
import org.apache.dubbo.remoting.Channel;
import org.apache.dubbo.remoting.buffer.ChannelBuffer;
import org.apache.dubbo.remoting.buffer.ChannelBuffers;
import org.apache.dubbo.remoting.exchange.Request;
import org.apache.dubbo.remoting.exchange.Response;
import org.apache.dubbo.rpc.AppResponse;
import org.apache.dubbo.rpc.RpcInvocation;
import org.apache.dubbo.rpc.model.FrameworkModel;
import org.apache.dubbo.rpc.protocol.dubbo.DubboCountCodec;

public class Record {
    // -Dserialization=protobuf-json records the JSON form (id 21) instead
    static final URL URL_ = URL.valueOf("dubbo://127.0.0.1:20880/helloworld.Greeter?serialization="
            + System.getProperty("serialization", "protobuf") + "&decode.in.io=true");
    static final Map<String, Object> attrs = new HashMap<>();

    static Channel channel() {
        return (Channel) Proxy.newProxyInstance(Record.class.getClassLoader(),
                new Class<?>[] {Channel.class}, (p, m, a) -> {
                    switch (m.getName()) {
                        case "getUrl": return URL_;
                        case "getAttribute": return attrs.get((String) a[0]);
                        case "setAttribute": attrs.put((String) a[0], a[1]); return null;
                        case "hasAttribute": return attrs.containsKey((String) a[0]);
                        case "isConnected": return true;
                        case "toString": return "recorder";
                        case "hashCode": return 1;
                        case "equals": return p == a[0];
                        default: return null;
                    }
                });
    }

    static String hex(ChannelBuffer b) {
        StringBuilder s = new StringBuilder();
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        for (byte x : bytes) s.append(String.format("%02x", x));
        return s.toString();
    }

    static void emit(DubboCountCodec codec, Channel ch, String name, Object msg) throws Exception {
        ChannelBuffer b = ChannelBuffers.dynamicBuffer(256);
        codec.encode(ch, b, msg);
        System.out.println(name + " " + hex(b));
    }

    public static void main(String[] args) throws Exception {
        DubboCountCodec codec = new DubboCountCodec(FrameworkModel.defaultModel());
        Channel ch = channel();
        if (args.length > 0 && args[0].equals("decode")) {
            // a pending call 7 (SayHello, answered by HelloReply) for the
            // answers to match; a request is only decoded for an exported
            // service, which this codec-only recorder has not
            RpcInvocation pending = new RpcInvocation("SayHello", "helloworld.Greeter",
                    "helloworld.Greeter", new Class<?>[] {HelloRequest.class}, new Object[1]);
            pending.setReturnType(HelloReply.class);
            pending.setReturnTypes(new java.lang.reflect.Type[] {HelloReply.class, HelloReply.class});
            Request call = new Request(7);
            call.setData(pending);
            org.apache.dubbo.remoting.exchange.support.DefaultFuture.newFuture(ch, call, 60000, null);
            for (int i = 1; i < args.length; i++) {
                String h = Files.readString(Path.of(args[i])).trim();
                byte[] bytes = new byte[h.length() / 2];
                for (int k = 0; k < bytes.length; k++)
                    bytes[k] = (byte) Integer.parseInt(h.substring(2 * k, 2 * k + 2), 16);
                Object m = codec.decode(ch, ChannelBuffers.wrappedBuffer(bytes));
                if (m instanceof org.apache.dubbo.remoting.exchange.support.MultiMessage mm)
                    m = mm.iterator().next();
                System.out.println(args[i] + " " + describe(m));
            }
            return;
        }
        // a two-way request: SayHello(HelloRequest{name="world"})
        RpcInvocation inv = new RpcInvocation("SayHello", "helloworld.Greeter", "helloworld.Greeter",
                new Class<?>[] {HelloRequest.class},
                new Object[] {HelloRequest.newBuilder().setName("world").build()});
        inv.setAttachment("path", "helloworld.Greeter");
        inv.setAttachment("interface", "helloworld.Greeter");
        inv.setAttachment("dubbo", "2.0.2");
        // Java's protobuf output cannot write a null string: without a
        // version the request fails (NullPointerException in writeUTF)
        inv.setAttachment("version", "1.0.0");
        inv.setAttachment("timeout", "3000");
        Request req = new Request(7);
        req.setVersion("2.0.2");
        req.setTwoWay(true);
        req.setData(inv);
        emit(codec, ch, "request", req);
        if (URL_.getParameter("serialization").equals("protobuf-json")) {
            // what JsonFormat escapes in a string (Gson's HTML-safe set) and
            // what it leaves as UTF-8
            RpcInvocation esc = new RpcInvocation("SayHello", "helloworld.Greeter",
                    "helloworld.Greeter", new Class<?>[] {HelloRequest.class}, new Object[] {
                            HelloRequest.newBuilder().setName("a<b>&'=\"\\\n\t\u0001\u007f\u00e9\u2028\ud83d\ude00/").build()});
            esc.setAttachment("path", "helloworld.Greeter");
            esc.setAttachment("version", "1.0.0");
            Request er = new Request(11);
            er.setVersion("2.0.2");
            er.setTwoWay(true);
            er.setData(esc);
            emit(codec, ch, "request-escapes", er);
        }

        // its answer, with response attachments (the request was 2.0.2)
        Response res = new Response(7, "2.0.2");
        res.setResult(new AppResponse(HelloReply.newBuilder().setMessage("Hello world").build()));
        emit(codec, ch, "response", res);

        // an exception: class, message, one stack frame and a cause
        RuntimeException cause = new IllegalArgumentException("bad name");
        cause.setStackTrace(new StackTraceElement[0]);
        IllegalStateException boom = new IllegalStateException("boom", cause);
        boom.setStackTrace(new StackTraceElement[] {
                new StackTraceElement("demo.Greeter", "sayHello", "Greeter.java", 42)});
        Response exc = new Response(8, "2.0.2");
        exc.setResult(new AppResponse(boom));
        emit(codec, ch, "exception", exc);

        // a status other than OK: the message alone
        Response bad = new Response(9, "2.0.2");
        bad.setStatus(Response.SERVICE_NOT_FOUND);
        bad.setErrorMessage("no provider for helloworld.Greeter");
        emit(codec, ch, "error", bad);

        // a heartbeat and its answer
        Request hb = new Request(10);
        hb.setVersion("2.0.2");
        hb.setTwoWay(true);
        hb.setEvent(true); // the heartbeat event: null data
        emit(codec, ch, "heartbeat", hb);
        Response hbr = new Response(10, "2.0.2");
        hbr.setEvent(true);
        hbr.setResult(null);
        emit(codec, ch, "heartbeat-response", hbr);
    }

    static String describe(Object m) {
        if (m instanceof Request r) {
            if (r.isEvent()) return "event " + r.getData() + " heartbeat=" + r.isHeartbeat();
            if (r.getData() instanceof RpcInvocation i) {
                StringBuilder s = new StringBuilder("request " + i.getMethodName() + " desc="
                        + i.getParameterTypesDesc());
                for (Object a : i.getArguments() == null ? new Object[0] : i.getArguments())
                    s.append(" arg=").append(a.getClass().getName()).append("{")
                            .append(a.toString().trim().replace('\n', ' ')).append("}");
                s.append(" attachments=").append(new java.util.TreeMap<>(i.getObjectAttachments()));
                return s.toString();
            }
            return "request? " + r.getData();
        }
        if (m instanceof Response r) {
            if (r.isEvent()) return "event-response " + r.getResult();
            if (r.getStatus() != Response.OK) return "status " + r.getStatus() + " " + r.getErrorMessage();
            Object v = r.getResult();
            if (v instanceof org.apache.dubbo.remoting.Decodeable d) {
                try {
                    d.decode();
                } catch (Exception e) {
                    return "undecodable " + e;
                }
            }
            if (v instanceof AppResponse a) {
                if (a.hasException())
                    return "exception " + a.getException().getClass().getName() + ": "
                            + a.getException().getMessage();
                return "value " + a.getValue() + " attachments="
                        + new java.util.TreeMap<>(a.getObjectAttachments());
            }
            return "response " + v;
        }
        return "? " + m;
    }
}
