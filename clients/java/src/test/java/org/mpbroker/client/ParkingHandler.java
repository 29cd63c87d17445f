package org.mpbroker.client;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A handler that accepts every connection and never reads it: it hands the
 * connection to the test and then waits (a handler that returned would
 * close it) until {@link #close()}. The Python tests' {@code accepted.append}.
 */
final class ParkingHandler implements ConnectionHandler, AutoCloseable {
    private final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    private final CountDownLatch release = new CountDownLatch(1);

    @Override
    public void serve(Connection connection) throws InterruptedException {
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

    /** Lets every handler return. */
    @Override
    public void close() {
        release.countDown();
    }
}
