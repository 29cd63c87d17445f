package org.mpbroker.client;

import java.nio.ByteBuffer;

/**
 * The binary format of doc/protocol.md ("Binary"): a big-endian u32
 * LENGTH of the rest, then meta, flags, name length, id length, the level
 * when {@link #HAS_LEVEL} is set, the name, the connection id and the
 * data. As the Python client's {@code encode_binary}, byte for byte.
 */
final class BinaryCodec implements Codec {
    static final BinaryCodec INSTANCE = new BinaryCodec();

    /** Flags bit 0: data is present (even with no bytes). */
    static final int HAS_DATA = 0x01;
    /** Flags bit 1: a level byte follows the fixed header. */
    static final int HAS_LEVEL = 0x02;
    /** Flags bits 2-7: reserved, must be zero. */
    static final int FLAGS_RESERVED = 0xfc;

    private BinaryCodec() {
    }

    @Override
    public byte[] encode(Message message) {
        byte[] name = Utf8.name("otherClient", message.otherClient());
        byte[] id = Utf8.name("connectionId", message.connectionId());
        byte[] data = message.data();
        boolean hasLevel = message.level() != 0;
        long length = 4L + (hasLevel ? 1 : 0) + name.length + id.length
                + (data == null ? 0 : data.length);
        if (length + 4 > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("a message of " + length + " bytes is too long");
        }
        ByteBuffer out = ByteBuffer.allocate((int) length + 4);
        out.putInt((int) length);
        out.put((byte) message.meta());
        out.put((byte) ((data == null ? 0 : HAS_DATA) | (hasLevel ? HAS_LEVEL : 0)));
        out.put((byte) name.length);
        out.put((byte) id.length);
        if (hasLevel) {
            out.put((byte) message.level());
        }
        out.put(name).put(id);
        if (data != null) {
            out.put(data);
        }
        return out.array();
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException when {@code maxSize} is below 16
     */
    @Override
    public Decoder decoder(long maxSize) {
        return new BinaryDecoder(checkMaxSize(maxSize));
    }

    /**
     * The longest frame the broker writes for a message it accepted: the
     * data, both names at 255 bytes (the broker puts the sender's name where
     * the sender wrote the target's), the length, the four header bytes and
     * a level byte. The Python client's {@code binary_worst_case}.
     */
    @Override
    public long maxReceivedSize(long maxMessageSize) {
        return 4 + 5 + 2L * Utf8.NAME_MAX + maxMessageSize;
    }

    /** The Python client's lower bound on a decoder's size limit. */
    static long checkMaxSize(long maxSize) {
        if (maxSize < 16) {
            throw new IllegalArgumentException("maxSize " + maxSize + " is below 16");
        }
        return maxSize;
    }
}
