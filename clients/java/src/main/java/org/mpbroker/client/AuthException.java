package org.mpbroker.client;

/**
 * The broker refused the login with AuthFailure (meta 10).
 * {@link #reason()} is the broker's text, e.g. {@code "invalid name or
 * secret"}; the message adds what to check.
 */
public class AuthException extends MpException {
    private static final long serialVersionUID = 1L;

    /** The broker's reason when it asks to try again (its login throttle, a cluster registry down). */
    public static final String RETRY_LATER = "try again later";

    /** @serial */
    private final String reason;

    /**
     * @param reason the broker's text
     * @param message the whole message: the reason and what to check
     */
    public AuthException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    /**
     * The broker's reason, as it sent it.
     *
     * @return the reason
     */
    public String reason() {
        return reason;
    }

    /**
     * Whether logging in again later may succeed: the broker said
     * "try again later".
     *
     * @return true when the refusal is temporary
     */
    public boolean isTemporary() {
        return reason.endsWith(RETRY_LATER);
    }
}
