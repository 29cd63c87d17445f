package org.mpbroker.client;

/**
 * A connection is over; {@link #reason()} says why. Subclasses:
 * {@link ConnectionClosedException} (closed by either side),
 * {@link PeerLeftException}, {@link BrokerLostException}.
 */
public class ConnectionEndedException extends MpException {
    private static final long serialVersionUID = 1L;

    /** @serial */
    private final CloseReason reason;

    /**
     * @param reason why it ended
     * @param message what happened
     */
    public ConnectionEndedException(CloseReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /**
     * @param reason why it ended
     * @param message what happened
     * @param cause the underlying failure
     */
    public ConnectionEndedException(CloseReason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /**
     * Why the connection ended.
     *
     * @return the reason
     */
    public CloseReason reason() {
        return reason;
    }
}
