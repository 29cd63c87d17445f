package org.mpbroker.client;

/**
 * The connection was closed, by the peer ({@link CloseReason#BY_PEER}) or
 * by this side ({@link CloseReason#LOCAL}).
 */
public class ConnectionClosedException extends ConnectionEndedException {
    private static final long serialVersionUID = 1L;

    /**
     * @param reason BY_PEER or LOCAL
     * @param message what happened
     */
    public ConnectionClosedException(CloseReason reason, String message) {
        super(reason, message);
    }
}
