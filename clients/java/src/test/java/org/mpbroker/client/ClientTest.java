package org.mpbroker.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The client's API against the real broker, Java to Java: connections,
 * handlers, refusals, the ends of a connection, futures, timeouts, the
 * inbox's back-pressure and the login's errors.
 */
class ClientTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    static byte[] b(String s) {
        return s.getBytes(UTF_8);
    }

    static String s(byte[] b) {
        return new String(b, UTF_8);
    }

    static Duration t(double seconds) {
        return TestEnv.t(seconds);
    }

    /** An echo handler: every message back, until the peer closes. */
    static void echo(Connection conn) {
        for (byte[] m : conn) {
            conn.send(m);
        }
    }

    static MpClient.Builder client(String address, String name) {
        return MpClient.builder(address, name, "pw").connectTimeout(t(10));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"binary,tcp", "json,tcp", "binary,unix", "json,unix"})
    void echoRoundTrip(String format, String scheme) {
        TestBroker broker = brokers.start();
        String address = scheme.equals("unix") ? broker.address("auto", "unix") : broker.address(format, "tcp");
        Format f = Format.of(format);
        try (MpClient server = client(address, "server").format(f).handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").format(f).connect()) {
            assertEquals("alice", alice.name());
            assertEquals(address, alice.address());
            Connection conn = alice.open("server", "echo", t(5));
            assertTrue(conn.isOpen());
            assertTrue(conn.isInitiator());
            assertEquals("server", conn.peer());
            assertEquals("echo", conn.protocol());
            assertTrue(conn.id().startsWith("alice:"), conn.id());
            for (String m : List.of("hello", "", "\u00e9t\u00e9 <&>", "x".repeat(100_000))) {
                conn.send(b(m));
                assertEquals(m, s(conn.receive(t(5))));
            }
            byte[] binary = new byte[256];
            for (int i = 0; i < binary.length; i++) {
                binary[i] = (byte) i;
            }
            conn.send(binary);
            assertArrayEquals(binary, conn.receive(t(5)));
            conn.close();
            assertFalse(conn.isOpen());
            assertEquals(CloseReason.LOCAL, conn.closeReason());
            ConnectionClosedException e = assertThrows(ConnectionClosedException.class, conn::receive);
            assertEquals(CloseReason.LOCAL, e.reason());
            assertThrows(ConnectionClosedException.class, () -> conn.send(b("late")));
        }
    }

    @Test
    void messagesKeepTheirOrderAndBoundaries() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").connect()) {
            Connection conn = alice.open("server", "echo", t(5));
            for (int i = 0; i < 2000; i++) {
                conn.send(b("m" + i));
            }
            for (int i = 0; i < 2000; i++) {
                assertEquals("m" + i, s(conn.receive(t(5))));
            }
        }
    }

    @Test
    void refusalsAreTyped() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").connect()) {
            UnknownProtocolException unknown = assertThrows(UnknownProtocolException.class,
                    () -> alice.open("server", "nope", t(5)));
            assertEquals("server", unknown.peer());
            assertEquals("nope", unknown.protocol());
            NoSuchClientException none = assertThrows(NoSuchClientException.class,
                    () -> alice.open("nobody", "echo", t(5)));
            assertEquals("nobody", none.peer());
            assertThrows(IllegalArgumentException.class, () -> alice.open("alice", "echo"));
            assertThrows(IllegalArgumentException.class, () -> alice.open("a:b", "echo"));
            // The client goes on after refusals.
            Connection conn = alice.open("server", "echo", t(5));
            conn.send(b("still"));
            assertEquals("still", s(conn.receive(t(5))));
        }
    }

    @Test
    void unhandleRefusesLaterSyns() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").connect()) {
            alice.open("server", "echo", t(5)).close();
            server.unhandle("echo");
            assertThrows(UnknownProtocolException.class, () -> alice.open("server", "echo", t(5)));
            server.handle("echo", ClientTest::echo);
            alice.open("server", "echo", t(5)).close();
        }
    }

    @Test
    void thePeerClosingEndsTheIterationAfterItsMessages() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("json", "tcp");
        ConnectionHandler threeThenClose = conn -> {
            conn.send(b("1"));
            conn.send(b("2"));
            conn.send(b("3"));
        };
        try (MpClient server = client(address, "server").format(Format.JSON).handler("three", threeThenClose)
                .connect();
             MpClient alice = client(address, "alice").format(Format.JSON).connect()) {
            Connection conn = alice.open("server", "three", t(5));
            List<String> got = new ArrayList<>();
            for (byte[] m : conn) {
                got.add(s(m));
            }
            assertEquals(List.of("1", "2", "3"), got);
            assertEquals(CloseReason.BY_PEER, conn.closeReason());
            ConnectionClosedException e = assertThrows(ConnectionClosedException.class, conn::receive);
            assertEquals(CloseReason.BY_PEER, e.reason());
            ExecutionException async = assertThrows(ExecutionException.class,
                    () -> conn.receiveAsync().get(5, TimeUnit.SECONDS));
            assertInstanceOf(ConnectionClosedException.class, async.getCause());
        }
    }

    @Test
    void aPeerThatLeavesEndsItsConnectionsAndOpens() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        // A peer that vanishes without closing its connections.
        RawPeer server = RawPeer.login(address, "server");
        try (MpClient alice = client(address, "alice").connect()) {
            CompletableFuture<Connection> opening = alice.openAsync("server", "hold");
            Message syn = server.next(t(5));
            server.send(new Message(Meta.CONN_ACK, "alice", syn.connectionId(), null));
            Connection conn = opening.get(5, TimeUnit.SECONDS);
            CompletableFuture<Connection> pending = alice.openAsync("server", "hold");
            assertEquals(Meta.CONN_SYN, server.next(t(5)).meta());
            server.close();
            PeerLeftException e = assertThrows(PeerLeftException.class, () -> conn.receive(t(5)));
            assertEquals(CloseReason.PEER_LEFT, e.reason());
            assertEquals(CloseReason.PEER_LEFT, conn.closeReason());
            ExecutionException open = assertThrows(ExecutionException.class,
                    () -> pending.get(5, TimeUnit.SECONDS));
            assertInstanceOf(PeerLeftException.class, open.getCause());
        } finally {
            server.close();
        }
    }

    @Test
    void receiveTimesOutAndTheConnectionStaysOpen() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").connect()) {
            Connection conn = alice.open("server", "echo", t(5));
            assertThrows(MpTimeoutException.class, () -> conn.receive(Duration.ofMillis(50)));
            assertTrue(conn.isOpen());
            conn.send(b("after"));
            assertEquals("after", s(conn.receive(t(5))));
        }
    }

    @Test
    void futures() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").connect()) {
            Connection conn = alice.openAsync("server", "echo").get(5, TimeUnit.SECONDS);
            CompletableFuture<byte[]> first = conn.receiveAsync();
            CompletableFuture<byte[]> second = conn.receiveAsync();
            assertFalse(first.isDone());
            conn.sendAsync(b("a")).get(5, TimeUnit.SECONDS);
            conn.sendAsync(b("b")).get(5, TimeUnit.SECONDS);
            assertEquals("a", s(first.get(5, TimeUnit.SECONDS)));
            assertEquals("b", s(second.get(5, TimeUnit.SECONDS)));
            assertTrue(conn.isWritable());
            assertTrue(conn.whenWritable().isDone());
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> alice.openAsync("server", "nope").get(5, TimeUnit.SECONDS));
            assertInstanceOf(UnknownProtocolException.class, e.getCause());
            conn.close();
            assertTrue(conn.whenWritable().isCompletedExceptionally());
            assertTrue(conn.sendAsync(b("x")).isCompletedExceptionally());
        }
    }

    @Test
    void openTimesOutAndWithdrawsTheSyn() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        // A peer that never answers Syns.
        try (RawPeer silent = RawPeer.login(broker.address("binary", "tcp"), "silent");
             MpClient alice = client(address, "alice").connect()) {
            assertThrows(MpTimeoutException.class, () -> alice.open("silent", "echo", Duration.ofMillis(200)));
            Message syn = silent.next(t(5));
            assertEquals(Meta.CONN_SYN, syn.meta());
            Message withdrawn = silent.next(t(5));
            assertEquals(Meta.CONN_CLOSED, withdrawn.meta());
            assertEquals(syn.connectionId(), withdrawn.connectionId());
        }
    }

    @Test
    void aFullInboxPausesReadingAndNothingIsLost() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        int count = 300;
        byte[] chunk = new byte[10_000];
        CountDownLatch accepted = new CountDownLatch(1);
        List<Connection> held = new ArrayList<>();
        try (MpClient reader = client(address, "reader").inboxLimit(50_000).handler("sink", conn -> {
                synchronized (held) {
                    held.add(conn);
                }
                accepted.countDown();
                // Held open until the test reads it.
                new CountDownLatch(1).await();
            }).connect();
             MpClient writer = client(address, "writer").connect()) {
            Connection out = writer.open("reader", "sink", t(5));
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < count; i++) {
                    chunk[0] = (byte) i;
                    out.send(chunk.clone());
                }
            });
            assertTrue(accepted.await(5, TimeUnit.SECONDS));
            Connection in;
            synchronized (held) {
                in = held.get(0);
            }
            for (int i = 0; i < count; i++) {
                byte[] m = in.receive(t(10));
                assertEquals(10_000, m.length);
                assertEquals((byte) i, m[0], "message " + i);
            }
            sent.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void tooBigIsRefusedBeforeSending() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
             MpClient alice = client(address, "alice").maxMessageSize(1000).connect()) {
            Connection conn = alice.open("server", "echo", t(5));
            assertThrows(MessageTooBigException.class, () -> conn.send(new byte[1000]));
            assertTrue(conn.sendAsync(new byte[1000]).isCompletedExceptionally());
            conn.send(new byte[900]);
            assertEquals(900, conn.receive(t(5)).length);
        }
    }

    @Test
    void loginErrors() {
        TestBroker broker = brokers.start(TestBroker.ALLOW_ALL + "duplicate_names = \"reject\";\n"
                + TestBroker.DEFAULT_LISTENERS, b -> { });
        String binary = broker.address("binary", "tcp");
        String json = broker.address("json", "tcp");
        try (MpClient first = client(binary, "taken").connect()) {
            NameTakenException taken = assertThrows(NameTakenException.class,
                    () -> client(binary, "taken").connect());
            assertEquals("name already in use", taken.reason());
        }
        ConnectFailedException wrong = assertThrows(ConnectFailedException.class,
                () -> client(json, "alice").connect());
        assertTrue(wrong.getMessage().contains("Format.JSON"), wrong.getMessage());
        ConnectFailedException wrong2 = assertThrows(ConnectFailedException.class,
                () -> client(binary, "alice").format(Format.JSON).connect());
        assertTrue(wrong2.getMessage().contains("Format.BINARY"), wrong2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> client(binary, "a:b").connect());
        assertThrows(IllegalArgumentException.class, () -> client(binary, "").connect());
        assertThrows(IllegalArgumentException.class, () -> MpClient.builder("http://x", "a", "b"));
    }

    @Test
    void anAbsentBrokerIsNamed() {
        TestBroker broker = brokers.start();
        String unix = "unix:" + broker.dir().resolve("no-such.sock");
        ConnectFailedException e = assertThrows(ConnectFailedException.class, () -> client(unix, "a").connect());
        assertTrue(e.getMessage().contains(unix), e.getMessage());
        String address = broker.address("binary", "tcp");
        // Several addresses: the first that answers is taken.
        try (MpClient c = MpClient.builder(List.of(unix, address), "alice", b("pw")).connect()) {
            assertEquals(address, c.address());
        }
    }

    @Test
    void closingTellsThePeersAndEndsTheClient() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect()) {
            MpClient alice = client(address, "alice").handler("echo", ClientTest::echo).connect();
            Connection toAlice = server.open("alice", "echo", t(5));
            alice.close();
            alice.awaitClosed();
            assertTrue(alice.closed().isDone());
            ConnectionClosedException e = assertThrows(ConnectionClosedException.class,
                    () -> toAlice.receive(t(5)));
            assertEquals(CloseReason.BY_PEER, e.reason());
            assertThrows(MpException.class, () -> alice.open("server", "echo"));
            alice.close();
        }
    }

    @Test
    void losingTheBrokerEndsEverything() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        MpClient server = client(address, "server").handler("echo", ClientTest::echo).connect();
        try (MpClient alice = client(address, "alice").connect()) {
            Connection conn = alice.open("server", "echo", t(5));
            broker.kill();
            BrokerLostException e = assertThrows(BrokerLostException.class, () -> conn.receive(t(5)));
            assertEquals(CloseReason.BROKER_LOST, e.reason());
            assertThrows(BrokerLostException.class, alice::awaitClosed);
            assertThrows(BrokerLostException.class, () -> alice.open("server", "echo"));
        } finally {
            server.close();
        }
    }
}
