package org.mpbroker.client;

/**
 * The peer is not connected to the broker: the broker bounced the Syn
 * (NoSuchConnection, meta 2).
 */
public class NoSuchClientException extends OpenException {
    private static final long serialVersionUID = 1L;

    /**
     * @param peer the peer asked
     * @param protocol the protocol asked
     */
    public NoSuchClientException(String peer, String protocol) {
        super(peer, protocol, "cannot open '" + protocol + "' to " + peer
                + ": no client of that name is connected to the broker");
    }
}
