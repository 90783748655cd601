package org.dubboc.interop;

import com.example.User;
import com.example.UserService;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.SslConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.demo.DemoException;
import org.apache.dubbo.demo.DemoService;
import org.apache.dubbo.rpc.RpcContext;
import sun.misc.Signal;

/**
 * The provider program of PEERS.md: serves DemoService and UserService over the dubbo protocol
 * (hessian2), optionally registered in ZooKeeper, prints "READY <port>" and serves until SIGTERM.
 */
public final class JavaProvider {
    private static final String USAGE = "usage: JavaProvider [--port P] [--registry zookeeper://127.0.0.1:PORT]"
            + " [--param k=v]... [--app NAME]\n"
            + "  [--tls-cert PEM --tls-key PEM [--tls-ca PEM]]: TLS (dubbo.ssl), --tls-ca: client certificates required\n"
            + "  --param register-mode=interface|instance|all goes to the application (where Dubbo reads it)";

    private JavaProvider() {}

    /** DemoService as the contract describes it. */
    static final class DemoServiceImpl implements DemoService {
        @Override
        public String sayHello(String name) {
            return "Hello " + name;
        }

        @Override
        public Object echo(Object v) {
            return v;
        }

        @Override
        public String whoami() {
            // Java Dubbo's notion of "my address": ContextFilter sets the service context's local
            // address from the exported URL (the registered host:port), not from the connection,
            // so a consumer that dialled 127.0.0.1 still reads the host's address here.
            return RpcContext.getServiceContext().getLocalAddressString();
        }

        @Override
        public void sleep(int ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public String fail(String msg) {
            throw new DemoException(msg);
        }

        @Override
        public String attachment(String key) {
            Object v = RpcContext.getServerAttachment().getObjectAttachment(key);
            String value = v == null ? null : v.toString();
            if (value != null) {
                // 3.x: what a provider puts in the server response context travels back as
                // the response's attachments (ContextFilter#onResponse).
                RpcContext.getServerResponseContext().setAttachment("echo-" + key, value);
            }
            return value;
        }

        @Override
        public String peer() {
            // The connection's remote address, as is: getRemoteAddressString() would rewrite a
            // 127.x consumer address to the host's address (NetUtils.filterLocalHost).
            return Cli.hostPort(RpcContext.getServiceContext().getRemoteAddress());
        }
    }

    /** UserService: echo, the canonical sample, and a field-by-field check against it. */
    static final class UserServiceImpl implements UserService {
        @Override
        public User echo(User u) {
            return u;
        }

        @Override
        public User sample() {
            return Sample.user();
        }

        @Override
        public String check(User u) {
            String d = Sample.diff("", Sample.user(), u);
            return d == null ? "ok" : d;
        }
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        Map<String, String> params = Cli.newParams();
        Map<String, String> opts = Cli.options(args, USAGE, params, Cli.withTls("port", "registry", "app"));
        if (opts == null) {
            return;
        }
        int port = Cli.intOption(opts, "port", 0, USAGE);
        String registry = opts.get("registry");
        String app = opts.getOrDefault("app", "java-provider");
        if (port == 0) {
            port = Cli.freePort();
        }

        ApplicationConfig application = Cli.providerApplication(app, params);

        // No host: Dubbo 3.3 takes any 127.x host as "not set" (NetUtils.isInvalidLocalHost), binds
        // 0.0.0.0 and registers the host's first non-loopback address; there is no way to make
        // it bind 127.0.0.1 only. See README.md.
        ProtocolConfig protocol = new ProtocolConfig("dubbo", port);
        SslConfig ssl = Cli.ssl(opts, true, USAGE);
        if (ssl != null) {
            protocol.setSslEnabled(true);
        }

        RegistryConfig registryConfig =
                registry == null ? new RegistryConfig(RegistryConfig.NO_AVAILABLE) : new RegistryConfig(registry);

        ServiceConfig<DemoService> demo = new ServiceConfig<>();
        demo.setInterface(DemoService.class);
        demo.setRef(new DemoServiceImpl());
        demo.setParameters(new HashMap<>(params));

        ServiceConfig<UserService> user = new ServiceConfig<>();
        user.setInterface(UserService.class);
        user.setRef(new UserServiceImpl());
        user.setParameters(new HashMap<>(params));

        DubboBootstrap bootstrap = DubboBootstrap.getInstance()
                .application(application)
                .registry(registryConfig)
                .protocol(protocol)
                .service(demo)
                .service(user);
        if (ssl != null) {
            bootstrap.ssl(ssl);
        }
        // start() waits until both services are exported and, with a registry, registered
        // (interface nodes and, in the default register mode, the application instance).
        bootstrap.start();

        // SIGTERM/SIGINT: System.exit(0) runs Dubbo's own shutdown hook (unregister, readonly
        // event to consumers, drain, close) and the JVM then exits 0 rather than 143.
        Signal.handle(new Signal("TERM"), s -> System.exit(0));
        Signal.handle(new Signal("INT"), s -> System.exit(0));

        Cli.OUT.println("READY " + port);
        Cli.OUT.flush();
        new CountDownLatch(1).await();
    }
}
