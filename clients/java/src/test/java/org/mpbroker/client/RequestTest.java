package org.mpbroker.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Request/reply against the real broker: each way a request ends, as the Python client's table. */
class RequestTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    private static byte[] upper(byte[] request) {
        return new String(request, UTF_8).toUpperCase(Locale.ROOT).getBytes(UTF_8);
    }

    private static MpClient.Builder client(String address, String name) {
        return MpClient.builder(address, name, "pw").connectTimeout(TestEnv.t(10));
    }

    @Test
    void eachWayARequestEnds() throws Exception {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        CountDownLatch never = new CountDownLatch(1);
        try (MpClient server = client(address, "server")
                .requestHandler("upper", RequestTest::upper)
                .connect();
             MpClient alice = client(address, "alice").maxMessageSize(10_000).connect()) {
            server.handleRequests("fail", request -> {
                throw new IllegalStateException("no answer for you");
            });
            server.handleRequests("silent", request -> {
                never.await();
                return null;
            });
            server.handleRequests("none", request -> null);
            Duration t = TestEnv.t(5);

            assertEquals("HI", new String(alice.request("server", "upper", "hi".getBytes(UTF_8), t), UTF_8));
            assertEquals("", new String(alice.request("server", "upper", new byte[0], t), UTF_8));
            assertThrows(NoSuchClientException.class, () -> alice.request("nobody", "upper", new byte[1], t));
            assertThrows(UnknownProtocolException.class, () -> alice.request("server", "lower", new byte[1], t));
            ConnectionClosedException closed = assertThrows(ConnectionClosedException.class,
                    () -> alice.request("server", "fail", new byte[1], t));
            assertEquals(CloseReason.BY_PEER, closed.reason());
            assertThrows(MpTimeoutException.class,
                    () -> alice.request("server", "silent", new byte[1], Duration.ofMillis(200)));
            assertThrows(MessageTooBigException.class,
                    () -> alice.request("server", "upper", new byte[20_000], t));
            // A handler that returns null sends nothing: the requester
            // waits for its timeout (the connection stays open meanwhile).
            assertThrows(MpTimeoutException.class,
                    () -> alice.request("server", "none", new byte[1], Duration.ofMillis(200)));

            // Many at once, as futures.
            CompletableFuture<?>[] all = new CompletableFuture<?>[50];
            for (int i = 0; i < all.length; i++) {
                all[i] = alice.requestAsync("server", "upper", ("r" + i).getBytes(UTF_8), t);
            }
            CompletableFuture.allOf(all).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < all.length; i++) {
                assertEquals("R" + i, new String((byte[]) all[i].get(), UTF_8));
            }
            ExecutionException async = assertThrows(ExecutionException.class,
                    () -> alice.requestAsync("server", "lower", new byte[1], t).get(5, TimeUnit.SECONDS));
            assertInstanceOf(UnknownProtocolException.class, async.getCause());
        } finally {
            never.countDown();
        }
    }

    @Test
    void aPeerThatLeavesFailsTheRequest() {
        TestBroker broker = brokers.start();
        String address = broker.address("json", "tcp");
        RawPeer server = RawPeer.login(broker.address("binary", "tcp"), "server");
        try (MpClient alice = client(address, "alice").format(Format.JSON).connect()) {
            CompletableFuture<byte[]> reply = alice.requestAsync("server", "upper", new byte[1], TestEnv.t(5));
            Message syn = server.next(TestEnv.t(5));
            server.send(new Message(Meta.CONN_ACK, "alice", syn.connectionId(), null));
            assertEquals(Meta.DATA, server.next(TestEnv.t(5)).meta());
            server.close();
            ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(5, TimeUnit.SECONDS));
            assertInstanceOf(PeerLeftException.class, e.getCause());
        } finally {
            server.close();
        }
    }

    @Test
    void oneConnectionMayCarrySeveralRequests() {
        TestBroker broker = brokers.start();
        String address = broker.address("binary", "tcp");
        try (MpClient server = client(address, "server").requestHandler("upper", RequestTest::upper).connect();
             MpClient alice = client(address, "alice").connect()) {
            Connection conn = alice.open("server", "upper", TestEnv.t(5));
            for (String q : new String[] {"a", "b", "c"}) {
                conn.send(q.getBytes(UTF_8));
            }
            for (String a : new String[] {"A", "B", "C"}) {
                assertEquals(a, new String(conn.receive(TestEnv.t(5)), UTF_8));
            }
            assertTrue(conn.isOpen());
        }
    }
}
