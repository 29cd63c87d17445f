package org.mpbroker.client;

/**
 * A message whose encoding would exceed the maximum message size; nothing was sent.
 */
public class MessageTooBigException extends MpException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public MessageTooBigException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public MessageTooBigException(String message, Throwable cause) {
        super(message, cause);
    }
}
