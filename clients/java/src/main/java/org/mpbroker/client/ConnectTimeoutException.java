package org.mpbroker.client;

/**
 * No completed login within the connect timeout.
 */
public class ConnectTimeoutException extends ConnectFailedException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public ConnectTimeoutException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public ConnectTimeoutException(String message, Throwable cause) {
        super(message, cause);
    }
}
