package org.mpbroker.client;

import java.nio.ByteBuffer;

/**
 * What both decoders share: the bytes fed wait in a {@link ByteQueue}
 * until {@link #decode()} takes a whole message from its head, and a
 * stream that failed stays failed: every later {@link #next()} throws the
 * same error and nothing more is kept.
 */
abstract class QueueDecoder implements Decoder {
    /** The bytes fed and not yet decoded. */
    final ByteQueue queue = new ByteQueue();
    private DecodeException failed;

    @Override
    public final void feed(ByteBuffer bytes) {
        if (failed != null) {
            bytes.position(bytes.limit()); // the stream is over: keep nothing
            return;
        }
        queue.feed(bytes);
    }

    @Override
    public final Message next() {
        if (failed != null) {
            throw failed;
        }
        try {
            return decode();
        } catch (DecodeException e) {
            failed = e;
            queue.clear();
            throw e;
        }
    }

    /**
     * The message at the head of {@link #queue}, consumed, or null when
     * more bytes are needed.
     *
     * @throws DecodeException when the bytes are not a valid message
     */
    abstract Message decode();

    /** Whether the stream failed (nothing is kept after that). */
    final boolean hasFailed() {
        return failed != null;
    }
}
