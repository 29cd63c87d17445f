package org.mpbroker.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A TCP or Unix socket, as a blocking {@link SocketChannel}: its reads and
 * writes lock separately, so the reader and the writer thread do not wait
 * for each other (the streams of {@code Channels.newInputStream} would).
 */
final class ChannelTransport implements Transport {
    private final SocketChannel channel;

    ChannelTransport(SocketChannel channel) {
        this.channel = channel;
    }

    @Override
    public int read(ByteBuffer into) throws IOException {
        return channel.read(into);
    }

    @Override
    public void write(ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }

    @Override
    public void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // Closing a socket fails only if it was already broken.
        }
    }
}
