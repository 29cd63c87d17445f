package org.mpbroker.client;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A handler that accepts every connection and never reads it: it hands the
 * connection to the test and then waits (a handler that returned would
 * close it) until {@link #close()}. The Python tests' {@code accepted.append}.
 * Closing it waits for the handler threads to end, so that a test that
 * measures the heap next does not count the connections (and inboxes)
 * that a previous test's threads still hold.
 */
final class ParkingHandler implements ConnectionHandler, AutoCloseable {
    private final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    private final CountDownLatch release = new CountDownLatch(1);
    private final Queue<Thread> threads = new ConcurrentLinkedQueue<>();

    @Override
    public void serve(Connection connection) throws InterruptedException {
        threads.add(Thread.currentThread());
        accepted.add(connection);
        release.await();
    }

    /** The next connection accepted, waiting at most {@code timeout}. */
    Connection next(Duration timeout) throws InterruptedException {
        Connection c = accepted.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (c == null) {
            throw new AssertionError("no connection accepted within " + timeout);
        }
        return c;
    }

    /** How many connections were accepted and not taken by {@link #next}. */
    int waiting() {
        return accepted.size();
    }

    /** Lets every handler return, and waits (a while) for their threads to end. */
    @Override
    public void close() {
        release.countDown();
        accepted.clear();
        long deadline = System.nanoTime() + HostileBroker.t(10).toNanos();
        try {
            for (Thread t : threads) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
