package org.mpbroker.client;

/** Why a connection ended (the values of libmpclient's {@code enum mp_close_reason}). */
public enum CloseReason {
    /** The peer closed it. */
    BY_PEER("closed by the peer"),
    /** The peer disconnected from the broker (ClientClosed). */
    PEER_LEFT("the peer left the broker"),
    /** This client lost the broker. */
    BROKER_LOST("the broker connection was lost"),
    /** This side closed it ({@link Connection#close()}, or the client was closed). */
    LOCAL("closed by this side");

    private final String text;

    CloseReason(String text) {
        this.text = text;
    }

    /**
     * A short English text for the reason.
     *
     * @return the text
     */
    public String describe() {
        return text;
    }
}
