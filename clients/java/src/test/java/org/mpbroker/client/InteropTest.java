package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java client with the C ones (mpcat, on libmpclient, and the echo
 * examples) and with the Python client, through a real broker: each way
 * round, in both wire formats, over TCP and the Unix socket (the auto
 * listener), and once over TLS.
 */
class InteropTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    /**
     * How each side reaches the broker: the Java client in one format, its
     * peer (C or Python) in the same or the other, both over TCP or both
     * over the Unix socket. Formats are crossed in half the cases, so that
     * the broker translates between them.
     */
    record Case(String javaFormat, String peerFormat, String transport) {
        @Override
        public String toString() {
            return "java_" + javaFormat + "-peer_" + peerFormat + "-" + transport;
        }

        Format format() {
            return Format.of(javaFormat);
        }

        /** The broker listener for a side speaking {@code fmt}. */
        String address(TestBroker broker, String fmt) {
            return transport.equals("unix") ? broker.address("auto", "unix") : broker.address(fmt);
        }

        String javaAddress(TestBroker broker) {
            return address(broker, javaFormat);
        }

        String peerAddress(TestBroker broker) {
            return address(broker, peerFormat);
        }
    }

    static Stream<Case> cases() {
        return Stream.of(new Case("binary", "binary", "tcp"), new Case("json", "json", "tcp"),
                new Case("binary", "json", "unix"), new Case("json", "binary", "unix"));
    }

    private static final byte[][] MESSAGES = {
        utf8("hello"), {'w', 0, 'i', 't', 'h', (byte) 0xff, ' ', 'b', 'y', 't', 'e', 's'},
        new byte[0], utf8("x".repeat(100_000)),
    };

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Duration t(double seconds) {
        return TestEnv.t(seconds);
    }

    private static MpClient.Builder java(String address, String name, Format format) {
        return MpClient.builder(address, name, "x").format(format).connectTimeout(t(10));
    }

    /** Each of {@link #MESSAGES} sent on {@code conn} comes back unchanged. */
    private static void roundTrips(Connection conn) {
        for (byte[] msg : MESSAGES) {
            conn.send(msg, t(5));
            assertArrayEquals(msg, conn.receive(t(5)), "the echo of " + msg.length + " bytes");
        }
    }

    private static String need(String path) {
        assertTrue(Files.isExecutable(Paths.get(path)), path + " is not built (make at the top, or set MP_BUILD_DIR)");
        return path;
    }

    private static String mpcat() {
        return need(TestEnv.mpcat());
    }

    private static String example(String name) {
        return need(Paths.get(TestEnv.examplesDir(), name).toString());
    }

    // -- mpcat ---------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void javaOpensToMpcat(Case c) {
        TestBroker broker = brokers.start();
        try (ChildProcess cat = ChildProcess.start(List.of(mpcat(), "-a", c.peerAddress(broker),
                "-f", c.peerFormat(), "-n", "srv", "-s", "x", "-v", "-e", "listen", "echo"))) {
            cat.waitErr("logged in at", t(5));
            try (MpClient client = java(c.javaAddress(broker), "cli", c.format()).connect()) {
                Connection conn = client.open("srv", "echo", t(5));
                assertTrue(conn.isInitiator());
                assertEquals("srv", conn.peer());
                roundTrips(conn);
                assertThrows(UnknownProtocolException.class, () -> client.open("srv", "other", t(5)));
                conn.close();
            }
            assertEquals(0, cat.stop(), cat.describe());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void mpcatOpensToJava(Case c) throws InterruptedException {
        TestBroker broker = brokers.start();
        BlockingQueue<List<String>> served = new ArrayBlockingQueue<>(1);
        ConnectionHandler upper = conn -> {
            List<String> got = new ArrayList<>();
            for (byte[] msg : conn) {
                got.add(text(msg));
                conn.send(utf8(text(msg).toUpperCase(Locale.ROOT)));
                if (text(msg).equals("quit")) {
                    conn.close(); // mpcat exits once the peer closes
                    break;
                }
            }
            served.add(got);
        };
        try (MpClient server = java(c.javaAddress(broker), "srv", c.format())
                .handler("upper", upper).connect()) {
            assertEquals("srv", server.name());
            try (ChildProcess cat = ChildProcess.start(List.of(mpcat(), "-a", c.peerAddress(broker),
                    "-f", c.peerFormat(), "-n", "cli", "-s", "x", "-w", "10",
                    "connect", "srv", "upper"), Map.of(), true)) {
                cat.write("hello\nworld <&>\nquit\n");
                cat.closeInput();
                assertEquals(0, cat.waitExit(t(15)), cat.describe());
                assertEquals("HELLO\nWORLD <&>\nQUIT", cat.stdout());
            }
            assertEquals(List.of("hello", "world <&>", "quit"),
                    served.poll(t(5).toMillis(), TimeUnit.MILLISECONDS));
            // No handler for the protocol: mpcat's exit status 4.
            try (ChildProcess cat = ChildProcess.start(List.of(mpcat(), "-a", c.peerAddress(broker),
                    "-f", c.peerFormat(), "-n", "cli", "-s", "x", "connect", "srv", "nothing"))) {
                assertEquals(4, cat.waitExit(t(10)), cat.describe());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void mpcatRequestsJava(Case c) {
        TestBroker broker = brokers.start();
        try (MpClient server = java(c.javaAddress(broker), "srv", c.format())
                .requestHandler("upper", req -> utf8(text(req).toUpperCase(Locale.ROOT)))
                .connect();
             ChildProcess cat = ChildProcess.start(List.of(mpcat(), "-a", c.peerAddress(broker),
                     "-f", c.peerFormat(), "-n", "cli", "-s", "x", "-w", "10",
                     "request", "srv", "upper", "mpcat asks"))) {
            assertEquals("srv", server.name());
            assertEquals(0, cat.waitExit(t(15)), cat.describe());
            assertEquals("MPCAT ASKS", cat.stdout());
        }
    }

    // -- the echo examples ----------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void javaOpensToEchoServer(Case c) {
        TestBroker broker = brokers.start();
        try (ChildProcess server = ChildProcess.start(List.of(example("echo_server"),
                "-a", c.peerAddress(broker), "-f", c.peerFormat(), "-n", "echo", "-s", "x"))) {
            server.waitOut("waiting for echo connections", t(5));
            try (MpClient client = java(c.javaAddress(broker), "cli", c.format()).connect()) {
                Connection conn = client.open("echo", "echo", t(5));
                roundTrips(conn);
                conn.close();
            }
            server.waitOut("cli closed", t(5));
            assertEquals(0, server.stop(), server.describe());
            assertTrue(server.stdout().contains("echo 'hello' back to cli"), server.describe());
            assertTrue(server.stdout().contains("echo 'w\\x00ith"), server.describe());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void echoClientOpensToJava(Case c) {
        TestBroker broker = brokers.start();
        try (MpClient server = java(c.javaAddress(broker), "srv", c.format())
                .handler("echo", ClientTest::echo).connect();
             ChildProcess client = ChildProcess.start(List.of(example("echo_client"),
                     "-a", c.peerAddress(broker), "-f", c.peerFormat(), "-n", "cli", "-s", "x",
                     "-p", "srv", "one", "two\tthree"))) {
            assertEquals("srv", server.name());
            assertEquals(0, client.waitExit(t(15)), client.describe());
            String out = client.stdout();
            assertTrue(out.contains("opened echo connection"), client.describe());
            assertTrue(out.contains("got 'one' back from srv"), client.describe());
            assertTrue(out.contains("got 'two\\x09three' back from srv"), client.describe());
        }
    }

    // -- the Python client ----------------------------------------------------

    /** interop_peer.py (src/test/python) on this tree's Python client. */
    private static ChildProcess python(String... args) {
        Path peer = TestEnv.clientDir().resolve("src/test/python/interop_peer.py");
        List<String> argv = new ArrayList<>(List.of(TestEnv.python(), peer.toString()));
        argv.addAll(Arrays.asList(args));
        return ChildProcess.start(argv, Map.of("PYTHONPATH", TestEnv.pythonClient().toString(),
                "PYTHONDONTWRITEBYTECODE", "1"), true);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void javaOpensToAndRequestsPython(Case c) {
        TestBroker broker = brokers.start();
        try (ChildProcess py = python("serve", c.peerAddress(broker), c.peerFormat(), "pysrv")) {
            py.waitOut("ready", t(15));
            try (MpClient client = java(c.javaAddress(broker), "cli", c.format()).connect()) {
                Connection conn = client.open("pysrv", "echo", t(5));
                roundTrips(conn);
                conn.close();
                byte[] reply = client.request("pysrv", "upper", utf8("java asks"), t(5));
                assertEquals("JAVA ASKS", text(reply));
                assertThrows(UnknownProtocolException.class,
                        () -> client.request("pysrv", "nothing", utf8("?"), t(5)));
            }
            py.closeInput();
            assertEquals(0, py.waitExit(t(10)), py.describe());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void pythonOpensToAndRequestsJava(Case c) {
        TestBroker broker = brokers.start();
        try (MpClient server = java(c.javaAddress(broker), "jsrv", c.format())
                .handler("echo", ClientTest::echo)
                .requestHandler("upper", req -> utf8(text(req).toUpperCase(Locale.ROOT)))
                .connect();
             ChildProcess py = python("ask", c.peerAddress(broker), c.peerFormat(), "pycli", "jsrv")) {
            assertEquals("jsrv", server.name());
            assertEquals(0, py.waitExit(t(20)), py.describe());
            assertEquals(List.of("echo: b'from python \\x00\\xff'", "reply: PYTHON ASKS"),
                    Arrays.asList(py.stdout().split("\n")), py.describe());
        }
    }

    // -- TLS -----------------------------------------------------------------

    /** A TLS listener that wants a client certificate, and a plain one. */
    private static final String TLS_BODY = TestBroker.ALLOW_ALL + """
            listeners = (
              { address = "127.0.0.1"; port = 0; translator = "auto";
                tls = { cert = "@DIR@/server.pem"; key = "@DIR@/server.key";
                        ca = "@DIR@/ca.pem"; verify_client = "required"; }; },
              { address = "127.0.0.1"; port = 0; translator = "binary"; } );
            """;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"binary", "json"})
    void javaOverTlsOpensToMpcat(String fmt) {
        TestBroker broker = brokers.start(TLS_BODY, TestBroker::makeCerts);
        String tls = broker.address("auto", "tls");
        try (ChildProcess cat = ChildProcess.start(List.of(mpcat(), "-a", broker.address("binary"),
                "-n", "srv", "-s", "x", "-v", "-e", "listen", "echo"))) {
            cat.waitErr("logged in at", t(5));
            var context = Tls.context(broker.path("ca.pem"), broker.path("alice.pem"),
                    broker.pkcs8Key("alice"));
            try (MpClient client = java(tls, "alice", Format.of(fmt)).sslContext(context)
                    .connect()) {
                Connection conn = client.open("srv", "echo", t(5));
                roundTrips(conn);
                conn.close();
            }
            assertEquals(0, cat.stop(), cat.describe());
        }
    }
}
