package org.mpbroker.client;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A byte stream to the broker: a TCP or Unix socket channel, or a TLS
 * socket. One thread reads while another writes; {@link #close()} may come
 * from any thread and wakes both.
 */
interface Transport extends AutoCloseable {
    /**
     * Reads what is available into {@code into}, waiting for at least one
     * byte.
     *
     * @return the bytes read, or -1 at the end of the stream
     */
    int read(ByteBuffer into) throws IOException;

    /** Writes all of {@code bytes}, waiting as long as the socket is full. */
    void write(ByteBuffer bytes) throws IOException;

    /** Sends the end of the stream (after what was written), keeps reading. */
    void shutdownOutput() throws IOException;

    /** Closes the socket; blocked reads and writes fail. Idempotent. */
    @Override
    void close();
}
