package org.mpbroker.client;

/**
 * The broker refused the login because another session holds the name
 * (its {@code duplicate_names = "reject"}): reason
 * {@code "name already in use"}.
 */
public class NameTakenException extends AuthException {
    private static final long serialVersionUID = 1L;

    /**
     * @param reason the broker's text
     * @param message the whole message
     */
    public NameTakenException(String reason, String message) {
        super(reason, message);
    }
}
