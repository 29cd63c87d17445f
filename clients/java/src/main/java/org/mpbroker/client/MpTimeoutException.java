package org.mpbroker.client;

/**
 * A blocking call did not complete within its timeout. What it started is withdrawn (an open() sends ConnClosed; a request closes its connection).
 */
public class MpTimeoutException extends MpException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public MpTimeoutException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public MpTimeoutException(String message, Throwable cause) {
        super(message, cause);
    }
}
