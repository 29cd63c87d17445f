package org.mpbroker.client;

/**
 * {@link MpClient#open} (or a request) was refused. {@link #peer()} and
 * {@link #protocol()} say which.
 */
public class OpenException extends MpException {
    private static final long serialVersionUID = 1L;

    /** @serial */
    private final String peer;
    /** @serial */
    private final String protocol;

    /**
     * @param peer the peer asked
     * @param protocol the protocol asked
     * @param message what happened
     */
    public OpenException(String peer, String protocol, String message) {
        super(message);
        this.peer = peer;
        this.protocol = protocol;
    }

    /**
     * The peer the connection was asked of.
     *
     * @return its name
     */
    public String peer() {
        return peer;
    }

    /**
     * The protocol asked.
     *
     * @return the protocol string
     */
    public String protocol() {
        return protocol;
    }
}
