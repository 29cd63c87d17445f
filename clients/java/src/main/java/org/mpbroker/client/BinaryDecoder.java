package org.mpbroker.client;

import java.nio.charset.StandardCharsets;

/**
 * Reads the binary format: length-prefixed frames back to back
 * (doc/protocol.md, "Binary"). A frame over the size limit is refused as
 * soon as its four-byte length has arrived.
 */
final class BinaryDecoder extends QueueDecoder {
    private final long maxSize;

    BinaryDecoder(long maxSize) {
        this.maxSize = Math.min(maxSize, ByteQueue.MAX_BYTES);
    }

    @Override
    Message decode() {
        if (queue.size() < 4) {
            return null;
        }
        long length = (long) queue.get(0) << 24 | queue.get(1) << 16 | queue.get(2) << 8 | queue.get(3);
        if (length + 4 > maxSize) {
            throw new DecodeException("a binary frame of " + (length + 4) + " bytes is over "
                    + maxSize);
        }
        if (queue.size() - 4 < length) {
            return null;
        }
        Message m = parse(queue.array(), queue.head() + 4, (int) length);
        queue.consume(4 + (int) length);
        return m;
    }

    /** The frame of {@code length} bytes after its LENGTH at {@code b[from]}. */
    private static Message parse(byte[] b, int from, int length) {
        if (length < 4) {
            throw new DecodeException("a binary frame shorter than its header (LENGTH "
                    + length + ")");
        }
        int meta = b[from] & 0xff;
        int flags = b[from + 1] & 0xff;
        int nameLength = b[from + 2] & 0xff;
        int idLength = b[from + 3] & 0xff;
        if ((flags & BinaryCodec.FLAGS_RESERVED) != 0) {
            throw new DecodeException(String.format(
                    "reserved flag bits set in a binary frame (flags 0x%02x)", flags));
        }
        int pos = 4;
        int level = 0;
        if ((flags & BinaryCodec.HAS_LEVEL) != 0) {
            if (length < 5) {
                throw new DecodeException("a binary frame too short for its level");
            }
            level = b[from + 4] & 0xff;
            pos = 5;
        }
        if (length < pos + nameLength + idLength) {
            throw new DecodeException("a binary frame too short for its names (LENGTH " + length
                    + ", names " + nameLength + " + " + idLength + " bytes)");
        }
        String name = name(b, from + pos, nameLength);
        String id = name(b, from + pos + nameLength, idLength);
        pos += nameLength + idLength;
        byte[] data = null;
        if ((flags & BinaryCodec.HAS_DATA) != 0) {
            data = java.util.Arrays.copyOfRange(b, from + pos, from + length);
        } else if (pos != length) {
            throw new DecodeException("data bytes in a binary frame without HAS_DATA ("
                    + (length - pos) + " bytes)");
        }
        return new Message(meta, name, id, data, level);
    }

    private static String name(byte[] b, int from, int length) {
        if (Utf8.invalidAt(b, from, from + length) >= 0) {
            throw new DecodeException("a name in a binary frame is not valid UTF-8");
        }
        return new String(b, from, length, StandardCharsets.UTF_8);
    }

    @Override
    public boolean hasPartial() {
        return queue.size() > 0;
    }
}
