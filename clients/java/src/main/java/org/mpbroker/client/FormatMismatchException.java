package org.mpbroker.client;

/**
 * The listener speaks another wire format than the client's, or refused
 * it: retrying cannot help, so reconnecting gives up at once.
 */
final class FormatMismatchException extends ConnectFailedException {
    private static final long serialVersionUID = 1L;

    FormatMismatchException(String message) {
        super(message);
    }
}
