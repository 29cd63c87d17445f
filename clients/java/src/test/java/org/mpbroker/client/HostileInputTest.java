package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpbroker.client.HostileBroker.t;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Garbage, huge frames, truncated frames and messages the client must
 * ignore, from a scripted fake broker (the Python client's
 * tests/test_hostile.py, "Garbage and huge frames"): bad input ends that
 * session with a clear {@link BrokerLostException}, and costs nothing more.
 */
class HostileInputTest {
    private static final byte[] P = "p".getBytes(StandardCharsets.UTF_8);
    private static final long MB = 1 << 20;

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static MpClient.Builder victim(HostileBroker fake, Format fmt, String name,
            ParkingHandler handler) {
        return MpClient.builder(fake.address(), name, "secret").format(fmt).handler("p", handler);
    }

    /** The fake opens connection evil:0 for "p"; returns it as accepted. */
    private static Connection openEvil0(FakeSession session, ParkingHandler handler) throws Exception {
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", P));
        assertEquals(new Message(Meta.CONN_ACK, "evil", "evil:0", null), session.read(1, t(10)).get(0));
        return handler.next(t(10));
    }

    /** Garbage in each format: reserved flag bits; bytes that are no JSON. */
    private static byte[] garbage(Format fmt) {
        return fmt == Format.BINARY ? new byte[] {0, 0, 0, 4, 0, (byte) 0xFF, 0, 0}
                : new byte[] {0, (byte) 0xFF, 'n', 'o', 't', ' ', 'j', 's', 'o', 'n', '\n'};
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void garbageIsAClearErrorAndOtherClientsGoOn(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn victim = fake.connect(victim(fake, fmt, "victim", handler));
            HostileBroker.LoggedIn bystander = fake.connect(victim(fake, fmt, "bystander", handler));
            try (MpClient v = victim.client(); MpClient b = bystander.client()) {
                Connection conn = openEvil0(victim.session(), handler);
                victim.session().send(garbage(fmt));
                BrokerLostException lost = HostileBroker.awaitLost(v);
                assertTrue(lost.detail().startsWith("undecodable message from the broker: "),
                        lost.detail());
                // Its connections end with it.
                BrokerLostException ended = assertThrows(BrokerLostException.class, conn::receive);
                assertEquals(CloseReason.BROKER_LOST, ended.reason());
                assertFalse(conn.isOpen());
                // The other client of the same JVM goes on.
                Connection other = openEvil0(bystander.session(), handler);
                FakeSession s = bystander.session();
                s.send(s.frame(Meta.DATA, "evil", "evil:0", utf8("still here")));
                assertArrayEquals(utf8("still here"), other.receive(t(10)));
                assertTrue(other.isOpen());
                assertFalse(b.closed().isDone());
            }
        }
    }

    @Test
    void aBinaryLengthOverTheLimitIsRefusedFromThePrefix() throws Exception {
        try (HostileBroker fake = new HostileBroker(Format.BINARY)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .maxMessageSize(65536));
            try (MpClient client = login.client()) {
                // A prefix and a few bytes, then nothing: a client that
                // waited for the frame would wait for ever.
                login.session().send(ByteBuffer.allocate(64).putInt(0xFFFFFFF0).array());
                String detail = HostileBroker.awaitLost(client).detail();
                assertTrue(detail.startsWith("undecodable message from the broker: "), detail);
                assertTrue(detail.contains("over") || detail.contains("longer than"), detail);
            }
        }
    }

    @Test
    void aJsonLineIsRefusedAsSoonAsItPassesTheLimit() throws Exception {
        int m = 65536;
        try (HostileBroker fake = new HostileBroker(Format.JSON)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .format(Format.JSON).maxMessageSize(m));
            try (MpClient client = login.client()) {
                // One byte more than the longest legal line, no newline,
                // then nothing.
                byte[] line = new byte[(int) FakeWire.maxReceivedSize(Format.JSON, m) + 1];
                Arrays.fill(line, (byte) 'A');
                byte[] start = utf8("{\"Meta\":0,\"Data\":\"");
                System.arraycopy(start, 0, line, 0, start.length);
                login.session().send(line);
                String detail = HostileBroker.awaitLost(client).detail();
                assertTrue(detail.startsWith("undecodable message from the broker: "), detail);
                assertTrue(detail.contains("over") || detail.contains("longer than"), detail);
            }
        }
    }

    /**
     * JSON whitespace without end counts towards the limit too (the
     * Python client's JsonDecoder.feed): one space more than the longest
     * legal line, then nothing, is refused at once.
     */
    @Test
    void endlessJsonWhitespaceIsRefused() throws Exception {
        int m = 65536;
        try (HostileBroker fake = new HostileBroker(Format.JSON)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .format(Format.JSON).maxMessageSize(m));
            try (MpClient client = login.client()) {
                byte[] spaces = new byte[(int) FakeWire.maxReceivedSize(Format.JSON, m) + 1];
                Arrays.fill(spaces, (byte) ' ');
                login.session().send(spaces);
                String detail = HostileBroker.awaitLost(client).detail();
                assertTrue(detail.startsWith("undecodable message from the broker: "), detail);
            }
        }
    }

    /**
     * The client accepts exactly the longest encoding of a legal message
     * (the Python client's max_received_size, test_hostile.py's
     * test_worst_case_encoding_is_the_limit): 255-byte names of {@code <}
     * (6 bytes each in JSON), data of the broker's limit; one byte more is
     * refused.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void theWorstCaseEncodingIsTheLimit(Format fmt) {
        int m = 4096;
        Codec codec = fmt.codec();
        for (long size : new long[] {64, m, 65536, 1 << 20}) {
            assertEquals(FakeWire.maxReceivedSize(fmt, size), codec.maxReceivedSize(size), "for " + size);
        }
        long limit = codec.maxReceivedSize(m);
        String names = "<".repeat(255);
        byte[] data = new byte[m];
        Arrays.fill(data, (byte) 0xFF);
        Message worst = new Message(255, names, names, data);
        byte[] wire = codec.encode(worst);
        assertTrue(wire.length <= limit, wire.length + " > " + limit);
        Decoder d = codec.decoder(limit);
        d.feed(ByteBuffer.wrap(wire));
        assertEquals(worst, d.next());
        byte[] over = wire;
        for (int extra = 1; over.length <= limit; extra++) { // the shortest encoding over it
            over = codec.encode(new Message(255, names, names, new byte[m + extra]));
        }
        Decoder refusing = codec.decoder(limit);
        byte[] tooLong = over;
        assertThrows(DecodeException.class, () -> {
            refusing.feed(ByteBuffer.wrap(tooLong));
            refusing.next();
        });
    }

    /**
     * A frame or line of 128 MiB, streamed: the client refuses it and
     * closes the socket without taking it in. What the fake broker could
     * send before its writes failed is bounded by the kernel's buffers
     * (the client's receive buffer grows to net.ipv4.tcp_rmem's maximum,
     * 32 MiB here, the fake's send buffer to tcp_wmem's, 4 MiB), not by
     * the frame.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aHugeFrameIsNotBuffered(Format fmt) throws Exception {
        long huge = 128 * MB;
        try (HostileBroker fake = new HostileBroker(fmt)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .format(fmt).maxMessageSize(65536));
            FakeSession session = login.session();
            try (MpClient client = login.client()) {
                byte[] head = fmt == Format.BINARY ? ByteBuffer.allocate(4).putInt(0x7FFFFFF0).array()
                        : utf8("{\"Meta\":0,\"Data\":\"");
                byte[] body = new byte[65536];
                Arrays.fill(body, fmt == Format.BINARY ? (byte) 0 : (byte) 'A');
                CompletableFuture<Void> sending = session.stream(huge / body.length,
                        i -> i == 0 ? head : body);
                String detail = HostileBroker.awaitLost(client).detail();
                assertTrue(detail.startsWith("undecodable message from the broker: "), detail);
                ExecutionException failed = assertThrows(ExecutionException.class,
                        () -> sending.get(t(10).toMillis(), TimeUnit.MILLISECONDS),
                        "the fake could send the whole frame");
                System.out.printf("%s: the fake sent %d bytes of a %d-byte frame: %s%n",
                        fmt, session.sent(), huge, failed.getCause());
                assertTrue(session.sent() < 48 * MB, session.sent() + " bytes sent");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void aTruncatedFrameThenCloseLosesTheBroker(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, "victim", handler));
            try (MpClient client = login.client()) {
                FakeSession session = login.session();
                Connection conn = openEvil0(session, handler);
                byte[] frame = session.frame(Meta.DATA, "evil", "evil:0", new byte[100]);
                session.send(Arrays.copyOf(frame, frame.length / 2)).join();
                session.close();
                BrokerLostException lost = HostileBroker.awaitLost(client);
                System.out.println(fmt + ": a truncated frame, then close: " + lost.detail());
                assertFalse(lost.detail().isBlank());
                assertThrows(BrokerLostException.class, conn::receive);
            }
        }
    }

    /**
     * One line of {@code {}} pairs, as long as a legal line may be: each a
     * message (Data for no connection, ignored), decoded a batch at a time.
     * The session goes on after it. Memory: retained heap after a full GC
     * (the transient Message objects are garbage; a decoder that kept the
     * whole batch would still be collected by then, so this is only a check
     * that nothing is kept).
     */
    @Test
    void aJsonLineOfEmptyObjectsIsIgnoredAndBounded() throws Exception {
        int m = 262144;
        try (HostileBroker fake = new HostileBroker(Format.JSON); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, Format.JSON, "victim", handler)
                    .maxMessageSize(m));
            try (MpClient client = login.client()) {
                FakeSession session = login.session();
                Connection conn = openEvil0(session, handler);
                long limit = FakeWire.maxReceivedSize(Format.JSON, m);
                byte[] pairs = new byte[(int) (limit / 2 - 1) * 2 + 1];
                for (int i = 0; i + 1 < pairs.length; i += 2) {
                    pairs[i] = '{';
                    pairs[i + 1] = '}';
                }
                pairs[pairs.length - 1] = '\n';
                long before = HostileBroker.heapAfterGc();
                session.send(pairs);
                session.send(session.frame(Meta.DATA, "evil", "evil:0", utf8("after"))); // the end marker
                assertArrayEquals(utf8("after"), conn.receive(t(30)));
                long grew = HostileBroker.heapAfterGc() - before;
                System.out.printf("a %d-byte line of {}: heap %+d bytes%n", pairs.length, grew);
                assertTrue(grew < 8L * pairs.length, grew + " bytes held");
                assertFalse(client.closed().isDone());
                assertTrue(conn.isOpen());
            }
        }
    }

    /**
     * Unknown meta values (level-2 ones too: this client speaks level 1),
     * messages for connections it does not have or from a name that is not
     * the connection's peer, WAT, ClientClosed for a stranger: all ignored
     * without an answer, as the Python client's _dispatch ignores them.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void strangeMessagesAreIgnored(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, "victim", handler));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                ByteArrayOutputStream all = new ByteArrayOutputStream();
                for (int meta = Meta.CREDIT; meta <= 255; meta++) {
                    all.writeBytes(s.frame(meta, "evil", "evil:0", utf8("level=2 x")));
                }
                all.writeBytes(s.frame(Meta.DATA, "evil", "evil:nope", utf8("for nothing")));
                all.writeBytes(s.frame(Meta.DATA, "mallory", "evil:0", utf8("forged")));
                all.writeBytes(s.frame(Meta.CONN_CLOSED, "mallory", "evil:0"));
                for (int meta : new int[] {Meta.CONN_ACK, Meta.UNKNOWN_PROTO,
                    Meta.NO_SUCH_CONNECTION, Meta.CONN_CLOSED}) {
                    all.writeBytes(s.frame(meta, "evil", "evil:nope"));
                }
                all.writeBytes(s.frame(Meta.WAT, "", "", utf8("what was that?")));
                all.writeBytes(s.frame(Meta.CLIENT_CLOSED, "nobody", ""));
                all.writeBytes(s.frame(Meta.AUTH_OK, "victim", ""));
                all.writeBytes(s.frame(Meta.DATA, "evil", "evil:0", utf8("real")));
                all.writeBytes(s.frame(Meta.CONN_SYN, "evil", "evil:1", P)); // the end marker
                s.send(all.toByteArray());
                // The first thing the client says after all that is the
                // marker's ConnAck: nothing else was answered.
                assertEquals(new Message(Meta.CONN_ACK, "evil", "evil:1", null), s.read(1, t(10)).get(0));
                handler.next(t(10));
                assertArrayEquals(utf8("real"), conn.receive(t(10)));
                assertTrue(conn.isOpen());
                assertFalse(client.closed().isDone());
                assertThrows(MpTimeoutException.class, () -> conn.receive(Duration.ofMillis(200)));
            }
        }
    }

    /**
     * Answers to a Syn that name another peer than the one opened to are
     * ignored without a trace, as the Python client's _dispatch ignores
     * anything "that does not come from the connection's peer": a forged
     * UnknownProto, NoSuchConnection, ConnClosed or ConnAck neither
     * settles nor spoils the open() in progress.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void forgedAnswersDoNotSpoilAnOpen(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .format(fmt));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                CompletableFuture<Connection> opening = client.openAsync("srv", "p");
                Message syn = s.read(1, t(10)).get(0);
                assertEquals(Meta.CONN_SYN, syn.meta(), syn.toString());
                String id = syn.connectionId();
                ByteArrayOutputStream answers = new ByteArrayOutputStream();
                for (int meta : new int[] {Meta.UNKNOWN_PROTO, Meta.NO_SUCH_CONNECTION,
                    Meta.CONN_CLOSED, Meta.CONN_ACK}) {
                    answers.writeBytes(s.frame(meta, "mallory", id));
                }
                answers.writeBytes(s.frame(Meta.CONN_ACK, "srv", id)); // the real answer
                s.send(answers.toByteArray());
                Connection opened = HostileBroker.get(opening, t(10));
                assertEquals(id, opened.id());
                assertTrue(opened.isOpen());
            }
        }
    }

    /**
     * Data for a connection whose Syn is not answered yet is ignored (the
     * Python client's _dispatch delivers only once the connection is
     * open): the broker routes Data only on OPEN connections
     * (doc/protocol.md, the connection table).
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void dataBeforeTheConnAckIsIgnored(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            HostileBroker.LoggedIn login = fake.connect(MpClient.builder(fake.address(), "victim", "s")
                    .format(fmt));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                CompletableFuture<Connection> opening = client.openAsync("srv", "p");
                String id = s.read(1, t(10)).get(0).connectionId();
                s.send(s.frame(Meta.DATA, "srv", id, utf8("early")));
                s.send(s.frame(Meta.CONN_ACK, "srv", id));
                s.send(s.frame(Meta.DATA, "srv", id, utf8("late")));
                Connection conn = HostileBroker.get(opening, t(10));
                assertArrayEquals(utf8("late"), conn.receive(t(10)));
            }
        }
    }

    /**
     * A NoSuchConnection that names another peer than the connection's
     * does not end it (the Python client ignores it, as every message not
     * from the connection's peer).
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aForgedNoSuchConnectionDoesNotEndAConnection(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, "victim", handler));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                s.send(s.frame(Meta.NO_SUCH_CONNECTION, "mallory", "evil:0"));
                s.send(s.frame(Meta.DATA, "evil", "evil:0", utf8("still")));
                assertArrayEquals(utf8("still"), conn.receive(t(10)));
                assertTrue(conn.isOpen(), "a forged NoSuchConnection ended it: " + conn.closeReason());
                assertFalse(client.closed().isDone());
            }
        }
    }

    /**
     * Syns the client must refuse with UnknownProto (the Python client's
     * _handle_syn): a protocol without a handler, a connection id already
     * in use (the open connection goes on); and one this client refuses
     * where the Python client does not look: an id that is not the peer's
     * ({@code <initiator>:<suffix>}). The refusals carry the Syn's data
     * (its protocol) here, none in the Python client's, so only meta, name
     * and id are compared.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void badSynsAreRefused(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); ParkingHandler handler = new ParkingHandler()) {
            HostileBroker.LoggedIn login = fake.connect(victim(fake, fmt, "victim", handler));
            try (MpClient client = login.client()) {
                FakeSession s = login.session();
                Connection conn = openEvil0(s, handler);
                s.send(s.frame(Meta.CONN_SYN, "evil", "evil:1", utf8("q")));
                s.send(s.frame(Meta.CONN_SYN, "evil", "evil:0", P));
                s.send(s.frame(Meta.CONN_SYN, "evil", "mallory:2", P));
                List<Message> got = s.read(3, t(10));
                String[] ids = {"evil:1", "evil:0", "mallory:2"};
                for (int i = 0; i < ids.length; i++) {
                    Message m = got.get(i);
                    assertEquals(Meta.UNKNOWN_PROTO, m.meta(), m.toString());
                    assertEquals("evil", m.otherClient());
                    assertEquals(ids[i], m.connectionId());
                }
                assertEquals(0, handler.waiting());
                s.send(s.frame(Meta.DATA, "evil", "evil:0", utf8("still")));
                assertArrayEquals(utf8("still"), conn.receive(t(10)));
                assertFalse(client.closed().isDone());
            }
        }
    }
}
