package org.mpbroker.client;

/**
 * Bytes that are not a valid message of the wire format, or a message over the size limit.
 */
public class DecodeException extends MpException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public DecodeException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public DecodeException(String message, Throwable cause) {
        super(message, cause);
    }
}
