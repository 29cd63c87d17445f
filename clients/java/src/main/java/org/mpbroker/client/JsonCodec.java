package org.mpbroker.client;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The JSON format of doc/protocol.md ("JSON"): one object a line, written
 * exactly as the broker and the original Go translator write it, read as
 * the broker reads it. As the Python client's {@code encode_json} and
 * {@code JsonDecoder}.
 */
final class JsonCodec implements Codec {
    static final JsonCodec INSTANCE = new JsonCodec();

    private JsonCodec() {
    }

    /**
     * {@inheritDoc}
     *
     * <p>The keys Meta, OtherClient, ConnectionID and Data in that order,
     * no spaces, strings escaped as Go escapes them, Data in padded base64
     * ({@code null} when absent, {@code ""} when empty), then
     * {@code "Level":N} when the message announces a level, and a newline.
     */
    @Override
    public byte[] encode(Message message) {
        Utf8.name("otherClient", message.otherClient());
        Utf8.name("connectionId", message.connectionId());
        byte[] data = message.data();
        StringBuilder out = new StringBuilder(96 + (data == null ? 0 : data.length / 3 * 4 + 4));
        out.append("{\"Meta\":").append(message.meta()).append(",\"OtherClient\":");
        GoJson.appendString(out, message.otherClient());
        out.append(",\"ConnectionID\":");
        GoJson.appendString(out, message.connectionId());
        out.append(",\"Data\":");
        if (data == null) {
            out.append("null");
        } else {
            out.append('"').append(Base64.getEncoder().encodeToString(data)).append('"');
        }
        if (message.level() != 0) {
            out.append(",\"Level\":").append(message.level());
        }
        return out.append("}\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException when {@code maxSize} is below 16
     */
    @Override
    public Decoder decoder(long maxSize) {
        return new JsonDecoder(BinaryCodec.checkMaxSize(maxSize));
    }

    /**
     * The longest line the broker writes for a message it accepted: its
     * data is shorter than {@code maxMessageSize}, base64 makes it 4/3,
     * both names may be 255 bytes that each escape to 6 ({@code <} as
     * <code>&#92;u003c</code>), plus the keys, punctuation and newline (at most 96
     * bytes, as common/codec_json.c counts them). The Python client's
     * {@code json_worst_case}.
     */
    @Override
    public long maxReceivedSize(long maxMessageSize) {
        return 96 + 2L * 6 * Utf8.NAME_MAX + 4 * ((maxMessageSize + 2) / 3);
    }
}
