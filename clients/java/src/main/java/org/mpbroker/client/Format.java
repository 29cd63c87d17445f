package org.mpbroker.client;

import java.util.Locale;

/**
 * The wire formats this client speaks. The client's format must be the
 * one its listener speaks, or any with a listener of
 * {@code translator = "auto"}.
 */
public enum Format {
    /** Length-prefixed binary frames: compact, no escaping, the default. */
    BINARY("binary", BinaryCodec.INSTANCE),
    /** One JSON object per line, the original Go JSON translator's format. */
    JSON("json", JsonCodec.INSTANCE);

    private final String wireName;
    private final Codec codec;

    Format(String wireName, Codec codec) {
        this.wireName = wireName;
        this.codec = codec;
    }

    /**
     * The codec of the format.
     *
     * @return its encoder and decoders
     */
    public Codec codec() {
        return codec;
    }

    /**
     * The name the broker's configuration uses ({@code "binary"},
     * {@code "json"}).
     *
     * @return the name
     */
    public String wireName() {
        return wireName;
    }

    /**
     * The format of a name, as in the broker's configuration or mpcat's
     * {@code -f}.
     *
     * @param name {@code "binary"} or {@code "json"}, in any case
     * @return the format
     * @throws IllegalArgumentException for any other name
     */
    public static Format of(String name) {
        for (Format f : values()) {
            if (f.wireName.equals(name.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown format '" + name + "': want binary or json");
    }

    /**
     * The format that a stream starting with this byte is in, as the
     * broker's {@code auto} listeners tell: a zero byte is binary,
     * <code>&#123;</code> or whitespace JSON.
     *
     * @param first the first byte of a stream
     * @return the format, or {@code null} for neither
     */
    public static Format sniff(byte first) {
        if (first == 0) {
            return BINARY;
        }
        if (first == '{' || first == ' ' || first == '\t' || first == '\n' || first == '\r') {
            return JSON;
        }
        return null;
    }
}
