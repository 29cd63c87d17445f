package org.mpbroker.client;

/**
 * A wire format: how messages are put on the wire and read back. The two
 * this client speaks are {@link Format#BINARY} and {@link Format#JSON}
 * ({@link Format#codec()}); both are byte for byte those of
 * {@code doc/protocol.md}. Codecs are stateless and thread-safe; each
 * {@link Decoder} belongs to one stream.
 */
public interface Codec {
    /**
     * Encodes one message as it goes on the wire (a binary frame with its
     * length; a JSON line with its newline).
     *
     * @param message the message
     * @return its bytes, a new array
     * @throws IllegalArgumentException when a name is over 255 bytes of
     *         UTF-8 or is not valid UTF-16 (an unpaired surrogate)
     */
    byte[] encode(Message message);

    /**
     * A decoder for one stream of this format.
     *
     * @param maxSize the largest encoded message accepted, in bytes; a
     *        longer one is a {@link DecodeException} as soon as that is
     *        known (from a binary length prefix, or when a JSON line passes
     *        it without ending)
     * @return a new decoder
     */
    Decoder decoder(long maxSize);

    /**
     * The longest encoding of a message that a sender encoded, in any
     * format, within {@code maxMessageSize}: the broker re-encodes each
     * message for its recipient, puts the sender's name in it, and JSON
     * carries data in base64 and may escape a name's bytes as
     * {@code \u003c}. A reader accepts this much.
     *
     * @param maxMessageSize the broker's {@code max_message_size}
     * @return the size to give {@link #decoder(long)}
     */
    long maxReceivedSize(long maxMessageSize);
}
