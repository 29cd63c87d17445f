package org.mpbroker.client;

/** Stub: see the codec task. */
final class BinaryCodec implements Codec {
    static final BinaryCodec INSTANCE = new BinaryCodec();

    private BinaryCodec() {
    }

    @Override
    public byte[] encode(Message message) {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public Decoder decoder(long maxSize) {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public long maxReceivedSize(long maxMessageSize) {
        throw new UnsupportedOperationException("not yet");
    }
}
