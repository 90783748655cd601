package org.dubboc.interop;

import helloworld.DubboGreeterTriple;
import helloworld.Greeter;
import helloworld.HelloReply;
import helloworld.HelloRequest;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.common.stream.StreamObserver;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.SslConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.demo.DemoService;
import sun.misc.Signal;

/**
 * The Triple provider: DemoService (a plain Java interface, so Triple's wrapper mode: hessian2
 * inside TripleRequestWrapper/TripleResponseWrapper) and the IDL service helloworld.Greeter
 * (protobuf, stubs generated from src/main/proto/helloworld.proto) on one "tri" port, directly
 * reachable and optionally registered in ZooKeeper. Prints "READY <port>", serves until SIGTERM.
 */
public final class TriProvider {
    private static final String USAGE = "usage: TriProvider [--port P] [--registry zookeeper://127.0.0.1:PORT]"
            + " [--param k=v]... [--app NAME]\n"
            + "  [--tls-cert PEM --tls-key PEM [--tls-ca PEM]]: TLS (dubbo.ssl), --tls-ca: client certificates required\n"
            + "  the port may also come from -Dtri.port=P; 0 or none: a free port from the kernel";

    private TriProvider() {}

    /**
     * helloworld.Greeter: one unary method, one server-streaming method. SayHello with the name
     * "boom" throws IllegalStateException("boom"): an IDL method's error, which travels as a gRPC
     * status, unlike DemoService.fail's exception object (see TRIPLE.md).
     */
    static final class GreeterImpl extends DubboGreeterTriple.GreeterImplBase {
        @Override
        public HelloReply sayHello(HelloRequest request) {
            if ("boom".equals(request.getName())) {
                throw new IllegalStateException("boom");
            }
            return HelloReply.newBuilder().setMessage("Hello " + request.getName()).build();
        }

        @Override
        public void sayHelloStream(HelloRequest request, StreamObserver<HelloReply> responseObserver) {
            for (int i = 0; i < 3; i++) {
                responseObserver.onNext(
                        HelloReply.newBuilder().setMessage("Hello " + request.getName() + " " + i).build());
            }
            responseObserver.onCompleted();
        }
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, Cli.withTls("port", "registry", "app"));
        if (opts == null) {
            return;
        }
        int port = Cli.intOption(opts, "port", Integer.getInteger("tri.port", 0), USAGE);
        String registry = opts.get("registry");
        String app = opts.getOrDefault("app", "tri-provider");
        if (port == 0) {
            port = Cli.freePort();
        }

        ApplicationConfig application = Cli.providerApplication(app, params);

        // No host, as in JavaProvider: Dubbo binds 0.0.0.0 whatever 127.x host it is given.
        ProtocolConfig protocol = new ProtocolConfig("tri", port);
        SslConfig ssl = Cli.ssl(opts, true, USAGE);
        if (ssl != null) {
            protocol.setSslEnabled(true);
        }

        RegistryConfig registryConfig =
                registry == null ? new RegistryConfig(RegistryConfig.NO_AVAILABLE) : new RegistryConfig(registry);

        // The same DemoService implementation as the dubbo-protocol provider.
        ServiceConfig<DemoService> demo = new ServiceConfig<>();
        demo.setInterface(DemoService.class);
        demo.setRef(new JavaProvider.DemoServiceImpl());
        demo.setParameters(new HashMap<>(params));

        ServiceConfig<Greeter> greeter = new ServiceConfig<>();
        greeter.setInterface(Greeter.class);
        greeter.setRef(new GreeterImpl());
        greeter.setParameters(new HashMap<>(params));

        DubboBootstrap bootstrap = DubboBootstrap.getInstance()
                .application(application)
                .registry(registryConfig)
                .protocol(protocol)
                .service(demo)
                .service(greeter);
        if (ssl != null) {
            bootstrap.ssl(ssl);
        }
        bootstrap.start();

        Signal.handle(new Signal("TERM"), s -> System.exit(0));
        Signal.handle(new Signal("INT"), s -> System.exit(0));

        Cli.OUT.println("READY " + port);
        Cli.OUT.flush();
        new CountDownLatch(1).await();
    }
}
