package org.mpbroker.client;

/**
 * Answers requests (see {@link MpClient#request}): registered with
 * {@link MpClient#handleRequests(String, RequestHandler)}, it is called
 * with each message of a connection, in order, and what it returns is
 * sent back on it.
 */
@FunctionalInterface
public interface RequestHandler {
    /**
     * Answers one request.
     *
     * @param request the request's data (empty when the request had none)
     * @return the reply, or {@code null} to send none
     * @throws Exception anything: it is logged and the connection closed
     *         without a reply (the requester gets
     *         {@link ConnectionClosedException})
     */
    byte[] reply(byte[] request) throws Exception;
}
