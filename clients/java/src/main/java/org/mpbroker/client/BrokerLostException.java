package org.mpbroker.client;

/**
 * The connection to the broker was lost after the login: it stopped, the
 * network failed, or it sent something this client cannot read.
 * {@link #detail()} says which. Every connection of the session ends with
 * it.
 */
public class BrokerLostException extends ConnectionEndedException {
    private static final long serialVersionUID = 1L;

    /** @serial */
    private final String detail;

    /**
     * @param detail what happened (e.g. "the broker closed the socket")
     */
    public BrokerLostException(String detail) {
        super(CloseReason.BROKER_LOST, "lost the broker: " + detail);
        this.detail = detail;
    }

    /**
     * @param detail what happened
     * @param cause the underlying failure
     */
    public BrokerLostException(String detail, Throwable cause) {
        super(CloseReason.BROKER_LOST, "lost the broker: " + detail, cause);
        this.detail = detail;
    }

    /**
     * What happened to the broker connection.
     *
     * @return the detail
     */
    public String detail() {
        return detail;
    }
}
