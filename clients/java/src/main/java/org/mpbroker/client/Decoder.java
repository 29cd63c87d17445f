package org.mpbroker.client;

import java.nio.ByteBuffer;

/**
 * Reads the messages of one stream, incrementally: bytes go in with
 * {@link #feed(ByteBuffer)} in pieces of any size, whole messages come out
 * of {@link #next()}. Not thread-safe: one reader owns it.
 *
 * <p>Memory is bounded by the caller: a decoder keeps at most the bytes fed
 * that {@link #next()} has not consumed, and a message longer than the
 * decoder's {@code maxSize} is refused as soon as it is known, so a reader
 * that feeds a chunk only once {@code next()} returned {@code null} holds
 * at most one message and one chunk.
 */
public interface Decoder {
    /**
     * Appends bytes read from the stream.
     *
     * @param bytes the bytes from its position to its limit; all of them
     *        are consumed (the buffer's position moves to its limit)
     */
    void feed(ByteBuffer bytes);

    /**
     * The next whole message of the bytes fed so far.
     *
     * @return the message, or {@code null} when more bytes are needed
     * @throws DecodeException when the bytes are not a valid message of the
     *         format, or one over the size limit; the stream cannot go on
     *         after that (every later call throws it again)
     */
    Message next();

    /**
     * Whether bytes fed are waiting that are not a whole message: at the
     * end of a stream, a truncated message.
     *
     * @return true if a partial message is buffered
     */
    boolean hasPartial();
}
