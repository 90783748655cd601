package org.dubboc.interop;

import helloworld.DubboGreeterTriple;
import helloworld.Greeter;
import helloworld.HelloReply;
import helloworld.HelloRequest;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.common.serialize.protobuf.support.ProtobufUtils;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.rpc.RpcContext;
import org.apache.dubbo.rpc.RpcContextAttachment;
import sun.misc.Signal;

/**
 * The protobuf-serialization provider (issue 13): helloworld.Greeter (src/main/proto/helloworld.proto,
 * the stub protoc's Dubbo plugin generates) exported over the DUBBO protocol with
 * serialization=protobuf (Dubbo header id 22, dubbo-serialization-protobuf 3.2.0). Its methods are
 * the stub's, named as in the .proto ("SayHello"), which is also what Java's generated consumer stub
 * sends; the argument and result are the protobuf-java messages. Prints "READY <port>", serves
 * until SIGTERM.
 */
public final class PbProvider {
    private static final String USAGE = "usage: PbProvider [--port P] [--param k=v]... [--app NAME]\n"
            + "  0 or no port: a free port from the kernel; the params go to the service URL";

    private PbProvider() {}

    /**
     * sayHello: "Hello " + name; "boom" throws IllegalStateException("boom"). The consumer's
     * attachment "dubbo-c-test" comes back as the response attachment "echo-dubbo-c-test", and
     * when it sends "dubbo-c-peer" the response attachment "peer" is the consumer's ip:port as
     * this side sees it (the heartbeat case compares it before and after idling).
     */
    static final class GreeterImpl extends DubboGreeterTriple.GreeterImplBase {
        @Override
        public HelloReply sayHello(HelloRequest request) {
            RpcContextAttachment in = RpcContext.getServerAttachment();
            Object test = in.getObjectAttachment("dubbo-c-test");
            if (test != null) {
                RpcContext.getServerResponseContext().setAttachment("echo-dubbo-c-test", String.valueOf(test));
            }
            if (in.getObjectAttachment("dubbo-c-peer") != null) {
                RpcContext.getServerResponseContext().setAttachment(
                        "peer", Cli.hostPort(RpcContext.getServiceContext().getRemoteAddress()));
            }
            if ("boom".equals(request.getName())) {
                throw new IllegalStateException("boom");
            }
            return HelloReply.newBuilder().setMessage("Hello " + request.getName()).build();
        }
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, "port", "app");
        if (opts == null) {
            return;
        }
        int port = Cli.intOption(opts, "port", 0, USAGE);
        String app = opts.getOrDefault("app", "pb-provider");
        if (port == 0) {
            port = Cli.freePort();
        }
        // Java's protobuf serialization reads and writes only message classes registered first
        ProtobufUtils.marshaller(HelloRequest.getDefaultInstance());
        ProtobufUtils.marshaller(HelloReply.getDefaultInstance());
        ApplicationConfig application = Cli.providerApplication(app, params);
        ProtocolConfig protocol = new ProtocolConfig("dubbo", port);
        protocol.setSerialization("protobuf");

        ServiceConfig<Greeter> greeter = new ServiceConfig<>();
        greeter.setInterface(Greeter.class);
        greeter.setRef(new GreeterImpl());
        Map<String, String> p = new HashMap<>(params);
        p.putIfAbsent("serialization", "protobuf");
        greeter.setParameters(p);

        DubboBootstrap.getInstance()
                .application(application)
                .registry(new RegistryConfig(RegistryConfig.NO_AVAILABLE))
                .protocol(protocol)
                .service(greeter)
                .start();

        Signal.handle(new Signal("TERM"), s -> System.exit(0));
        Signal.handle(new Signal("INT"), s -> System.exit(0));
        Cli.OUT.println("READY " + port);
        Cli.OUT.flush();
        new CountDownLatch(1).await();
    }
}
