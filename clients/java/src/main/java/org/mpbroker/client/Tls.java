package org.mpbroker.client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** TLS contexts from PEM files, as the broker's and mpcat's options name them. */
public final class Tls {
    private static final Pattern PRIVATE_KEY = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    private static final char[] NO_PASSWORD = new char[0];

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
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("a client certificate needs both certFile and keyFile");
        }
        try {
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(caFile == null ? null : trustStore(caFile));
            KeyManagerFactory keys = null;
            if (certFile != null) {
                keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                keys.init(keyStore(certFile, keyFile), NO_PASSWORD);
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys == null ? null : keys.getKeyManagers(), trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new TlsException("cannot make a TLS context: " + Dialer.describe(e), e);
        }
    }

    private static KeyStore trustStore(Path caFile) throws IOException, GeneralSecurityException {
        KeyStore store = emptyStore();
        int n = 0;
        for (Certificate cert : certificates(caFile)) {
            store.setCertificateEntry("ca" + n++, cert);
        }
        return store;
    }

    private static KeyStore keyStore(Path certFile, Path keyFile) throws IOException, GeneralSecurityException {
        List<Certificate> chain = List.copyOf(certificates(certFile));
        KeyStore store = emptyStore();
        store.setKeyEntry("client", privateKey(keyFile, chain.get(0).getPublicKey().getAlgorithm()), NO_PASSWORD,
                chain.toArray(new Certificate[0]));
        return store;
    }

    private static Collection<? extends Certificate> certificates(Path file)
            throws IOException, GeneralSecurityException {
        Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(file)));
        if (certs.isEmpty()) {
            throw new GeneralSecurityException(file + " holds no PEM certificate");
        }
        return certs;
    }

    private static PrivateKey privateKey(Path file, String algorithm) throws IOException, GeneralSecurityException {
        Matcher m = PRIVATE_KEY.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        if (!m.find()) {
            throw new GeneralSecurityException(file + " holds no PKCS#8 \"BEGIN PRIVATE KEY\" block"
                    + " (convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)");
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(1));
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    private static KeyStore emptyStore() throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        return store;
    }
}
