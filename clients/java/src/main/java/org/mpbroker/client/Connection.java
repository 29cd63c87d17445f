package org.mpbroker.client;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

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
 * A future is completed on the client's reader thread: a callback that
 * blocks stops the client's reading, so use the {@code ...Async} methods
 * of {@link CompletableFuture} for work that may block.
 *
 * <p>A connection ends when either side closes it, when the peer leaves the
 * broker, or when the client loses the broker; {@link #closeReason()} says
 * which, and receiving or sending then throws the matching
 * {@link ConnectionEndedException}. Messages that arrived before the end
 * are still received first.
 */
public final class Connection implements AutoCloseable, Iterable<byte[]> {
    /** What a message costs in an inbox beyond its data, so that empty ones count. */
    static final int MESSAGE_OVERHEAD = 64;

    private final Session session;
    private final String id;
    private final String peer;
    private final String protocol;
    private final boolean initiator;
    private final long inboxLimit;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<byte[]> inbox = new ArrayDeque<>();
    private final ArrayDeque<CompletableFuture<byte[]>> receivers = new ArrayDeque<>();
    private long inboxBytes;
    private boolean open;
    /** Set once, when the connection ends; read without the lock. */
    private volatile boolean finished;
    private CloseReason closeReason;
    private ConnectionEndedException ending;

    Connection(Session session, String id, String peer, String protocol, boolean initiator, long inboxLimit) {
        this.session = session;
        this.id = id;
        this.peer = peer;
        this.protocol = protocol;
        this.initiator = initiator;
        this.inboxLimit = inboxLimit;
        this.open = !initiator;
    }

    /**
     * The connection id, {@code <initiator>:<suffix>}.
     *
     * @return the id
     */
    public String id() {
        return id;
    }

    /**
     * The peer's name.
     *
     * @return the name
     */
    public String peer() {
        return peer;
    }

    /**
     * The protocol it was opened for.
     *
     * @return the protocol string
     */
    public String protocol() {
        return protocol;
    }

    /**
     * Whether this client opened it.
     *
     * @return true for {@link MpClient#open}, false for a handler's
     */
    public boolean isInitiator() {
        return initiator;
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
        sendWithin(data, -1);
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
        sendWithin(data, Math.max(0, timeout.toNanos()));
    }

    private void sendWithin(byte[] data, long timeoutNanos) {
        SendQueue.Frame frame = frame(data);
        boolean queued;
        try {
            queued = session.queue().put(frame, timeoutNanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MpException("interrupted while waiting to send on " + this, e);
        } catch (BrokerLostException e) {
            throw endedOr(e);
        }
        if (!queued) {
            throw new MpTimeoutException("cannot send on " + this + ": the send queue stayed full for "
                    + Duration.ofNanos(timeoutNanos) + " (the broker or the peer does not keep up); nothing"
                    + " was sent");
        }
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
        try {
            SendQueue.Frame frame = frame(data);
            if (!session.queue().offer(frame)) {
                return CompletableFuture.failedFuture(new WouldBlockException("cannot send on " + this
                        + " now: the send queue is full (wait with whenWritable()); nothing was sent"));
            }
            return frame.written();
        } catch (BrokerLostException e) {
            return CompletableFuture.failedFuture(endedOr(e));
        } catch (MpException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Sends regardless of the send queue's room: a request's one message. */
    CompletableFuture<Void> sendForced(byte[] data) {
        SendQueue.Frame frame = frame(data);
        session.queue().force(frame);
        return frame.written();
    }

    private SendQueue.Frame frame(byte[] data) {
        if (data == null) {
            throw new NullPointerException("data");
        }
        lock.lock();
        try {
            if (!open) {
                throw ended();
            }
        } finally {
            lock.unlock();
        }
        byte[] bytes = session.encode(new Message(Meta.DATA, peer, id, data));
        return new SendQueue.Frame(bytes, new CompletableFuture<>());
    }

    /**
     * Whether the send queue has room now.
     *
     * @return true when {@link #sendAsync(byte[])} would queue
     */
    public boolean isWritable() {
        return isOpen() && session.queue().hasRoom();
    }

    /**
     * A future completed when the send queue has room (at once if it has),
     * or exceptionally when the connection ends first.
     *
     * @return the future
     */
    public CompletableFuture<Void> whenWritable() {
        if (!isOpen()) {
            return CompletableFuture.failedFuture(ended());
        }
        return session.queue().whenRoom();
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
        return receiveWithin(-1);
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
        return receiveWithin(Math.max(0, timeout.toNanos()));
    }

    private byte[] receiveWithin(long timeoutNanos) {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (inbox.isEmpty() && ending == null) {
                if (timeoutNanos < 0) {
                    changed.await();
                } else if (left <= 0) {
                    throw new MpTimeoutException("no message on " + this + " within "
                            + Duration.ofNanos(timeoutNanos));
                } else {
                    left = changed.awaitNanos(left);
                }
            }
            if (inbox.isEmpty()) {
                throw ending;
            }
            return takeLocked();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MpException("interrupted while receiving on " + this, e);
        } finally {
            lock.unlock();
        }
    }

    private byte[] takeLocked() {
        byte[] data = inbox.poll();
        inboxBytes -= cost(data);
        if (!finished) {
            session.releaseInbox(cost(data));
        }
        changed.signalAll();
        return data;
    }

    /**
     * The next message, as a future. Futures are completed in the order
     * they were asked for.
     *
     * @return a future of its data, completed exceptionally with
     *         {@link ConnectionEndedException} once the connection is over
     */
    public CompletableFuture<byte[]> receiveAsync() {
        lock.lock();
        try {
            if (!inbox.isEmpty()) {
                return CompletableFuture.completedFuture(takeLocked());
            }
            if (ending != null) {
                return CompletableFuture.failedFuture(ending);
            }
            CompletableFuture<byte[]> f = new CompletableFuture<>();
            receivers.add(f);
            return f;
        } finally {
            lock.unlock();
        }
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
        return new Iterator<>() {
            private byte[] next;

            @Override
            public boolean hasNext() {
                if (next != null) {
                    return true;
                }
                try {
                    next = receive();
                    return true;
                } catch (ConnectionClosedException e) {
                    return false;
                }
            }

            @Override
            public byte[] next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("the connection was closed");
                }
                byte[] data = next;
                next = null;
                return data;
            }
        };
    }

    /**
     * Closes the connection: the peer is told (ConnClosed). Does not wait;
     * messages queued before are sent first. Closing twice does nothing.
     */
    @Override
    public void close() {
        if (end(CloseReason.LOCAL, null)) {
            session.sendControl(new Message(Meta.CONN_CLOSED, peer, id, null));
        }
    }

    /**
     * Whether the connection is still open.
     *
     * @return false once it ended, whatever the reason
     */
    public boolean isOpen() {
        lock.lock();
        try {
            return open;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Why the connection ended.
     *
     * @return the reason, or {@code null} while it is open
     */
    public CloseReason closeReason() {
        lock.lock();
        try {
            return closeReason;
        } finally {
            lock.unlock();
        }
    }

    /** "connection alice:1 to bob (echo)", for messages. */
    @Override
    public String toString() {
        return "connection " + id + " to " + peer + " (" + protocol + ")";
    }

    // ---- the session's side -------------------------------------------------

    /** The peer accepted the Syn. */
    void opened() {
        lock.lock();
        try {
            if (ending == null) {
                open = true;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A message for this connection, from the reader thread: handed to a
     * waiting future, or queued. While this inbox, or all the session's
     * inboxes together, are full this waits (the client stops reading)
     * until the application takes a message or the connection ends.
     */
    void deliver(byte[] data) throws InterruptedException {
        long cost = cost(data);
        session.reserveInbox(cost, this);
        CompletableFuture<byte[]> receiver = null;
        lock.lock();
        try {
            while (ending == null && !inbox.isEmpty() && inboxBytes + cost > inboxLimit) {
                changed.await();
            }
            if (ending == null) {
                receiver = receivers.poll();
                if (receiver == null) {
                    inbox.add(data);
                    inboxBytes += cost;
                    changed.signalAll();
                    return;
                }
            }
        } finally {
            lock.unlock();
        }
        // Dropped (the connection ended) or handed over: not held here.
        session.releaseInbox(cost);
        if (receiver != null) {
            receiver.complete(data);
        }
    }

    /** Whether the connection ended (read without the lock, by the session). */
    boolean hasEnded() {
        return finished;
    }

    /**
     * Ends the connection for {@code reason}: waiting receivers get the
     * matching exception (the session's {@code lost} for BROKER_LOST), the
     * session forgets it. False when it had ended already.
     */
    boolean end(CloseReason reason, BrokerLostException lost) {
        List<CompletableFuture<byte[]>> waiting;
        ConnectionEndedException error;
        lock.lock();
        try {
            if (ending != null) {
                return false;
            }
            closeReason = reason;
            open = false;
            finished = true;
            // What is left in the inbox is the application's to read or
            // drop: it no longer holds the session's reading back.
            session.releaseInbox(inboxBytes);
            ending = endingFor(reason, lost);
            error = ending;
            waiting = new ArrayList<>(receivers);
            receivers.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        session.forget(this);
        waiting.forEach(f -> f.completeExceptionally(error));
        return true;
    }

    private ConnectionEndedException endingFor(CloseReason reason, BrokerLostException lost) {
        switch (reason) {
            case BY_PEER:
                return new ConnectionClosedException(reason, this + " was closed by the peer");
            case LOCAL:
                return new ConnectionClosedException(reason, this + " was closed by this side");
            case PEER_LEFT:
                return new PeerLeftException(this + " ended: " + peer + " left the broker");
            default:
                return lost;
        }
    }

    /** The exception for an operation on a connection that is not open. */
    private ConnectionEndedException ended() {
        return endedOr(new ConnectionClosedException(CloseReason.LOCAL, this + " is not open yet"));
    }

    /** Why the connection ended, or {@code fallback} if it has not (yet). */
    private ConnectionEndedException endedOr(ConnectionEndedException fallback) {
        lock.lock();
        try {
            return ending != null ? ending : fallback;
        } finally {
            lock.unlock();
        }
    }

    private static long cost(byte[] data) {
        return (long) data.length + MESSAGE_OVERHEAD;
    }
}
