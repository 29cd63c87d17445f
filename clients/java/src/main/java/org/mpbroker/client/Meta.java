package org.mpbroker.client;

/**
 * What a message is: the meta values of the protocol, with the wire values
 * of the original MessagePasser (Go, 2015). See {@code doc/protocol.md}.
 *
 * <p>Meta is an {@code int} in {@link Message} rather than an enum because a
 * broker may send values this client does not know (they are ignored).
 */
public final class Meta {
    /** client: a message on an open connection. */
    public static final int DATA = 0;
    /** broker: "I did not understand that message" (data = reason). */
    public static final int WAT = 1;
    /** broker/client: the target client or connection does not exist. */
    public static final int NO_SUCH_CONNECTION = 2;
    /** client: Syn refused, no handler for that protocol. */
    public static final int UNKNOWN_PROTO = 3;
    /** broker: {@code other_client} has disconnected. */
    public static final int CLIENT_CLOSED = 4;
    /** client: open connection {@code connection_id}; data = protocol name. */
    public static final int CONN_SYN = 5;
    /** client: accept a Syn. */
    public static final int CONN_ACK = 6;
    /** client: close a connection. */
    public static final int CONN_CLOSED = 7;
    /** client: first message: other_client = own name, data = secret. */
    public static final int AUTH = 8;
    /** broker: logged in; other_client = the name now owned. */
    public static final int AUTH_OK = 9;
    /** broker: login refused; data = a short reason. */
    public static final int AUTH_FAILURE = 10;
    /** level 2: credit for a connection. */
    public static final int CREDIT = 11;
    /** level 2: watch a name. */
    public static final int WATCH = 12;
    /** level 2: stop watching a name. */
    public static final int UNWATCH = 13;
    /** level 2: a watched name came or went. */
    public static final int PRESENCE = 14;
    /** level 2: the names online. */
    public static final int LIST = 15;
    /** level 2: a Syn refused on purpose, with a reason. */
    public static final int DENIED = 16;
    /** level 2: this session was replaced by a newer login of its name. */
    public static final int REPLACED = 17;
    /** level 2: the broker shuts down. */
    public static final int GOING_AWAY = 18;

    private static final String[] NAMES = {
        "Data", "WAT", "NoSuchConnection", "UnknownProto", "ClientClosed",
        "ConnSyn", "ConnAck", "ConnClosed", "Auth", "AuthOk", "AuthFailure",
        "Credit", "Watch", "Unwatch", "Presence", "List", "Denied",
        "Replaced", "GoingAway",
    };

    private Meta() {
    }

    /**
     * The protocol's name of a meta value ("ConnSyn"), or "meta N" for one
     * this client does not know.
     *
     * @param meta a meta value, 0-255
     * @return its name
     */
    public static String name(int meta) {
        return meta >= 0 && meta < NAMES.length ? NAMES[meta] : "meta " + meta;
    }
}
