package org.mpbroker.client;

import java.nio.ByteBuffer;

/**
 * Reads the JSON format: objects separated by JSON whitespace, in practice
 * one a line as the broker writes them. Each object is found by
 * {@link JsonScanner} as its bytes arrive and then read once by
 * {@link JsonParser}; {@link #next()} returns one message a call, so a
 * line of a million {@code {}} costs one object's work a call and no
 * memory beyond its own bytes.
 */
final class JsonDecoder implements Decoder {
    private final ByteQueue queue = new ByteQueue();
    private final JsonScanner scanner;
    private final JsonParser parser = new JsonParser();
    private DecodeException failed;

    JsonDecoder(long maxSize) {
        scanner = new JsonScanner(maxSize);
    }

    @Override
    public void feed(ByteBuffer bytes) {
        if (failed != null) {
            bytes.position(bytes.limit()); // the stream is over: keep nothing
            return;
        }
        queue.feed(bytes);
    }

    @Override
    public Message next() {
        if (failed != null) {
            throw failed;
        }
        try {
            int length = scanner.scan(queue);
            if (length < 0) {
                return null;
            }
            Message m = parser.parse(queue.array(), queue.head(), queue.head() + length);
            queue.consume(length);
            return m;
        } catch (DecodeException e) {
            failed = e;
            queue.clear();
            throw e;
        }
    }

    @Override
    public boolean hasPartial() {
        if (failed != null) {
            return false; // nothing is kept after an error
        }
        if (scanner.inObject()) {
            return true;
        }
        for (int i = 0; i < queue.size(); i++) {
            if (!JsonScanner.isSpace(queue.get(i))) {
                return true;
            }
        }
        return false;
    }
}
