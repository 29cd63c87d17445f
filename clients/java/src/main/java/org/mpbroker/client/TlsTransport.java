package org.mpbroker.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLSocket;

/**
 * A TLS connection, as an {@link SSLSocket} whose handshake is done. The
 * JDK's TLS socket lets one thread read while another writes.
 */
final class TlsTransport implements Transport {
    private final SSLSocket socket;
    private final InputStream in;
    private final OutputStream out;

    TlsTransport(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    @Override
    public int read(ByteBuffer into) throws IOException {
        int n = in.read(into.array(), into.arrayOffset() + into.position(), into.remaining());
        if (n > 0) {
            into.position(into.position() + n);
        }
        return n;
    }

    @Override
    public void write(ByteBuffer bytes) throws IOException {
        if (bytes.hasArray()) {
            out.write(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
            bytes.position(bytes.limit());
        } else {
            byte[] copy = new byte[bytes.remaining()];
            bytes.get(copy);
            out.write(copy);
        }
        out.flush();
    }

    @Override
    public void shutdownOutput() throws IOException {
        // TLS has no half-close that every peer understands: close_notify
        // would end the session. Closing is left to close().
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // Already broken.
        }
    }
}
