package org.mpbroker.client;

/**
 * The peer refused the Syn with UnknownProto (meta 3): it has no handler
 * for the protocol, or the broker's authorization or a connection limit
 * refused it (a level-1 broker says the same for both).
 */
public class UnknownProtocolException extends OpenException {
    private static final long serialVersionUID = 1L;

    /**
     * @param peer the peer asked
     * @param protocol the protocol asked
     */
    public UnknownProtocolException(String peer, String protocol) {
        super(peer, protocol, "cannot open '" + protocol + "' to " + peer
                + ": unknown protocol (the peer has no handler for it, or the broker's"
                + " authorization or a connection limit refused it)");
    }
}
