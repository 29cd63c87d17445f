package org.mpbroker.client;

/**
 * Serves the connections a peer opens for one protocol: the
 * {@code MappedConnectionHandler} of the original, registered with
 * {@link MpClient#handle(String, ConnectionHandler)}.
 *
 * <p>The client accepts the Syn (ConnAck) and then calls the handler with
 * the connection, in a thread of the client's executor (one per
 * connection, see {@link MpClient.Builder#executor}); the handler may block.
 * When it returns, or throws (logged), the connection is closed.
 */
@FunctionalInterface
public interface ConnectionHandler {
    /**
     * Serves one accepted connection.
     *
     * @param connection the connection, open
     * @throws Exception anything: it is logged and the connection closed
     */
    void serve(Connection connection) throws Exception;
}
