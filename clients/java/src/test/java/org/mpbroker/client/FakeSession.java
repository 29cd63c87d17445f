package org.mpbroker.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongFunction;

/**
 * One client connected to the {@link HostileBroker}: the test scripts what
 * it sends and when it reads. Sending happens in a thread of the session's
 * own (writes block while the client does not read, and are done in
 * order); reading only when the test asks ({@link #read}), so a test that
 * never reads gets a broker that never reads. Plain blocking sockets.
 */
final class FakeSession implements AutoCloseable {
    /** The most bytes one write() puts in the socket: the count of bytes
     *  sent ({@link #sent()}) moves in steps of at most this. */
    private static final int CHUNK = 16384;

    /** Bytes that may go while a client counts as stopped ({@link #awaitBlocked}). */
    static final long TRICKLE = 256 * 1024;

    final Socket socket;
    final Format format;
    private final InputStream in;
    private final OutputStream out;
    private final FakeWire.Reader reader;
    private final Deque<Message> pending = new ArrayDeque<>();
    private final List<Message> received = new ArrayList<>();
    private final ExecutorService sender;
    private final AtomicLong sent = new AtomicLong();
    private volatile String name = "";
    private volatile Message auth;

    FakeSession(Socket socket, Format format) throws IOException {
        this.socket = socket;
        this.format = format;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        this.reader = new FakeWire.Reader(format);
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fake-broker-sender");
            t.setDaemon(true);
            return t;
        });
    }

    /** The client's name, from its Auth (empty before the login). */
    String name() {
        return name;
    }

    /** The client's Auth, or null before it was read. */
    Message auth() {
        return auth;
    }

    /** One message in this session's format. */
    byte[] frame(int meta, String other, String connId, byte[] data) {
        return FakeWire.encode(format, meta, other, connId, data);
    }

    /** One message without data. */
    byte[] frame(int meta, String other, String connId) {
        return frame(meta, other, connId, null);
    }

    /** Reads the client's Auth (and nothing more); returns it. */
    Message readAuth(Duration timeout) throws IOException {
        Message m = read(1, timeout).get(0);
        if (m.meta() != Meta.AUTH) {
            throw new AssertionError("the client's first message is not an Auth: " + m);
        }
        auth = m;
        name = m.otherClient();
        return m;
    }

    /** Reads the Auth and answers AuthOk for the name; returns the name. */
    String login(Duration timeout) throws IOException {
        readAuth(timeout);
        send(frame(Meta.AUTH_OK, name, "")).join();
        return name;
    }

    /**
     * The next {@code count} messages the client sent, waiting for them
     * (all of them are also kept for {@link #received()}).
     *
     * @throws AssertionError after {@code timeout}, or if the client closed
     */
    List<Message> read(int count, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] buf = new byte[65536];
        while (pending.size() < count) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + count
                        + " messages (got " + pending + ")");
            }
            // A read timeout does not touch the sender thread's writes.
            socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                continue;
            }
            if (n < 0) {
                throw new AssertionError("the client closed; got " + pending);
            }
            reader.feed(buf, n);
            for (Message m = reader.next(); m != null; m = reader.next()) {
                pending.add(m);
                synchronized (received) {
                    received.add(m);
                }
            }
        }
        List<Message> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(pending.poll());
        }
        return out;
    }

    /** Every message read from the client so far, in order. */
    List<Message> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    /**
     * Reads until the client closes the socket (end of stream or reset).
     *
     * @return the bytes read meanwhile
     * @throws AssertionError if it is still open after {@code timeout}
     */
    byte[] readUntilClosed(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("the client did not close within " + timeout);
            }
            socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            try {
                int n = in.read(buf);
                if (n < 0) {
                    return got.toByteArray();
                }
                got.write(buf, 0, n);
            } catch (SocketTimeoutException e) {
                continue;
            } catch (IOException e) { // reset: closed too
                return got.toByteArray();
            }
        }
    }

    /**
     * Sends {@code data} from the sender thread, after what earlier calls
     * sent.
     *
     * @return completed once all of it went, exceptionally with the
     *         IOException if the socket failed first
     */
    CompletableFuture<Void> send(byte[] data) {
        return CompletableFuture.runAsync(() -> write(data, 0, data.length), sender);
    }

    /**
     * Sends {@code count} frames made on the fly by {@code frame} (called
     * with 0 to count - 1), so that a flood of many megabytes costs the
     * fake broker, which shares the test's heap, only a chunk.
     *
     * @return as {@link #send}
     */
    CompletableFuture<Void> stream(long count, LongFunction<byte[]> frame) {
        return CompletableFuture.runAsync(() -> {
            ByteArrayOutputStream chunk = new ByteArrayOutputStream(2 * CHUNK);
            for (long i = 0; i < count; i++) {
                chunk.writeBytes(frame.apply(i));
                if (chunk.size() >= CHUNK) {
                    write(chunk.toByteArray(), 0, chunk.size());
                    chunk.reset();
                }
            }
            write(chunk.toByteArray(), 0, chunk.size());
        }, sender);
    }

    private void write(byte[] data, int offset, int length) {
        try {
            for (int i = offset; i < offset + length; i += CHUNK) {
                int n = Math.min(CHUNK, offset + length - i);
                out.write(data, i, n);
                sent.addAndGet(n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bytes this session has written to the client so far. */
    long sent() {
        return sent.get();
    }

    /**
     * Waits until {@code sending} either completes or is blocked by a
     * client that stopped reading: for {@code quiet}, it is not done,
     * {@code clientStopped} held at every look, and no more than
     * {@link #TRICKLE} bytes went. (A slow client that still reads can
     * leave the fake's writes blocked for a while too: the window opens
     * only as the client drains its receive buffer. And a client that
     * stopped may still let a few bytes through now and then: the kernel
     * collapses a full receive queue and reopens the window a little.)
     *
     * @return true if it is blocked, false if it completed
     * @throws AssertionError if neither within {@code timeout}
     */
    boolean awaitBlocked(CompletableFuture<?> sending, Duration quiet, Duration timeout,
            BooleanSupplier clientStopped) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long start = sent();
        long since = System.nanoTime();
        while (!sending.isDone()) {
            long now = System.nanoTime();
            long count = sent();
            if (count - start > TRICKLE || !clientStopped.getAsBoolean()) {
                start = count;
                since = now;
            } else if (now - since >= quiet.toNanos()) {
                return true;
            }
            if (now > deadline) {
                throw new AssertionError("the sending neither stopped nor ended within "
                        + timeout + " (" + count + " bytes sent)");
            }
            HostileBroker.pause();
        }
        return false;
    }

    /** Closes the socket: writes blocked in the sender thread fail. */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
        sender.shutdownNow();
    }
}
