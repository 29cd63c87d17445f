package org.mpbroker.client;

/**
 * The peer disconnected from the broker (ClientClosed, meta 4) while the
 * connection was open or being opened.
 */
public class PeerLeftException extends ConnectionEndedException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public PeerLeftException(String message) {
        super(CloseReason.PEER_LEFT, message);
    }
}
