package org.dubboc.interop;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.apache.dubbo.common.URL;
import org.apache.dubbo.common.extension.Activate;
import org.apache.dubbo.common.ssl.Cert;
import org.apache.dubbo.common.ssl.CertProvider;
import org.apache.dubbo.common.ssl.ProviderCert;

/**
 * A consumer's TLS without a client certificate, which Dubbo 3.3.6's own configuration cannot
 * express: SSLConfigCertProvider gives a consumer TLS only when dubbo.ssl names a client
 * certificate and key, and dials in plaintext otherwise. This CertProvider (Dubbo's extension
 * point for certificates, registered in META-INF/dubbo/org.apache.dubbo.common.ssl.CertProvider)
 * answers only when the system property PROPERTY names a CA file: TLS that verifies the provider
 * with that CA and offers no certificate of its own, so a provider that requires client
 * certificates refuses the handshake. Used by --tls-anonymous-ca.
 */
@Activate(order = -1000)
public final class AnonymousCaCertProvider implements CertProvider {
    static final String PROPERTY = "dubboc.tls.anonymous-ca";

    @Override
    public boolean isSupport(URL address) {
        return System.getProperty(PROPERTY) != null;
    }

    @Override
    public ProviderCert getProviderConnectionConfig(URL localAddress) {
        return null;
    }

    @Override
    public Cert getConsumerConnectionConfig(URL remoteAddress) {
        try {
            return new Cert(null, null, Files.readAllBytes(Paths.get(System.getProperty(PROPERTY))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
