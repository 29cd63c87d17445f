package org.mpbroker.client;

/**
 * Finds where each JSON message ends as its bytes arrive, the first of
 * the JSON decoder's two passes (as in the broker's common/codec_json.c):
 * it remembers how far it has read, so a message that arrives in many
 * pieces is scanned once overall, and it refuses at once what can never
 * become valid: a top level that is not an object, a byte that JSON has
 * nowhere outside strings, a control character or bad escape in a
 * string, an unpaired surrogate escape, a bracket that closes what it
 * did not open, nesting deeper than
 * {@value #MAX_DEPTH}, and an object or run of whitespace longer than the
 * size limit. The grammar and the fields are left to {@link JsonParser},
 * which reads each complete object once.
 */
final class JsonScanner {
    /** Go's encoding/json refuses input nested deeper than this. */
    static final int MAX_DEPTH = 10000;

    private enum State { LEAD, VALUE, STRING, ESCAPE, HEX }

    private final long maxSize;
    private State state = State.LEAD;
    private int off; // bytes of the queue examined (from its head)
    private int depth; // objects and arrays open
    private boolean[] isObject = new boolean[16]; // by depth: an object, or an array
    private int hexLeft; // hex digits still to come in a \\u escape
    private int hexValue;
    private boolean wantLow; // a high surrogate escape needs its low half next
    private long whitespace; // whitespace since the last message, dropped as read

    JsonScanner(long maxSize) {
        this.maxSize = Math.min(maxSize, ByteQueue.MAX_BYTES);
    }

    /**
     * Scans what {@code queue} holds, from where the last call stopped.
     * Whitespace before an object is consumed from the queue as it is
     * read, so that the object starts at the queue's head.
     *
     * @param queue the bytes fed
     * @return the length of the complete object at the queue's head, or
     *         -1 when more bytes are needed
     * @throws DecodeException when the bytes cannot be a valid message
     */
    int scan(ByteQueue queue) {
        if (state == State.LEAD && !skipLead(queue)) {
            return -1;
        }
        int size = queue.size();
        int limit = (int) Math.min(size, maxSize);
        boolean done = scanObject(queue, limit);
        if (done) {
            int length = off;
            reset();
            return length;
        }
        if (limit < size) {
            throw new DecodeException("a JSON message longer than " + maxSize + " bytes");
        }
        return -1;
    }

    /** Consumes whitespace; true when an object starts at the head. */
    private boolean skipLead(ByteQueue queue) {
        int size = queue.size();
        int i = 0;
        while (i < size && isSpace(queue.get(i))) {
            i++;
        }
        queue.consume(i);
        whitespace += i;
        // Whitespace costs memory and time too: bound it like a message,
        // whether or not an object follows, so that the answer does not
        // depend on how the bytes arrived.
        if (whitespace > maxSize) {
            throw new DecodeException("more than " + maxSize
                    + " bytes of whitespace without a message");
        }
        if (i == size) {
            return false;
        }
        if (queue.get(0) != '{') {
            throw new DecodeException("the top level is not a JSON object ("
                    + describe(queue.get(0)) + ")");
        }
        state = State.VALUE;
        depth = 1;
        isObject[1] = true;
        off = 1;
        whitespace = 0;
        return true;
    }

    private void reset() {
        state = State.LEAD;
        off = 0;
        depth = 0;
        wantLow = false;
    }

    /** Scans up to {@code limit}; true when the object ended (at {@link #off}). */
    private boolean scanObject(ByteQueue queue, int limit) {
        byte[] b = queue.array();
        int head = queue.head();
        int i = off;
        boolean done = false;
        while (i < limit && !done) {
            int c = b[head + i] & 0xff;
            switch (state) {
                case STRING -> {
                    // The hot loop: the bulk of a message is string bytes.
                    if (!wantLow) {
                        while (c >= 0x20 && c != '"' && c != '\\') {
                            if (++i == limit) {
                                off = i;
                                return false;
                            }
                            c = b[head + i] & 0xff;
                        }
                    }
                    stringStop(c);
                }
                case VALUE -> done = valueByte(c);
                case ESCAPE -> escapeByte(c);
                default -> hexByte(c);
            }
            i++;
        }
        off = i;
        return done;
    }

    /** One byte outside strings; true when it closes the object. */
    private boolean valueByte(int c) {
        switch (c) {
            case '{', '[' -> {
                if (++depth > MAX_DEPTH) {
                    throw new DecodeException("malformed JSON: nested deeper than " + MAX_DEPTH);
                }
                if (depth == isObject.length) {
                    isObject = java.util.Arrays.copyOf(isObject, Math.min(2 * depth, MAX_DEPTH + 1));
                }
                isObject[depth] = c == '{';
                return false;
            }
            case '}', ']' -> {
                if (isObject[depth] != (c == '}')) {
                    throw new DecodeException("malformed JSON: " + describe(c) + " closes "
                            + (isObject[depth] ? "an object" : "an array"));
                }
                return --depth == 0;
            }
            case '"' -> {
                state = State.STRING;
                return false;
            }
            default -> {
                if (isLiteralByte(c)) {
                    return false;
                }
                throw new DecodeException("malformed JSON: unexpected " + describe(c));
            }
        }
    }

    /** Whitespace, punctuation and the bytes of numbers and literals. */
    private static boolean isLiteralByte(int c) {
        return isSpace(c) || c == ',' || c == ':' || (c >= '0' && c <= '9') || c == '-'
                || c == '+' || c == '.' || c == 'e' || c == 'E' || "truefalsn".indexOf(c) >= 0;
    }

    /** The byte that ended a run of plain string bytes. */
    private void stringStop(int c) {
        if (wantLow && c != '\\') {
            throw new DecodeException("malformed JSON: an unpaired UTF-16 surrogate escape");
        }
        if (c == '"') {
            state = State.VALUE;
        } else if (c == '\\') {
            state = State.ESCAPE;
        } else {
            throw new DecodeException("malformed JSON: a control character (" + describe(c)
                    + ") in a string");
        }
    }

    private void escapeByte(int c) {
        if (c == 'u') {
            state = State.HEX;
            hexLeft = 4;
            hexValue = 0;
            return;
        }
        if (wantLow) {
            throw new DecodeException("malformed JSON: an unpaired UTF-16 surrogate escape");
        }
        if ("\"\\/bfnrt".indexOf(c) < 0) {
            throw new DecodeException("malformed JSON: an invalid escape \\" + describe(c));
        }
        state = State.STRING;
    }

    private void hexByte(int c) {
        int d = hexDigit(c);
        if (d < 0) {
            throw new DecodeException("malformed JSON: a bad \\u escape (" + describe(c) + ")");
        }
        hexValue = hexValue << 4 | d;
        if (--hexLeft > 0) {
            return;
        }
        boolean high = hexValue >= 0xd800 && hexValue <= 0xdbff;
        boolean low = hexValue >= 0xdc00 && hexValue <= 0xdfff;
        // UTF-16 surrogates must come in pairs: Go would read a lone one
        // as U+FFFD, which is not a faithful reading, so it is refused.
        if (wantLow ? !low : low) {
            throw new DecodeException("malformed JSON: an unpaired UTF-16 surrogate escape");
        }
        wantLow = !wantLow && high;
        state = State.STRING;
    }

    /** The value of an ASCII hex digit, or -1. */
    static int hexDigit(int c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        int lower = c | 0x20;
        return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
    }

    /** JSON whitespace: space, tab, newline, carriage return. */
    static boolean isSpace(int c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }

    /** A byte for an error message: 'x' when printable ASCII, else its hex. */
    static String describe(int c) {
        return c > 0x20 && c < 0x7f ? "'" + (char) c + "'" : String.format("byte 0x%02x", c);
    }

    /** Whether the scanner is inside an object (bytes fed that are not a whole message). */
    boolean inObject() {
        return state != State.LEAD;
    }
}
