package org.mpbroker.client;

/**
 * The TLS handshake failed: certificate verification, the host name, or a broker that does not speak TLS.
 */
public class TlsException extends ConnectFailedException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public TlsException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public TlsException(String message, Throwable cause) {
        super(message, cause);
    }
}
