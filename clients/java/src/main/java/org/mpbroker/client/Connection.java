package org.mpbroker.client;

import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;

/**
 * One connection between this client and a peer: a two-way, ordered
 * stream of whole messages (one send is one receive on the other side).
 * Opened with {@link MpClient#open}, or handed to a
 * {@link ConnectionHandler} when a peer opens one. Thread-safe: one thread
 * may send while another receives.
 *
 * <p><b>Sending</b> puts the message in the client's send queue, which a
 * writer thread drains to the socket. The queue is bounded
 * ({@link MpClient.Builder#sendQueueLimit(long)}): {@link #send(byte[])}
 * waits while it is full (the broker, or a peer behind it, does not keep
 * up), {@link #sendAsync(byte[])} fails at once with
 * {@link WouldBlockException} and {@link #whenWritable()} says when to try
 * again.
 *
 * <p><b>Receiving</b>: messages wait in the connection's inbox, bounded by
 * {@link MpClient.Builder#inboxLimit(long)}; while an inbox is full the
 * client stops reading from the broker (nothing is lost; every connection
 * of the client waits), so consume, or close, every connection.
 * {@link #receive()} blocks, {@link #receiveAsync()} returns a future;
 * iterating the connection gives its messages until the peer closes it.
 *
 * <p>A connection ends when either side closes it, when the peer leaves the
 * broker, or when the client loses the broker; {@link #closeReason()} says
 * which, and receiving or sending then throws the matching
 * {@link ConnectionEndedException}. Messages that arrived before the end
 * are still received first.
 */
public final class Connection implements AutoCloseable, Iterable<byte[]> {
    Connection() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The connection id, {@code <initiator>:<suffix>}.
     *
     * @return the id
     */
    public String id() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The peer's name.
     *
     * @return the name
     */
    public String peer() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The protocol it was opened for.
     *
     * @return the protocol string
     */
    public String protocol() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Whether this client opened it.
     *
     * @return true for {@link MpClient#open}, false for a handler's
     */
    public boolean isInitiator() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Sends one message, waiting while the send queue is full.
     *
     * @param data the message (not copied: do not change it until sent)
     * @throws ConnectionEndedException when the connection is over
     * @throws MessageTooBigException when its encoding exceeds the maximum
     *         message size; nothing was sent
     */
    public void send(byte[] data) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Sends one message, waiting at most {@code timeout} for room in the
     * send queue.
     *
     * @param data the message
     * @param timeout the longest wait
     * @throws MpTimeoutException when the queue stayed full; nothing was sent
     * @throws ConnectionEndedException when the connection is over
     * @throws MessageTooBigException when it is too big; nothing was sent
     */
    public void send(byte[] data, Duration timeout) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Queues one message without waiting.
     *
     * @param data the message
     * @return a future completed when the message was written to the
     *         socket, or completed exceptionally: {@link WouldBlockException}
     *         at once when the send queue is full (nothing was sent),
     *         {@link ConnectionEndedException}, {@link MessageTooBigException}
     */
    public CompletableFuture<Void> sendAsync(byte[] data) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Whether the send queue has room now.
     *
     * @return true when {@link #sendAsync(byte[])} would queue
     */
    public boolean isWritable() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * A future completed when the send queue has room (at once if it has),
     * or exceptionally when the connection ends first.
     *
     * @return the future
     */
    public CompletableFuture<Void> whenWritable() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The next message, waiting for it.
     *
     * @return its data (empty for a message without data)
     * @throws ConnectionEndedException once the connection is over and its
     *         inbox empty: {@link ConnectionClosedException},
     *         {@link PeerLeftException}, {@link BrokerLostException}
     */
    public byte[] receive() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The next message, waiting at most {@code timeout}.
     *
     * @param timeout the longest wait
     * @return its data
     * @throws MpTimeoutException when none came in time (the connection
     *         stays open)
     * @throws ConnectionEndedException once the connection is over
     */
    public byte[] receive(Duration timeout) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The next message, as a future. Futures are completed in the order
     * they were asked for.
     *
     * @return a future of its data, completed exceptionally with
     *         {@link ConnectionEndedException} once the connection is over
     */
    public CompletableFuture<byte[]> receiveAsync() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * The messages, until the peer closes the connection (the iteration
     * then ends); a connection that ends otherwise throws its
     * {@link ConnectionEndedException} from {@code hasNext()}.
     *
     * @return an iterator that blocks in {@code hasNext()}
     */
    @Override
    public Iterator<byte[]> iterator() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Closes the connection: the peer is told (ConnClosed). Does not wait;
     * messages queued before are sent first. Closing twice does nothing.
     */
    @Override
    public void close() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Whether the connection is still open.
     *
     * @return false once it ended, whatever the reason
     */
    public boolean isOpen() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Why the connection ended.
     *
     * @return the reason, or {@code null} while it is open
     */
    public CloseReason closeReason() {
        throw new UnsupportedOperationException("not yet");
    }
}
