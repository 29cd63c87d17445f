package org.mpbroker.client;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The encoded messages of one session waiting for the writer thread,
 * bounded in bytes: the back-pressure between the application and the
 * socket. Data waits for room ({@link #put}) or is refused
 * ({@link #offer}); the protocol's own messages (Syn, Ack, Closed,
 * refusals) always go in ({@link #force}), as they are small and bounded
 * by the connections.
 */
final class SendQueue {
    /** One encoded message and who waits for it to be written. */
    record Frame(byte[] bytes, CompletableFuture<Void> written) {
    }

    private final long limit;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition hasRoom = lock.newCondition();
    private final ArrayDeque<Frame> frames = new ArrayDeque<>();
    private final List<CompletableFuture<Void>> roomWaiters = new ArrayList<>();
    private long bytes;
    private RuntimeException closed;

    SendQueue(long limit) {
        this.limit = limit;
    }

    /** Whether one more message fits now (an empty queue takes any message). */
    boolean hasRoom() {
        lock.lock();
        try {
            return closed == null && roomLocked();
        } finally {
            lock.unlock();
        }
    }

    private boolean roomLocked() {
        return bytes < limit;
    }

    /**
     * Queues a data message, waiting at most {@code timeoutNanos} (negative:
     * no bound) for room.
     *
     * @return false when the time passed without room
     * @throws RuntimeException the error the queue was closed with
     */
    boolean put(Frame frame, long timeoutNanos) throws InterruptedException {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (!roomLocked()) {
                throwIfClosed();
                if (timeoutNanos < 0) {
                    hasRoom.await();
                } else if (left <= 0) {
                    return false;
                } else {
                    left = hasRoom.awaitNanos(left);
                }
            }
            throwIfClosed();
            addLocked(frame);
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void throwIfClosed() {
        if (closed != null) {
            throw closed;
        }
    }

    /** Queues a data message if there is room now; false otherwise. */
    boolean offer(Frame frame) {
        lock.lock();
        try {
            throwIfClosed();
            if (!roomLocked()) {
                return false;
            }
            addLocked(frame);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Queues a protocol message whatever the room. */
    void force(Frame frame) {
        lock.lock();
        try {
            addLocked(frame);
        } finally {
            lock.unlock();
        }
    }

    private void addLocked(Frame frame) {
        if (closed != null) {
            frame.written().completeExceptionally(closed);
            return;
        }
        frames.add(frame);
        bytes += frame.bytes().length;
        notEmpty.signal();
    }

    /** A future completed when there is room (at once if there is). */
    CompletableFuture<Void> whenRoom() {
        lock.lock();
        try {
            CompletableFuture<Void> f = new CompletableFuture<>();
            if (closed != null) {
                f.completeExceptionally(closed);
            } else if (roomLocked()) {
                f.complete(null);
            } else {
                roomWaiters.add(f);
            }
            return f;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes every frame queued, waiting for one; an empty list once the
     * queue is closed and empty.
     */
    List<Frame> takeAll() throws InterruptedException {
        lock.lock();
        try {
            while (frames.isEmpty() && closed == null) {
                notEmpty.await();
            }
            List<Frame> taken = new ArrayList<>(frames);
            frames.clear();
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /** The writer wrote {@code n} bytes of taken frames: room for others. */
    void written(long n) {
        List<CompletableFuture<Void>> ready = List.of();
        lock.lock();
        try {
            bytes -= n;
            if (roomLocked()) {
                hasRoom.signalAll();
                ready = new ArrayList<>(roomWaiters);
                roomWaiters.clear();
            }
        } finally {
            lock.unlock();
        }
        // Outside the lock: a waiter's callback may send again.
        ready.forEach(f -> f.complete(null));
    }

    /**
     * Closes the queue: later messages fail with {@code error}; the frames
     * still queued are left to the writer ({@link #takeAll}) or failed by
     * {@link #failQueued}.
     */
    void close(RuntimeException error) {
        List<CompletableFuture<Void>> waiters;
        lock.lock();
        try {
            if (closed != null) {
                return;
            }
            closed = error;
            notEmpty.signalAll();
            hasRoom.signalAll();
            waiters = new ArrayList<>(roomWaiters);
            roomWaiters.clear();
        } finally {
            lock.unlock();
        }
        waiters.forEach(f -> f.completeExceptionally(error));
    }

    /** Fails every frame still queued with {@code error} (the socket is gone). */
    void failQueued(RuntimeException error) {
        List<Frame> left;
        lock.lock();
        try {
            left = new ArrayList<>(frames);
            frames.clear();
            bytes = 0;
        } finally {
            lock.unlock();
        }
        left.forEach(f -> f.written().completeExceptionally(error));
    }
}
