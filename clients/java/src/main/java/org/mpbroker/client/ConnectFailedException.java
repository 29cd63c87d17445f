package org.mpbroker.client;

/**
 * The broker could not be reached, or the socket failed during the login. The message names each address tried and how it failed.
 */
public class ConnectFailedException extends MpException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public ConnectFailedException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public ConnectFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
