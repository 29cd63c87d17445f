package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * A client of the real broker written by hand: a binary socket that logs
 * in and then reads and writes single messages, so that a test can play a
 * peer that does what no MpClient does (ignore a Syn, say).
 */
final class RawPeer implements AutoCloseable {
    private final SocketChannel channel;
    private final Decoder decoder = Format.BINARY.codec().decoder(1 << 22);

    private RawPeer(SocketChannel channel) {
        this.channel = channel;
    }

    /** Logs in as {@code name} at a binary tcp: address. */
    static RawPeer login(String address, String name) {
        Address a = Address.parse(address);
        try {
            RawPeer peer = new RawPeer(SocketChannel.open(new InetSocketAddress(a.host(), a.port())));
            peer.send(new Message(Meta.AUTH, name, "", "pw".getBytes()));
            assertEquals(Meta.AUTH_OK, peer.next(TestEnv.t(5)).meta());
            return peer;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void send(Message m) {
        try {
            ByteBuffer bytes = ByteBuffer.wrap(Format.BINARY.codec().encode(m));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The next message; fails the test after {@code timeout}. */
    Message next(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteBuffer buffer = ByteBuffer.allocate(65536);
        try {
            channel.configureBlocking(false);
            while (true) {
                Message m = decoder.next();
                if (m != null) {
                    return m;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no message within " + timeout);
                }
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    throw new AssertionError("the broker closed the socket");
                }
                if (n == 0) {
                    Thread.onSpinWait();
                    try (var selector = java.nio.channels.Selector.open()) {
                        channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
                        selector.select(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                    }
                    continue;
                }
                buffer.flip();
                decoder.feed(buffer);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                channel.configureBlocking(true);
            } catch (IOException e) {
                // Closed.
            }
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // Already closed.
        }
    }
}
