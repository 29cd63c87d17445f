package org.mpbroker.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Reconnecting against the real broker: killed (SIGKILL) and started
 * again on the same port under reconnecting clients; what fails at once
 * meanwhile; giving up; the backoff's delays. The delays are small (20 ms
 * to start) so that the tests stay quick; every wait is on an event.
 */
class ReconnectTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    /** The listener callbacks of one client, as events to wait on. */
    static final class Events implements ClientListener {
        final BlockingQueue<String> events = new LinkedBlockingQueue<>();
        volatile MpException gaveUp;

        @Override
        public void disconnected(BrokerLostException error) {
            events.add("disconnected");
        }

        @Override
        public void reconnecting(int attempt, Duration delay, String address) {
            events.add("reconnecting " + attempt);
        }

        @Override
        public void reconnected() {
            events.add("reconnected");
        }

        @Override
        public void gaveUp(MpException error) {
            gaveUp = error;
            events.add("gave up");
        }

        /** Waits for an event, skipping others; fails after the bound. */
        void await(String event) throws InterruptedException {
            long deadline = System.nanoTime() + TestEnv.t(10).toNanos();
            while (true) {
                String e = events.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (e == null) {
                    throw new AssertionError("no '" + event + "' within the bound");
                }
                if (e.equals(event)) {
                    return;
                }
            }
        }
    }

    private static String tcpListener(int port) {
        return TestBroker.ALLOW_ALL + "listeners = ( { address = \"127.0.0.1\"; port = " + port
                + "; translator = \"binary\"; } );\n";
    }

    private static int port(String address) {
        return Address.parse(address).port();
    }

    private static MpClient.Builder fast(String address, String name, Events events) {
        return MpClient.builder(address, name, "pw").connectTimeout(TestEnv.t(5)).reconnect(true)
                .reconnectInitial(Duration.ofMillis(20)).reconnectMax(Duration.ofMillis(100)).listener(events);
    }

    @Test
    void ridesOutARestartWithItsHandlers() throws Exception {
        TestBroker first = brokers.start(tcpListener(0), b -> { });
        String address = first.address("binary", "tcp");
        Events serverEvents = new Events();
        Events aliceEvents = new Events();
        try (MpClient server = fast(address, "server", serverEvents).handler("echo", ClientTest::echo).connect();
             MpClient alice = fast(address, "alice", aliceEvents).connect()) {
            Connection before = alice.open("server", "echo", TestEnv.t(5));
            first.kill();
            aliceEvents.await("disconnected");
            serverEvents.await("disconnected");
            // Nothing resumed silently, nothing buffered.
            BrokerLostException lost = assertThrows(BrokerLostException.class, () -> before.receive(TestEnv.t(5)));
            assertEquals(CloseReason.BROKER_LOST, lost.reason());
            assertTrue(alice.isReconnecting());
            assertThrows(DisconnectedException.class, () -> alice.open("server", "echo"));
            assertThrows(DisconnectedException.class,
                    () -> alice.request("server", "echo", new byte[1], TestEnv.t(1)));
            assertFalse(alice.closed().isDone());

            brokers.start(tcpListener(port(address)), b -> { });
            aliceEvents.await("reconnected");
            serverEvents.await("reconnected");
            assertFalse(alice.isReconnecting());
            // The server's handler stayed registered; the peer may need a
            // moment to log in again: NoSuchClient until it has.
            Connection after = openWhenThere(alice);
            after.send("again".getBytes(UTF_8));
            assertEquals("again", new String(after.receive(TestEnv.t(5)), UTF_8));
        }
    }

    private static Connection openWhenThere(MpClient client) {
        long deadline = System.nanoTime() + TestEnv.t(10).toNanos();
        while (true) {
            try {
                return client.open("server", "echo", TestEnv.t(5));
            } catch (NoSuchClientException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    @Test
    void givesUpAfterItsAttempts() throws Exception {
        TestBroker broker = brokers.start(tcpListener(0), b -> { });
        Events events = new Events();
        MpClient alice = fast(broker.address("binary", "tcp"), "alice", events).reconnectMaxAttempts(3).connect();
        try {
            broker.kill();
            events.await("disconnected");
            events.await("reconnecting 1");
            events.await("reconnecting 3");
            events.await("gave up");
            assertInstanceOf(ConnectFailedException.class, events.gaveUp);
            assertThrows(ConnectFailedException.class, alice::awaitClosed);
            CompletionException done = assertThrows(CompletionException.class, () -> alice.closed().join());
            assertInstanceOf(ConnectFailedException.class, done.getCause());
            assertFalse(alice.isReconnecting());
        } finally {
            alice.close();
        }
    }

    @Test
    void aNameTakenMeanwhileStopsTheAttempts() throws Exception {
        String reject = "duplicate_names = \"reject\";\n";
        TestBroker broker = brokers.start(reject + tcpListener(0), b -> { });
        String address = broker.address("binary", "tcp");
        Events events = new Events();
        MpClient alice = MpClient.builder(address, "alice", "pw").reconnect(true)
                .reconnectInitial(TestEnv.t(2)).listener(events).connect();
        try {
            broker.kill();
            events.await("reconnecting 1");
            // Attempt 2 waits 1-2 s: time for another alice to log in first.
            events.await("reconnecting 2");
            brokers.start(reject + tcpListener(port(address)), b -> { });
            try (MpClient rival = MpClient.connect(address, "alice", "pw")) {
                events.await("gave up");
                assertInstanceOf(NameTakenException.class, events.gaveUp);
                assertThrows(NameTakenException.class, alice::awaitClosed);
                assertEquals("alice", rival.name());
            }
        } finally {
            alice.close();
        }
    }

    @Test
    void closingWhileReconnectingEndsTheAttempts() throws Exception {
        TestBroker broker = brokers.start(tcpListener(0), b -> { });
        Events events = new Events();
        MpClient alice = fast(broker.address("binary", "tcp"), "alice", events).connect();
        broker.kill();
        events.await("reconnecting 2");
        alice.close();
        // A close while reconnecting is a normal end, not a loss.
        alice.awaitClosed();
        assertFalse(alice.isReconnecting());
    }

    @Test
    void severalAddressesAreTakenInTurn() throws Exception {
        TestBroker one = brokers.start(tcpListener(0), b -> { });
        TestBroker two = brokers.start(tcpListener(0), b -> { });
        String a1 = one.address("binary", "tcp");
        String a2 = two.address("binary", "tcp");
        Events events = new Events();
        try (MpClient alice = MpClient.builder(List.of(a1, a2), "alice", new byte[0]).reconnect(true)
                .reconnectInitial(Duration.ofMillis(20)).listener(events).connect()) {
            assertEquals(a1, alice.address());
            one.kill();
            events.await("reconnected");
            assertEquals(a2, alice.address());
        }
    }

    @Test
    void backoffDelays() {
        Duration initial = Duration.ofMillis(100);
        Duration max = Duration.ofSeconds(1);
        assertEquals(Duration.ZERO, Backoff.delay(1, initial, max));
        for (int i = 0; i < 100; i++) {
            long d2 = Backoff.delay(2, initial, max).toMillis();
            assertTrue(d2 >= 50 && d2 <= 100, "attempt 2: " + d2);
            long d3 = Backoff.delay(3, initial, max).toMillis();
            assertTrue(d3 >= 100 && d3 <= 200, "attempt 3: " + d3);
            long d20 = Backoff.delay(20, initial, max).toMillis();
            assertTrue(d20 >= 500 && d20 <= 1000, "attempt 20: " + d20);
        }
        assertTrue(Backoff.delay(1000, initial, max).toMillis() <= 1000);
    }
}
