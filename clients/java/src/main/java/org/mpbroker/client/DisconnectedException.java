package org.mpbroker.client;

/**
 * The client lost the broker and is reconnecting
 * ({@link MpClient.Builder#reconnect(boolean)}): the call cannot be served
 * now. Nothing is buffered while reconnecting; try again once
 * {@link ClientListener#reconnected()} was called.
 */
public class DisconnectedException extends BrokerLostException {
    private static final long serialVersionUID = 1L;

    /**
     * @param detail what happened
     */
    public DisconnectedException(String detail) {
        super(detail);
    }
}
