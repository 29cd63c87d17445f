package org.mpbroker.client;

import java.util.Arrays;
import java.util.Objects;

/**
 * One protocol message, as every wire format carries it:
 * {@code {meta, other_client, connection_id, data}}, plus the protocol
 * level a client may announce at Auth.
 *
 * <p>{@code data} is {@code null} when absent and an empty array when
 * present but empty: the two differ on the wire (JSON {@code null} vs
 * {@code ""}). The record does not copy the array: a caller that hands one
 * in must not change it afterwards.
 *
 * @param meta what the message is, 0-255 (see {@link Meta})
 * @param otherClient the peer's name: the target when sending, the sender
 *        when received; at most 255 bytes of UTF-8
 * @param connectionId the connection, {@code <initiator>:<suffix>}; at most
 *        255 bytes of UTF-8
 * @param data the payload, or {@code null} when absent
 * @param level the protocol level announced (Auth only), or 0 for none
 */
public record Message(int meta, String otherClient, String connectionId, byte[] data, int level) {
    /**
     * Checks that the fields are in range: meta and level 0-255, names not
     * null.
     *
     * @param meta what the message is, 0-255
     * @param otherClient the peer's name
     * @param connectionId the connection id
     * @param data the payload, or {@code null} when absent
     * @param level the level announced, or 0
     */
    public Message {
        if (meta < 0 || meta > 255) {
            throw new IllegalArgumentException("meta " + meta + " is not 0-255");
        }
        if (level < 0 || level > 255) {
            throw new IllegalArgumentException("level " + level + " is not 0-255");
        }
        Objects.requireNonNull(otherClient, "otherClient");
        Objects.requireNonNull(connectionId, "connectionId");
    }

    /**
     * A message that announces no level.
     *
     * @param meta what the message is
     * @param otherClient the peer's name
     * @param connectionId the connection id
     * @param data the payload, or {@code null} when absent
     */
    public Message(int meta, String otherClient, String connectionId, byte[] data) {
        this(meta, otherClient, connectionId, data, 0);
    }

    /** Equal when every field is, data compared by content. */
    @Override
    public boolean equals(Object other) {
        return other instanceof Message m && meta == m.meta && level == m.level
                && otherClient.equals(m.otherClient) && connectionId.equals(m.connectionId)
                && Arrays.equals(data, m.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(meta, otherClient, connectionId, Arrays.hashCode(data), level);
    }

    /** A short form for logs: meta name, names and the size of the data. */
    @Override
    public String toString() {
        return Meta.name(meta) + "{otherClient=" + otherClient + ", connectionId=" + connectionId
                + ", data=" + (data == null ? "absent" : data.length + " bytes")
                + (level != 0 ? ", level=" + level : "") + "}";
    }
}
