package org.mpbroker.client;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;

/**
 * The wire formats as the fake broker speaks them: its own small encoder
 * and reader of doc/protocol.md, written apart from the client's codecs so
 * that the fake does not share the bugs of the code it tests (and works
 * before those codecs exist). The reader only needs to read what a client
 * writes: binary frames, or JSON objects one a line.
 */
final class FakeWire {
    private FakeWire() {
    }

    /** Longest name, in bytes (doc/protocol.md). */
    static final int NAME_MAX = 255;

    /**
     * One message as the broker writes it.
     *
     * @param format the wire format
     * @param meta the meta value
     * @param other other_client
     * @param connId connection_id
     * @param data the data, or null for absent
     * @return its bytes (a frame, or a line with its newline)
     */
    static byte[] encode(Format format, int meta, String other, String connId, byte[] data) {
        return format == Format.BINARY ? binary(meta, other, connId, data)
                : json(meta, other, connId, data);
    }

    static byte[] binary(int meta, String other, String connId, byte[] data) {
        byte[] name = other.getBytes(StandardCharsets.UTF_8);
        byte[] id = connId.getBytes(StandardCharsets.UTF_8);
        int dataLength = data == null ? 0 : data.length;
        ByteBuffer b = ByteBuffer.allocate(8 + name.length + id.length + dataLength);
        b.putInt(4 + name.length + id.length + dataLength);
        b.put((byte) meta).put((byte) (data == null ? 0 : 1));
        b.put((byte) name.length).put((byte) id.length).put(name).put(id);
        if (data != null) {
            b.put(data);
        }
        return b.array();
    }

    static byte[] json(int meta, String other, String connId, byte[] data) {
        String d = data == null ? "null" : "\"" + Base64.getEncoder().encodeToString(data) + "\"";
        String line = "{\"Meta\":" + meta + ",\"OtherClient\":" + quote(other)
                + ",\"ConnectionID\":" + quote(connId) + ",\"Data\":" + d + "}\n";
        return line.getBytes(StandardCharsets.UTF_8);
    }

    /** A JSON string, escaped as the broker escapes (Go's encoding/json). */
    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '<', '>', '&' -> out.append(String.format("\\u%04x", (int) c));
                default -> out.append(c < 0x20 ? String.format("\\u%04x", (int) c) : c);
            }
        }
        return out.append('"').toString();
    }

    /**
     * The longest encoding of a message legal under the broker's
     * {@code max_message_size}: what a client must accept and no more (the
     * Python client's {@code max_received_size}, mpclient/codec.py).
     *
     * @param format the wire format
     * @param maxMessageSize the broker's limit
     * @return the size in bytes
     */
    static long maxReceivedSize(Format format, long maxMessageSize) {
        if (format == Format.BINARY) {
            return 4 + 5 + 2 * NAME_MAX + maxMessageSize;
        }
        return 96 + 2 * 6 * NAME_MAX + 4 * ((maxMessageSize + 2) / 3);
    }

    /** Reads the messages a client writes, incrementally. */
    static final class Reader {
        private final Format format;
        private byte[] buf = new byte[4096];
        private int length;

        Reader(Format format) {
            this.format = format;
        }

        /** Appends {@code n} bytes read from the stream. */
        void feed(byte[] bytes, int n) {
            if (length + n > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, length + n));
            }
            System.arraycopy(bytes, 0, buf, length, n);
            length += n;
        }

        /** The next whole message, or null when more bytes are needed. */
        Message next() {
            int end = format == Format.BINARY ? frameEnd() : lineEnd();
            if (end < 0) {
                return null;
            }
            byte[] one = Arrays.copyOfRange(buf, 0, end);
            System.arraycopy(buf, end, buf, 0, length - end);
            length -= end;
            return format == Format.BINARY ? parseBinary(one) : new JsonLine(one).parse();
        }

        private int frameEnd() {
            if (length < 4) {
                return -1;
            }
            long frame = 4 + (ByteBuffer.wrap(buf, 0, 4).getInt() & 0xFFFFFFFFL);
            return frame <= length ? (int) frame : -1;
        }

        private int lineEnd() {
            for (int i = 0; i < length; i++) {
                if (buf[i] == '\n') {
                    return i + 1;
                }
            }
            return -1;
        }
    }

    static Message parseBinary(byte[] frame) {
        ByteBuffer b = ByteBuffer.wrap(frame);
        b.getInt();
        int meta = b.get() & 0xFF;
        int flags = b.get() & 0xFF;
        int nameLength = b.get() & 0xFF;
        int idLength = b.get() & 0xFF;
        int level = (flags & 2) != 0 ? b.get() & 0xFF : 0;
        String name = utf8(b, nameLength);
        String id = utf8(b, idLength);
        byte[] data = null;
        if ((flags & 1) != 0) {
            data = new byte[b.remaining()];
            b.get(data);
        } else if (b.hasRemaining()) {
            throw new IllegalStateException("data bytes without HAS_DATA in " + Arrays.toString(frame));
        }
        return new Message(meta, name, id, data, level);
    }

    private static String utf8(ByteBuffer b, int n) {
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    /**
     * One JSON object of the one message shape: keys Meta, OtherClient,
     * ConnectionID, Data, Level (any case, any order), values numbers,
     * strings or null. Enough for what a client writes; anything else is
     * an IllegalStateException.
     */
    private static final class JsonLine {
        private final String text;
        private int pos;

        JsonLine(byte[] line) {
            this.text = new String(line, StandardCharsets.UTF_8).strip();
        }

        Message parse() {
            int meta = 0;
            int level = 0;
            String other = "";
            String id = "";
            byte[] data = null;
            expect('{');
            while (peek() != '}') {
                String key = string().toLowerCase(Locale.ROOT);
                expect(':');
                Object value = value();
                switch (key) {
                    case "meta" -> meta = ((Long) value).intValue();
                    case "level" -> level = ((Long) value).intValue();
                    case "otherclient" -> other = (String) value;
                    case "connectionid" -> id = (String) value;
                    case "data" -> data = value == null ? null
                            : Base64.getDecoder().decode((String) value);
                    default -> throw fail("unknown key " + key);
                }
                if (peek() == ',') {
                    pos++;
                }
            }
            return new Message(meta, other, id, data, level);
        }

        private Object value() {
            char c = peek();
            if (c == '"') {
                return string();
            }
            if (text.startsWith("null", pos)) {
                pos += 4;
                return null;
            }
            int start = pos;
            while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
                pos++;
            }
            if (start == pos) {
                throw fail("a value");
            }
            return Long.parseLong(text.substring(start, pos));
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = text.charAt(pos++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'u' -> {
                        out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> out.append(e); // \" \\ \/
                }
            }
        }

        private char peek() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
            if (pos >= text.length()) {
                throw fail("more");
            }
            return text.charAt(pos);
        }

        private void expect(char c) {
            if (peek() != c) {
                throw fail("'" + c + "'");
            }
            pos++;
        }

        private IllegalStateException fail(String wanted) {
            return new IllegalStateException("not a client's JSON message: wanted " + wanted
                    + " at " + pos + " of " + text);
        }
    }
}
