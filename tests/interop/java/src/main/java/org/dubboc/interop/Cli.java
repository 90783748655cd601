package org.dubboc.interop;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.SslConfig;

/** What the two programs share: logging set-up, stdout, argument helpers. */
final class Cli {
    private Cli() {}

    /** stdout carries only the protocol lines, always UTF-8 whatever the locale. */
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    /**
     * Call first in main. Dubbo's LoggerFactory finds slf4j by itself (slf4j-simple's
     * StaticLoggerBinder; stderr, WARN, from simplelogger.properties), so nothing of Dubbo's
     * reaches stdout. (Setting -Ddubbo.application.logger would also work but lands as
     * "logger=slf4j" in every registered URL.)
     */
    static void setUpLogging() {
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    }

    static void usage(String text) {
        System.err.println(text);
        System.exit(2);
    }

    /** The value after args[i], or a usage error. */
    static String next(String[] args, int i, String usage) {
        if (i + 1 >= args.length) {
            usage("missing value after " + args[i] + "\n" + usage);
        }
        return args[i + 1];
    }

    /** Adds "k=v" to params, or a usage error. */
    static void param(Map<String, String> params, String kv, String usage) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
            usage("--param wants k=v, got " + kv + "\n" + usage);
        }
        params.put(kv.substring(0, eq), kv.substring(eq + 1));
    }

    static Map<String, String> newParams() {
        return new LinkedHashMap<>();
    }

    /**
     * A free TCP port chosen by the kernel, free on the wildcard address as Dubbo will bind it.
     * (Dubbo's own "any port", port -1, probes upward from 20880, so providers started together
     * tend to pick the same port.)
     */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(0));
            return s.getLocalPort();
        }
    }

    /** ip:port of a socket address, without Dubbo's rewriting of 127.0.0.1 to the host's address. */
    static String hostPort(InetSocketAddress a) {
        if (a == null) {
            return null;
        }
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return host + ":" + a.getPort();
    }

    /** One line: newlines and tabs become spaces, long texts are cut. */
    static String oneLine(String s) {
        if (s == null) {
            return "null";
        }
        String t = s.replaceAll("[\\r\\n\\t]+", " ").trim();
        return t.length() > 500 ? t.substring(0, 500) + "..." : t;
    }

    /**
     * Parses "--name value" options, each name one of `names` (given without the dashes; the last
     * one given wins), "--param k=v" (repeatable, into params) and -h/--help. Returns the values
     * by name, or null after printing the usage for -h. An unknown argument or a missing value is
     * a usage error.
     */
    static Map<String, String> options(String[] args, String usage, Map<String, String> params, String... names) {
        List<String> known = Arrays.asList(names);
        Map<String, String> values = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                OUT.println(usage);
                return null;
            } else if (a.equals("--param")) {
                param(params, next(args, i++, usage), usage);
            } else if (a.startsWith("--") && known.contains(a.substring(2))) {
                values.put(a.substring(2), next(args, i++, usage));
            } else {
                usage("unknown argument " + a + "\n" + usage);
            }
        }
        return values;
    }

    /** An int option's value, or dflt when it was not given; a usage error when not a number. */
    static int intOption(Map<String, String> values, String name, int dflt, String usage) {
        String v = values.get(name);
        try {
            return v == null ? dflt : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            usage("--" + name + " wants a number, got " + v + "\n" + usage);
            return dflt;
        }
    }

    /**
     * The application of a peer process. QoS (telnet/HTTP admin) listens on 22222 by default:
     * every second process started on the machine would fail to bind it (and log errors), so it
     * is off.
     */
    static ApplicationConfig application(String name) {
        ApplicationConfig application = new ApplicationConfig(name);
        application.setQosEnable(false);
        return application;
    }

    /**
     * A provider's application: as application(), and a "register-mode" param moves from the
     * service parameters to it (Dubbo reads it from the application/registry config, never from
     * a service URL).
     */
    static ApplicationConfig providerApplication(String name, Map<String, String> params) {
        ApplicationConfig application = application(name);
        String registerMode = params.remove("register-mode");
        if (registerMode != null) {
            application.setRegisterMode(registerMode);
        }
        return application;
    }

    /**
     * The TLS options of every program that takes them: --tls-cert, --tls-key (PEM chain and its
     * PKCS#8 key), --tls-ca (the CA that verifies the peer) and, for consumers only,
     * --tls-anonymous-ca (see AnonymousCaCertProvider).
     */
    static String[] withTls(String... names) {
        String[] all = Arrays.copyOf(names, names.length + 4);
        all[names.length] = "tls-cert";
        all[names.length + 1] = "tls-key";
        all[names.length + 2] = "tls-ca";
        all[names.length + 3] = "tls-anonymous-ca";
        return all;
    }

    /** Netty's system property for the default endpoint identification of client engines. */
    static final String NETTY_ENDPOINT_CHECK = "io.netty.handler.ssl.defaultEndpointVerificationAlgorithm";

    /**
     * Dubbo's own TLS configuration (SslConfig, the "dubbo.ssl" prefix) from the --tls-* options,
     * or null when none was given. A provider's are the server-* keys
     * (dubbo.ssl.server-key-cert-chain-path, server-private-key-path,
     * server-trust-cert-collection-path: with the last, client certificates are required), a
     * consumer's the client-* keys. Dubbo 3.3.6 reads them through SSLConfigCertProvider, for the
     * dubbo protocol (NettyServer/NettyClient) and Triple alike. A consumer's SslConfig without a
     * client certificate and key is no TLS at all: Java then dials in plaintext.
     */
    static SslConfig ssl(Map<String, String> opts, boolean server, String usage) {
        String cert = opts.get("tls-cert");
        String key = opts.get("tls-key");
        String ca = opts.get("tls-ca");
        String anonymous = opts.get("tls-anonymous-ca");
        if (!server && (anonymous != null || cert != null || key != null || ca != null)) {
            // Netty 4.2 (4.2.2 here) checks the server's name by default, and Dubbo 3.3.6 makes
            // its client engines without the peer's host (SslClientTlsHandler: newEngine(alloc)),
            // so every TLS connection of a Java consumer fails with "Hostname or IP address is
            // undefined". Netty's switch back to 4.1's default (no name check; the chain is still
            // verified against the CA). Set before Netty's SslUtils loads.
            if (System.getProperty(NETTY_ENDPOINT_CHECK) == null) {
                System.setProperty(NETTY_ENDPOINT_CHECK, "NONE");
            }
        }
        if (anonymous != null) {
            if (server || cert != null || key != null || ca != null) {
                usage("--tls-anonymous-ca is for a consumer, alone\n" + usage);
            }
            System.setProperty(AnonymousCaCertProvider.PROPERTY, anonymous);
            return null;
        }
        if (cert == null && key == null && ca == null) {
            return null;
        }
        if ((cert == null) != (key == null)) {
            usage("--tls-cert and --tls-key go together\n" + usage);
        }
        SslConfig ssl = new SslConfig();
        if (server) {
            ssl.setServerKeyCertChainPath(cert);
            ssl.setServerPrivateKeyPath(key);
            ssl.setServerTrustCertCollectionPath(ca);
        } else {
            ssl.setClientKeyCertChainPath(cert);
            ssl.setClientPrivateKeyPath(key);
            ssl.setClientTrustCertCollectionPath(ca);
        }
        return ssl;
    }
}
