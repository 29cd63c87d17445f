package org.mpbroker.client;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The bytes a decoder was fed and has not consumed: a growable array read
 * from {@code head}, written at {@code tail}. Consumed bytes are dropped by
 * moving the head; they are reclaimed (the rest moved to the front) only
 * when a feed needs the room, so a message costs one copy in and, at most,
 * one move.
 */
final class ByteQueue {
    /**
     * The most bytes a queue holds (a Java array's limit): decoders refuse
     * messages longer than this, whatever their {@code maxSize}.
     */
    static final int MAX_BYTES = Integer.MAX_VALUE - 16;

    private byte[] buf = new byte[256];
    private int head;
    private int tail;

    /** Appends the bytes of {@code bytes} from its position to its limit. */
    void feed(ByteBuffer bytes) {
        int n = bytes.remaining();
        if (n > buf.length - tail) {
            makeRoom(n);
        }
        bytes.get(buf, tail, n);
        tail += n;
    }

    private void makeRoom(int n) {
        int size = tail - head;
        if ((long) size + n > MAX_BYTES) {
            throw new IllegalStateException("a decoder cannot buffer more than " + MAX_BYTES
                    + " bytes: feed less before calling next()");
        }
        if (size + n <= buf.length) {
            System.arraycopy(buf, head, buf, 0, size);
        } else {
            int capacity = (int) Math.min(MAX_BYTES,
                    Math.max((long) size + n, 2L * buf.length));
            byte[] grown = new byte[capacity];
            System.arraycopy(buf, head, grown, 0, size);
            buf = grown;
        }
        head = 0;
        tail = size;
    }

    /** The bytes not consumed. */
    int size() {
        return tail - head;
    }

    /** The byte at {@code i} from the head. */
    int get(int i) {
        return buf[head + i] & 0xff;
    }

    /** The backing array: the bytes are at {@link #head()} + i. */
    byte[] array() {
        return buf;
    }

    /** The index of the first byte not consumed in {@link #array()}. */
    int head() {
        return head;
    }

    /** Drops {@code n} bytes from the head. */
    void consume(int n) {
        head += n;
        if (head == tail) {
            head = 0;
            tail = 0;
        }
    }

    /** Drops everything and frees the memory (a stream that failed). */
    void clear() {
        buf = new byte[0];
        head = 0;
        tail = 0;
    }

    /** A copy of {@code n} bytes from {@code i} past the head. */
    byte[] copy(int i, int n) {
        return Arrays.copyOfRange(buf, head + i, head + i + n);
    }
}
