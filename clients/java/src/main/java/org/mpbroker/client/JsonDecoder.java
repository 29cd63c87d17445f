package org.mpbroker.client;

/**
 * Reads the JSON format: objects separated by JSON whitespace, in practice
 * one a line as the broker writes them. Each object is found by
 * {@link JsonScanner} as its bytes arrive and then read once by
 * {@link JsonParser}; {@link #next()} returns one message a call, so a
 * line of a million {@code {}} costs one object's work a call and no
 * memory beyond its own bytes.
 */
final class JsonDecoder extends QueueDecoder {
    private final JsonScanner scanner;
    private final JsonParser parser = new JsonParser();

    JsonDecoder(long maxSize) {
        scanner = new JsonScanner(maxSize);
    }

    @Override
    Message decode() {
        int length = scanner.scan(queue);
        if (length < 0) {
            return null;
        }
        Message m = parser.parse(queue.array(), queue.head(), queue.head() + length);
        queue.consume(length);
        return m;
    }

    @Override
    public boolean hasPartial() {
        if (hasFailed()) {
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
