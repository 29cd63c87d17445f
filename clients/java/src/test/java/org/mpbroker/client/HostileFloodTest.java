package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpbroker.client.HostileBroker.t;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Floods from the broker (the Python client's tests/test_hostile.py,
 * "Floods from the broker"): the client's memory stays bounded because it
 * stops reading from the broker, and nothing is lost once the application
 * reads.
 *
 * <p>How "bounded" is checked: a flood of 128 MiB, more than the kernel
 * can buffer (the client's receive buffer grows to net.ipv4.tcp_rmem's
 * maximum, 32 MiB on Debian, the fake's send buffer to tcp_wmem's, 4 MiB),
 * so the fake's writes can only stop if the client stopped reading, which
 * its reader thread waiting shows ({@link FakeSession#awaitBlocked}); then
 * the heap in use after a full GC ({@link HostileBroker#heapAfterGc()}),
 * against the same before the flood. Heap rather than the client's own
 * accounting, which is private to the engine: it also catches memory the
 * accounting misses. The bound, 32 MiB, is generous (the limits involved
 * are 64 KiB-4 MiB) against JVM noise, and far below the flood a client
 * without bounds would hold.
 */
class HostileFloodTest {
    private static final byte[] P = "p".getBytes(StandardCharsets.UTF_8);
    private static final long MB = 1 << 20;
    private static final long FLOOD = 128 * MB;
    private static final long HEAP_BOUND = 32 * MB;

    private static MpClient.Builder victim(HostileBroker fake, Format fmt, ParkingHandler handler) {
        return MpClient.builder(fake.address(), "victim", "secret").format(fmt).handler("p", handler);
    }

    private static Connection openEvil0(FakeSession session, ParkingHandler handler) throws Exception {
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", P));
        assertEquals(new Message(Meta.CONN_ACK, "evil", "evil:0", null), session.read(1, t(10)).get(0));
        return handler.next(t(10));
    }

    /** How many frames of {@code sample}'s size make a flood of {@link #FLOOD} bytes. */
    private static long floodCount(byte[] sample) {
        return FLOOD / sample.length + 1;
    }

    private static void assertBlockedAndBounded(String what, MpClient client, FakeSession session,
            CompletableFuture<Void> sending, long heapBefore) {
        boolean blocked;
        try {
            blocked = session.awaitBlocked(sending, t(0.5), t(30), () -> HostileBroker.readerWaits(client));
        } catch (AssertionError e) {
            throw new AssertionError(what + ": " + e.getMessage() + "; the client: " + client.closed()
                    + HostileBroker.readers(client), e);
        }
        long grew = HostileBroker.heapAfterGc() - heapBefore;
        System.out.printf("%s: the fake sent %d bytes before it blocked (%s); heap %+d bytes%n",
                what, session.sent(), blocked, grew);
        assertTrue(blocked, what + ": the client took the whole flood of " + session.sent() + " bytes");
        assertTrue(grew < HEAP_BOUND, what + ": the heap grew by " + grew + " bytes");
    }

    /**
     * Syns past maxConnections, read by the fake: the first maxConnections
     * are accepted, every later one is refused with UnknownProto.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void synsPastMaxConnectionsAreRefused(Format fmt) throws Exception {
        int max = 100;
        int n = 2000;
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).maxConnections(max));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                s.stream(n, i -> s.frame(Meta.CONN_SYN, "evil", "evil:" + i, P));
                List<Message> replies = s.read(n, t(30));
                for (int i = 0; i < n; i++) {
                    // Meta, name and id: the refusals carry the Syn's data
                    // (its protocol), where the Python client's carry none.
                    Message m = replies.get(i);
                    assertEquals(i < max ? Meta.CONN_ACK : Meta.UNKNOWN_PROTO, m.meta(), m.toString());
                    assertEquals("evil", m.otherClient());
                    assertEquals("evil:" + i, m.connectionId());
                }
                HostileBroker.until(() -> handler.waiting() == max, t(10), max + " handlers");
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /**
     * A 128 MiB flood of Syns from a broker that never reads the replies:
     * at most maxConnections connections, and the replies (ConnAck,
     * UnknownProto) back up in the bounded send queue until the client
     * stops reading, instead of piling up in memory.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aSynFloodWithUnreadRepliesStaysBounded(Format fmt) throws Exception {
        int max = 100;
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler)
                    .maxConnections(max).sendQueueLimit(65536));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                long before = HostileBroker.heapAfterGc();
                long count = floodCount(s.frame(Meta.CONN_SYN, "evil", "evil:1000000", P));
                // Half for the protocol served (past max: refused), half for none.
                CompletableFuture<Void> sending = s.stream(count, i -> s.frame(Meta.CONN_SYN, "evil",
                        "evil:" + i, i % 2 == 0 ? P : "q".getBytes(StandardCharsets.UTF_8)));
                assertBlockedAndBounded(fmt + " Syn flood", client, s, sending, before);
                assertTrue(handler.waiting() <= max, handler.waiting() + " connections accepted");
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /**
     * Empty messages on a connection nobody reads: the inbox counts
     * memory, not payload (64 bytes a message), so it fills and the client
     * stops reading; reading from it lets the client go on.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void anEmptyDataFloodFillsTheInbox(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).inboxLimit(65536));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                byte[] empty = s.frame(Meta.DATA, "evil", "evil:0", new byte[0]);
                long before = HostileBroker.heapAfterGc();
                CompletableFuture<Void> sending = s.stream(floodCount(empty), i -> empty);
                assertBlockedAndBounded(fmt + " empty Data flood", client, s, sending, before);
                // A full inbox holds 65536 / 64 = 1024 empty messages: the
                // 5000 received show that reading made the client read on.
                for (int i = 0; i < 5000; i++) {
                    assertArrayEquals(new byte[0], conn.receive(t(10)));
                }
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /**
     * 128 MiB of 64 KiB messages on a connection nobody reads: the client
     * stops reading at its inbox limit, and once the application reads,
     * every message arrives, in order.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aDataFloodWaitsForTheApplicationAndLosesNothing(Format fmt) throws Exception {
        int size = 65536;
        int n = (int) (FLOOD / size);
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).inboxLimit(MB));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                long before = HostileBroker.heapAfterGc();
                CompletableFuture<Void> sending = s.stream(n,
                        i -> s.frame(Meta.DATA, "evil", "evil:0", numbered(i, size)));
                assertBlockedAndBounded(fmt + " Data flood", client, s, sending, before);
                for (int i = 0; i < n; i++) {
                    assertArrayEquals(numbered(i, size), conn.receive(t(10)), "message " + i);
                }
                HostileBroker.get(sending, t(10));
                assertTrue(conn.isOpen());
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /**
     * 200 connections, each sent a bit less than inboxLimit: all the
     * inboxes together stop at inboxTotalLimit (the Python client's
     * test_inboxes_are_bounded_in_total), and once the application reads,
     * every message arrives.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void theInboxesAreBoundedInTotal(Format fmt) throws Exception {
        int n = 200;
        long limit = MB;
        long total = 4 * MB;
        int size = (int) limit - 1024;
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler)
                    .inboxLimit(limit).inboxTotalLimit(total));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                long before = HostileBroker.heapAfterGc();
                s.stream(n, i -> s.frame(Meta.CONN_SYN, "evil", "evil:" + i, P));
                CompletableFuture<Void> sending = s.stream(n,
                        i -> s.frame(Meta.DATA, "evil", "evil:" + i, numbered(i, size)));
                // Held: the total, the message that waits, the decoder's
                // and the fake's buffers (a few MB); without the total
                // bound, 200 MB.
                assertBlockedAndBounded(fmt + " 200 inboxes", client, s, sending, before);
                // Read in the order the messages came (the handlers may
                // have taken their connections in any order): a message
                // read out of order may wait behind ones that fill the
                // total, which only reading those frees.
                Connection[] conns = new Connection[n];
                for (int k = 0; k < n; k++) {
                    Connection c = handler.next(t(10));
                    conns[Integer.parseInt(c.id().substring("evil:".length()))] = c;
                }
                for (int i = 0; i < n; i++) {
                    assertArrayEquals(numbered(i, size), conns[i].receive(t(10)), conns[i].id());
                }
                HostileBroker.get(sending, t(10));
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /**
     * One message larger than inboxLimit is still accepted (the Python
     * client's test_overflow_close_accepts_one_large_message, with this
     * client's only policy, pausing): the next one waits, and with it
     * everything after it from the broker (the marker Syn gets no ConnAck),
     * until the application reads.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aMessageLargerThanTheInboxIsAcceptedThenTheClientWaits(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).inboxLimit(4096));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                byte[] big = numbered(1, 10000);
                s.send(s.frame(Meta.DATA, "evil", "evil:0", big));
                s.send(s.frame(Meta.DATA, "evil", "evil:0", new byte[] {'s'}));
                s.send(s.frame(Meta.CONN_SYN, "evil", "evil:1", P));
                HostileBroker.until(() -> HostileBroker.readerWaits(client), t(10), "the reader to wait");
                assertThrows(AssertionError.class, () -> s.read(1, Duration.ofMillis(300)),
                        "the client answered the Syn behind a full inbox");
                assertArrayEquals(big, conn.receive(t(10)));
                assertEquals(new Message(Meta.CONN_ACK, "evil", "evil:1", null), s.read(1, t(10)).get(0));
                assertArrayEquals(new byte[] {'s'}, conn.receive(t(10)));
                assertTrue(conn.isOpen());
                assertTrue(!client.closed().isDone());
            }
        }
    }

    /** Message {@code i} of a flood: its number, then bytes made from it. */
    static byte[] numbered(long i, int size) {
        ByteBuffer b = ByteBuffer.allocate(size).putLong(i);
        while (b.hasRemaining()) {
            b.put((byte) (i * 31 + b.position()));
        }
        return b.array();
    }

    /**
     * Several threads send 256 KiB each to a broker that does not read:
     * they wait (one shared, bounded send queue), and once the broker
     * reads, every message arrives whole.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void concurrentSendersWaitAndLoseNothing(Format fmt) throws Exception {
        int senders = 20;
        int size = 262144;
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, handler).sendQueueLimit(65536));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                List<Thread> threads = new ArrayList<>();
                for (int k = 0; k < senders; k++) {
                    byte[] data = new byte[size];
                    Arrays.fill(data, (byte) k);
                    Thread th = new Thread(() -> conn.send(data), "sender-" + k);
                    th.setDaemon(true);
                    th.start();
                    threads.add(th);
                }
                HostileBroker.until(() -> threads.stream().allMatch(HostileFloodTest::doneOrWaiting),
                        t(10), "every sender to be done or to wait");
                assertTrue(threads.stream().anyMatch(Thread::isAlive), "no sender waits");
                List<Message> got = s.read(senders, t(30));
                boolean[] seen = new boolean[senders];
                for (Message m : got) {
                    assertEquals(size, m.data().length);
                    int k = m.data()[0];
                    for (byte b : m.data()) {
                        assertEquals(k, b, "a message mixed with another");
                    }
                    seen[k] = true;
                }
                for (int k = 0; k < senders; k++) {
                    assertTrue(seen[k], "message " + k + " lost");
                    threads.get(k).join(t(10).toMillis());
                }
                assertTrue(!client.closed().isDone());
            }
        }
    }

    static boolean doneOrWaiting(Thread t) {
        Thread.State state = t.getState();
        return state == Thread.State.TERMINATED || state == Thread.State.WAITING
                || state == Thread.State.TIMED_WAITING;
    }
}
