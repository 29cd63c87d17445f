package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpbroker.client.HostileBroker.t;

import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fake broker itself, against raw sockets: it must be right before it
 * can judge the client.
 */
class HostileBrokerTest {
    private static Socket rawClient(HostileBroker fake) throws Exception {
        Socket s = new Socket();
        s.setReceiveBufferSize(HostileBroker.SMALL_SOCKET_BUFFER);
        String[] a = fake.address().split(":");
        s.connect(new InetSocketAddress(a[1], Integer.parseInt(a[2])), (int) t(10).toMillis());
        return s;
    }

    private static byte[] readExactly(InputStream in, int n) throws Exception {
        byte[] b = in.readNBytes(n);
        assertEquals(n, b.length, "the fake closed early");
        return b;
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void logsInAndRecordsWhatTheClientSends(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); Socket raw = rawClient(fake)) {
            CompletableFuture<FakeSession> accepting = fake.acceptAsync(t(10));
            byte[] auth = FakeWire.encode(fmt, Meta.AUTH, "v\"<é", "", "pw".getBytes(StandardCharsets.UTF_8));
            raw.getOutputStream().write(auth);
            FakeSession session = HostileBroker.get(accepting, t(10));
            assertEquals("v\"<é", session.login(t(10)));
            byte[] ok = session.frame(Meta.AUTH_OK, "v\"<é", "");
            assertArrayEquals(ok, readExactly(raw.getInputStream(), ok.length));

            byte[] ack = FakeWire.encode(fmt, Meta.CONN_ACK, "evil", "evil:0", null);
            byte[] data = FakeWire.encode(fmt, Meta.DATA, "evil", "evil:0", new byte[] {0, 10, -1});
            byte[] both = new byte[ack.length + data.length];
            System.arraycopy(ack, 0, both, 0, ack.length);
            System.arraycopy(data, 0, both, ack.length, data.length);
            for (byte b : both) { // one byte at a time: the reader reassembles
                raw.getOutputStream().write(b);
                raw.getOutputStream().flush();
            }
            List<Message> got = session.read(2, t(10));
            assertEquals(new Message(Meta.CONN_ACK, "evil", "evil:0", null), got.get(0));
            assertEquals(new Message(Meta.DATA, "evil", "evil:0", new byte[] {0, 10, -1}), got.get(1));
            assertEquals(3, session.received().size()); // the Auth too
            assertEquals(Meta.AUTH, session.auth().meta());
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void encodesAsDocProtocolSays(Format fmt) {
        byte[] wire = FakeWire.encode(fmt, Meta.CONN_SYN, "bob", "alice:0", "echo".getBytes(StandardCharsets.UTF_8));
        if (fmt == Format.BINARY) { // the worked example of doc/protocol.md
            assertArrayEquals(new byte[] {0, 0, 0, 18, 5, 1, 3, 7, 'b', 'o', 'b',
                'a', 'l', 'i', 'c', 'e', ':', '0', 'e', 'c', 'h', 'o'}, wire);
        } else {
            assertEquals("{\"Meta\":5,\"OtherClient\":\"bob\",\"ConnectionID\":\"alice:0\",\"Data\":\"ZWNobw==\"}\n",
                    new String(wire, StandardCharsets.UTF_8));
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void streamBlocksOnAClientThatDoesNotReadAndGoesOnWhenItDoes(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt); Socket raw = rawClient(fake)) {
            FakeSession session = HostileBroker.get(fake.acceptAsync(t(10)), t(10));
            byte[] frame = session.frame(Meta.DATA, "evil", "evil:0", new byte[1000]);
            long count = (64L << 20) / frame.length; // more than any kernel buffers
            CompletableFuture<Void> sending = session.stream(count, i -> frame);
            assertTrue(session.awaitBlocked(sending, t(0.5), t(30), () -> true), "the stream did not block");
            long blockedAt = session.sent();
            assertTrue(blockedAt < count * frame.length, blockedAt + " bytes sent");
            InputStream in = raw.getInputStream();
            byte[] buf = new byte[65536];
            long total = 0;
            for (int n; total < count * frame.length && (n = in.read(buf)) > 0; ) {
                total += n;
            }
            assertEquals(count * frame.length, total);
            HostileBroker.get(sending, t(10));
            assertEquals(total, session.sent());
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void sendingFailsOnceTheClientCloses(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            FakeSession session;
            try (Socket raw = rawClient(fake)) {
                session = HostileBroker.get(fake.acceptAsync(t(10)), t(10));
                raw.getOutputStream().write(FakeWire.encode(fmt, Meta.AUTH, "v", "", null));
                session.readAuth(t(10));
            }
            CompletableFuture<Void> sending = session.stream(1L << 20, i -> new byte[1024]);
            assertThrows(UncheckedIOException.class, () -> HostileBroker.get(sending, t(10)));
            assertFalse(session.sent() >= 1L << 30);
        }
    }
}
