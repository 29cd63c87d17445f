package org.mpbroker.client;

/**
 * A send that could not be queued now because the send queue is full; nothing was sent. Wait with Connection.whenWritable() or use the blocking send().
 */
public class WouldBlockException extends MpException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public WouldBlockException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public WouldBlockException(String message, Throwable cause) {
        super(message, cause);
    }
}
