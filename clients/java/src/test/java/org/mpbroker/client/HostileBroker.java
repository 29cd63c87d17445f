package org.mpbroker.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * A scripted fake broker for testing the client against a hostile one (the
 * Java twin of clients/python/tests/hostile.py). It listens on 127.0.0.1,
 * port 0, accepts clients and, when asked, reads their Auth in its format
 * and answers AuthOk for any name; each {@link FakeSession} then does what
 * the test scripts: floods, garbage, huge frames, replies it never reads.
 * Plain blocking sockets in threads, so the client under test is the only
 * thing that is clever about I/O.
 */
final class HostileBroker implements AutoCloseable {
    /** The fake broker's receive buffer: small, so what the client writes
     *  and the fake does not read backs up in the client, not in the
     *  fake's kernel buffers. (Its send buffer keeps the kernel's default:
     *  with both small, a Syn flood once stalled at the TCP level, the
     *  client waiting in read() for bytes the fake could not send.) */
    static final int SMALL_SOCKET_BUFFER = 4096;

    final Format format;
    private final ServerSocket listener;
    private final List<FakeSession> sessions = new CopyOnWriteArrayList<>();

    /** A client that logged in to the fake, and the fake's side of it. */
    record LoggedIn(MpClient client, FakeSession session) {
    }

    HostileBroker(Format format) throws IOException {
        this.format = format;
        listener = new ServerSocket();
        // Set before bind: accepted sockets inherit it (and the window
        // scale is agreed at the handshake).
        listener.setReceiveBufferSize(SMALL_SOCKET_BUFFER);
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
    }

    /** The address to give the client, {@code tcp:127.0.0.1:PORT}. */
    String address() {
        return "tcp:127.0.0.1:" + listener.getLocalPort();
    }

    /** Accepts one client, without reading anything from it. */
    FakeSession accept(Duration timeout) throws IOException {
        listener.setSoTimeout((int) timeout.toMillis());
        Socket s = listener.accept();
        FakeSession session = new FakeSession(s, format);
        sessions.add(session);
        return session;
    }

    /** Accepts one client and logs it in (AuthOk for its name). */
    FakeSession acceptLogin(Duration timeout) throws IOException {
        FakeSession session = accept(timeout);
        session.login(timeout);
        return session;
    }

    /** {@link #accept} in another thread, for a client connecting in this one. */
    CompletableFuture<FakeSession> acceptAsync(Duration timeout) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return accept(timeout);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /**
     * Connects a client made by {@code builder} to this fake broker, which
     * logs it in.
     *
     * @return the client, logged in, and the fake broker's session
     */
    LoggedIn connect(MpClient.Builder builder) throws Exception {
        Duration timeout = t(10);
        CompletableFuture<FakeSession> accepting = CompletableFuture.supplyAsync(() -> {
            try {
                return acceptLogin(timeout);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        MpClient client = builder.connect();
        return new LoggedIn(client, get(accepting, timeout));
    }

    /** The future's value, waiting at most {@code timeout}; its failure rethrown. */
    static <T> T get(CompletableFuture<T> future, Duration timeout) throws Exception {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        } catch (TimeoutException e) {
            throw new AssertionError("timed out after " + timeout, e);
        }
    }

    @Override
    public void close() throws IOException {
        for (FakeSession s : sessions) {
            s.close();
        }
        listener.close();
    }

    // --- helpers shared by the hostile tests ----------------------------

    /**
     * Waits (at most 10 s, scaled) for {@code client} to lose the broker:
     * its {@link MpClient#closed()} future fails, and
     * {@link MpClient#awaitClosed()} then throws the same.
     *
     * @return the BrokerLostException
     */
    static BrokerLostException awaitLost(MpClient client) throws InterruptedException {
        Throwable cause;
        try {
            client.closed().get(t(10).toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError("the client closed without losing the broker");
        } catch (ExecutionException e) {
            cause = e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("the client did not lose the broker within " + t(10), e);
        }
        if (!(cause instanceof BrokerLostException lost)) {
            throw new AssertionError("the client ended with " + cause, cause);
        }
        try {
            client.awaitClosed();
        } catch (BrokerLostException again) {
            if (!lost.detail().equals(again.detail())) {
                throw new AssertionError("awaitClosed() threw " + again + ", closed() " + lost);
            }
            return lost;
        }
        throw new AssertionError("awaitClosed() returned after " + lost);
    }

    /**
     * A test timeout: {@code seconds} times MP_TEST_TIMEOUT_SCALE (as the
     * Python tests' conftest.py scales them; default 1).
     */
    static Duration t(double seconds) {
        String scale = System.getenv("MP_TEST_TIMEOUT_SCALE");
        double factor = scale == null || scale.isEmpty() ? 1.0 : Double.parseDouble(scale);
        return Duration.ofMillis((long) (seconds * factor * 1000));
    }

    /**
     * Waits until {@code condition} holds, checking it every few
     * milliseconds (the states waited on have no event of their own).
     *
     * @throws AssertionError after {@code timeout}
     */
    static void until(BooleanSupplier condition, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            pause();
        }
    }

    /** The interval of polling loops. */
    static void pause() {
        try {
            Thread.sleep(5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /**
     * Whether the client's reader thread waits (for room in an inbox or the
     * send queue) rather than reads: the engine's reader is the thread
     * named {@code mpclient-reader-NAME}; one blocked in a socket read is
     * RUNNABLE.
     */
    static boolean readerWaits(MpClient client) {
        String name = "mpclient-reader-" + client.name();
        boolean found = false;
        for (Thread th : Thread.getAllStackTraces().keySet()) {
            if (th.getName().equals(name)) {
                Thread.State state = th.getState();
                if (state != Thread.State.WAITING && state != Thread.State.TIMED_WAITING) {
                    return false;
                }
                found = true;
            }
        }
        return found;
    }

    /** The client's reader threads and where they are, for a failure's message. */
    static String readers(MpClient client) {
        StringBuilder out = new StringBuilder();
        Thread.getAllStackTraces().forEach((th, stack) -> {
            if (th.getName().equals("mpclient-reader-" + client.name())) {
                out.append("\n  ").append(th.getName()).append(' ').append(th.getState());
                for (int i = 0; i < Math.min(6, stack.length); i++) {
                    out.append("\n    at ").append(stack[i]);
                }
            }
        });
        return out.toString();
    }

    /**
     * Bytes of heap in use after a full collection: what is reachable,
     * garbage excluded. System.gc() is a full, synchronous collection with
     * the JDK's default G1 (unless the JVM runs with
     * -XX:+ExplicitGCInvokesConcurrent or -XX:+DisableExplicitGC, which the
     * test launcher does not pass). The fake broker shares the heap: it
     * streams its floods so that it holds little itself.
     */
    static long heapAfterGc() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
