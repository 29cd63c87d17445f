package org.mpbroker.client;

import java.nio.file.Path;
import javax.net.ssl.SSLContext;

/** TLS contexts from PEM files, as the broker's and mpcat's options name them. */
public final class Tls {
    private Tls() {
    }

    /**
     * A TLS context that trusts the CA certificates of {@code caFile} and,
     * when {@code certFile} and {@code keyFile} are given, presents that
     * client certificate.
     *
     * @param caFile PEM file of the CA certificates to trust, or
     *        {@code null} for the JDK's default trust store
     * @param certFile PEM file of the client certificate (and its chain),
     *        or {@code null}
     * @param keyFile PEM file of its private key, PKCS#8
     *        ({@code BEGIN PRIVATE KEY}; {@code openssl pkcs8 -topk8
     *        -nocrypt} converts others), or {@code null}
     * @return the context
     * @throws TlsException when a file cannot be read or parsed
     */
    public static SSLContext context(Path caFile, Path certFile, Path keyFile) {
        throw new UnsupportedOperationException("not yet");
    }
}
