package org.mpbroker.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * TLS listeners of the real broker: the CA and the host name are checked,
 * a client certificate is presented when the listener requires one, and
 * every failure is a {@link TlsException} that says what to check.
 */
class TlsTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    private static String tlsGroup(String verify) {
        return "tls = { cert = \"@DIR@/server.pem\"; key = \"@DIR@/server.key\"; ca = \"@DIR@/ca.pem\";"
                + " verify_client = \"" + verify + "\"; };";
    }

    /** Listener 0: TLS, client certificate optional; 1: required; 2: plain binary. */
    private static final String BODY = TestBroker.ALLOW_ALL + "listeners = (\n"
            + "  { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; " + tlsGroup("optional") + " },\n"
            + "  { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; " + tlsGroup("required") + " },\n"
            + "  { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n";

    private static MpClient.Builder client(String address, String name, SSLContext context) {
        return MpClient.builder(address, name, "pw").sslContext(context).connectTimeout(TestEnv.t(10));
    }

    @Test
    void everyTlsCase() {
        TestBroker broker = brokers.start(BODY, TestBroker::makeCerts);
        List<BrokerListener> tls = broker.listeners().stream().filter(l -> l.scheme().equals("tls")).toList();
        assertEquals(2, tls.size(), broker.listeners().toString());
        String optional = tls.get(0).label();
        String required = tls.get(1).label();
        String plain = broker.address("binary", "tcp");
        SSLContext trusting = Tls.context(broker.path("ca.pem"), null, null);
        SSLContext withCert = Tls.context(broker.path("ca.pem"), broker.path("alice.pem"), broker.pkcs8Key("alice"));
        SSLContext rogue = Tls.context(broker.path("rogue-ca.pem"), null, null);

        try (MpClient server = client(optional, "server", trusting).handler("echo", ClientTest::echo).connect();
             MpClient alice = client(required, "alice", withCert).format(Format.JSON).connect();
             MpClient bob = MpClient.connect(plain, "bob", "pw")) {
            for (MpClient c : List.of(alice, bob)) {
                Connection conn = c.open("server", "echo", TestEnv.t(5));
                conn.send("over tls".getBytes(UTF_8));
                assertEquals("over tls", new String(conn.receive(TestEnv.t(5)), UTF_8));
                conn.close();
            }
        }

        TlsException untrusted = assertThrows(TlsException.class,
                () -> client(optional, "carol", rogue).connect());
        assertTrue(untrusted.getMessage().contains("CA"), untrusted.getMessage());
        // The certificate names localhost and 127.0.0.1, not this name.
        assertThrows(TlsException.class,
                () -> client(optional, "carol", trusting).serverHostname("elsewhere.example").connect());
        // The listener requires a client certificate: refused in the
        // handshake (TLS 1.3 may report it on the first read instead).
        MpException noCert = assertThrows(MpException.class, () -> client(required, "carol", trusting).connect());
        assertTrue(noCert instanceof TlsException || noCert instanceof ConnectFailedException, noCert.toString());
        // A plain client on a TLS port, a TLS client on a plain one.
        assertThrows(ConnectFailedException.class, () -> client(optional.replace("tls:", "tcp:"), "carol", null)
                .connectTimeout(TestEnv.t(2)).connect());
        assertThrows(TlsException.class, () -> client(plain.replace("tcp:", "tls:"), "carol", trusting).connect());
        assertThrows(IllegalArgumentException.class,
                () -> Tls.context(broker.path("ca.pem"), broker.path("alice.pem"), null));
        // make-certs.sh's keys are PKCS#8 already; an "EC PRIVATE KEY" is not.
        broker.writeFile("sec1.key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        TlsException pkcs1 = assertThrows(TlsException.class,
                () -> Tls.context(null, broker.path("alice.pem"), broker.path("sec1.key")));
        assertTrue(pkcs1.getMessage().contains("pkcs8") || pkcs1.getMessage().contains("PRIVATE KEY"),
                pkcs1.getMessage());
    }
}
