package org.dubboc.interop;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.demo.DemoService;
import sun.misc.Signal;

/**
 * The Triple-REST provider: org.apache.dubbo.demo.DemoService on one "tri" port, which in Dubbo
 * 3.3 also answers HTTP/1.1: the JAX-RS routes of RestDemoService (/demo/...), Triple's default
 * /{interface}/{method} and, over HTTP/2, gRPC-style Triple. Prints "READY <port>", serves until
 * SIGTERM. The wire as it answers is recorded in tests/interop/rest/java-wire.md.
 */
public final class RestProvider {
    private static final String USAGE = "usage: RestProvider [--port P] [--registry zookeeper://127.0.0.1:PORT]"
            + " [--param k=v]... [--app NAME]\n"
            + "  0 or no port: a free port from the kernel";

    private RestProvider() {}

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, "port", "registry", "app");
        if (opts == null) {
            return;
        }
        int port = Cli.intOption(opts, "port", 0, USAGE);
        String registry = opts.get("registry");
        String app = opts.getOrDefault("app", "rest-provider");
        if (port == 0) {
            port = Cli.freePort();
        }

        ApplicationConfig application = Cli.providerApplication(app, params);
        // No host, as in JavaProvider: Dubbo binds 0.0.0.0 whatever 127.x host it is given.
        ProtocolConfig protocol = new ProtocolConfig("tri", port);
        RegistryConfig registryConfig =
                registry == null ? new RegistryConfig(RegistryConfig.NO_AVAILABLE) : new RegistryConfig(registry);

        // Exported as the plain DemoService: the REST mappings come from the implementation's
        // hierarchy (RestDemoService), the service name stays the one every peer uses.
        ServiceConfig<DemoService> demo = new ServiceConfig<>();
        demo.setInterface(DemoService.class);
        demo.setRef(new RestDemoImpl());
        demo.setParameters(new HashMap<>(params));

        DubboBootstrap.getInstance()
                .application(application)
                .registry(registryConfig)
                .protocol(protocol)
                .service(demo)
                .start();

        Signal.handle(new Signal("TERM"), s -> System.exit(0));
        Signal.handle(new Signal("INT"), s -> System.exit(0));

        Cli.OUT.println("READY " + port);
        Cli.OUT.flush();
        new CountDownLatch(1).await();
    }
}
