package org.mpbroker.client;

/**
 * The base class of every exception of this client. It is unchecked, as
 * the failures of a network client are found by the caller's catch, not
 * forced on every line, and as {@link java.util.concurrent.CompletableFuture}
 * carries it unchanged; each subclass names one way to fail, and
 * {@link #getMessage()} says what happened and what to check.
 */
public class MpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what happened
     */
    public MpException(String message) {
        super(message);
    }

    /**
     * @param message what happened
     * @param cause the underlying failure
     */
    public MpException(String message, Throwable cause) {
        super(message, cause);
    }
}
