package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpbroker.client.HostileBroker.t;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A broker that does not read what the client sends (the Python client's
 * test_send_timeout_sheds_a_stalled_peer and
 * test_open_timeout_covers_a_full_transport), and one that fills
 * maxConnections (test_open_past_max_connections, here against the fake
 * broker).
 */
class HostileSendTest {
    private static final byte[] P = "p".getBytes(StandardCharsets.UTF_8);
    private static final int SIZE = 65536;

    private static MpClient.Builder victim(HostileBroker fake, Format fmt, ParkingHandler handler) {
        return MpClient.builder(fake.address(), "victim", "secret").format(fmt).handler("p", handler);
    }

    /**
     * sendAsync() until the send queue is full and stays full: the futures
     * of what was queued. A WouldBlock alone is not enough: the writer
     * thread may still be moving the queue into the kernel's buffers (the
     * client's send buffer grows to net.ipv4.tcp_wmem's maximum, 4 MiB), so
     * the queue counts as full once whenWritable() stays pending for a
     * second.
     */
    private static List<CompletableFuture<Void>> fillSendQueue(Connection conn) throws Exception {
        List<CompletableFuture<Void>> queued = new ArrayList<>();
        while (queued.size() < 2000) { // far more than the kernel and the queue hold
            CompletableFuture<Void> f = conn.sendAsync(HostileFloodTest.numbered(queued.size(), SIZE));
            if (!f.isCompletedExceptionally()) {
                queued.add(f);
                continue;
            }
            Throwable e = assertThrows(CompletionException.class, f::join).getCause();
            assertInstanceOf(WouldBlockException.class, e, () -> "sendAsync failed with " + e);
            try {
                conn.whenWritable().get(t(1).toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException stillFull) {
                return queued;
            }
        }
        throw new AssertionError("2000 sendAsync() calls of 64 KiB queued without a lasting WouldBlock");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void aBrokerThatDoesNotReadBlocksSendersUntilItReads(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).sendQueueLimit(4 * SIZE));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                s.send(s.frame(Meta.CONN_SYN, "evil", "evil:0", P));
                assertEquals(Meta.CONN_ACK, s.read(1, t(10)).get(0).meta());
                Connection conn = handler.next(t(10));

                List<CompletableFuture<Void>> queued = fillSendQueue(conn);
                int k = queued.size();
                assertFalse(conn.isWritable());
                CompletableFuture<Void> writable = conn.whenWritable();
                // A timed send gives up with nothing queued; a timed open
                // gives up too.
                assertThrows(MpTimeoutException.class,
                        () -> conn.send(new byte[] {'t'}, Duration.ofMillis(200)));
                assertThrows(MpTimeoutException.class,
                        () -> client.open("evil", "p", Duration.ofMillis(200)));
                // A blocking send waits.
                byte[] last = HostileFloodTest.numbered(k, SIZE);
                CompletableFuture<Void> blocking = new CompletableFuture<>();
                Thread sender = new Thread(() -> {
                    try {
                        conn.send(last);
                        blocking.complete(null);
                    } catch (RuntimeException e) {
                        blocking.completeExceptionally(e);
                    }
                }, "blocking-sender");
                sender.setDaemon(true);
                sender.start();
                HostileBroker.until(() -> sender.getState() == Thread.State.WAITING
                        || sender.getState() == Thread.State.TIMED_WAITING
                        || !sender.isAlive(), t(10), "the blocking send to wait");
                assertFalse(blocking.isDone(), "send() returned while the queue is full");
                assertFalse(writable.isDone(), "whenWritable() completed while the queue is full");

                // The broker reads: the waiting ends, and everything queued
                // arrives in order; nothing of the timed-out send.
                List<Message> data = new ArrayList<>();
                List<Message> control = new ArrayList<>();
                while (data.size() <= k) {
                    Message m = s.read(1, t(30)).get(0);
                    (m.meta() == Meta.DATA ? data : control).add(m);
                }
                for (int i = 0; i <= k; i++) {
                    assertArrayEquals(HostileFloodTest.numbered(i, SIZE), data.get(i).data(), "message " + i);
                }
                HostileBroker.get(writable, t(10));
                HostileBroker.get(blocking, t(10));
                for (CompletableFuture<Void> f : queued) {
                    HostileBroker.get(f, t(10));
                }
                // The end marker: a new Syn, whose ConnAck comes after
                // everything the client sent before.
                s.send(s.frame(Meta.CONN_SYN, "evil", "evil:1", P));
                Message ack = new Message(Meta.CONN_ACK, "evil", "evil:1", null);
                for (Message m = s.read(1, t(30)).get(0); !m.equals(ack); m = s.read(1, t(30)).get(0)) {
                    (m.meta() == Meta.DATA ? data : control).add(m);
                }
                assertEquals(k + 1, data.size(), "Data messages");
                // The timed-out open: the Python client queues nothing for
                // it; this one queues its Syn whatever the room and, as its
                // Javadoc says, withdraws it (ConnClosed) after the timeout.
                System.out.println(fmt + ": after the timed-out open the client sent " + control);
                assertTrue(control.isEmpty() || control.equals(List.of(
                        new Message(Meta.CONN_SYN, "evil", control.get(0).connectionId(), P),
                        new Message(Meta.CONN_CLOSED, "evil", control.get(0).connectionId(), null))),
                        "besides the Data: " + control);
                assertTrue(conn.isOpen());
            }
        }
    }

    /**
     * open() past maxConnections fails at once without a Syn; closing one
     * makes room (the fake broker answers each Syn with a ConnAck).
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void openPastMaxConnectionsFails(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "cli", "s")
                    .format(fmt).maxConnections(2));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection first = openAcked(client, s);
                openAcked(client, s);
                MpException e = assertThrows(MpException.class,
                        () -> client.open("srv", "p", t(10)));
                assertTrue(e.getMessage().contains("maxConnections") || e.getMessage().contains("max"),
                        e.getMessage());
                first.close();
                Message closed = s.read(1, t(10)).get(0);
                assertEquals(new Message(Meta.CONN_CLOSED, "srv", first.id(), null), closed);
                openAcked(client, s);
            }
        }
    }

    /** open() while the fake reads the Syn and answers ConnAck. */
    private static Connection openAcked(MpClient client, FakeSession s) throws Exception {
        CompletableFuture<Connection> opening = client.openAsync("srv", "p");
        Message syn = s.read(1, t(10)).get(0);
        assertEquals(Meta.CONN_SYN, syn.meta(), syn.toString());
        assertEquals("srv", syn.otherClient());
        assertArrayEquals(P, syn.data());
        s.send(s.frame(Meta.CONN_ACK, "srv", syn.connectionId()));
        Connection c = HostileBroker.get(opening, t(10));
        assertEquals(syn.connectionId(), c.id());
        return c;
    }
}
