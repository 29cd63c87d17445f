package org.mpbroker.client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;

/**
 * A client of mpbroker: it connects out to a broker, logs in with a name
 * and a secret, opens {@link Connection}s to other clients by
 * <i>(peer name, protocol)</i>, and serves the connections they open with
 * the {@link ConnectionHandler} registered for each protocol.
 *
 * <pre>{@code
 * try (MpClient server = MpClient.builder("tcp:127.0.0.1:7330", "echo", "demo")
 *         .handler("echo", conn -> { for (byte[] m : conn) conn.send(m); })
 *         .connect();
 *      MpClient client = MpClient.connect("tcp:127.0.0.1:7330", "alice", "demo")) {
 *     Connection conn = client.open("echo", "echo");
 *     conn.send("hello".getBytes(StandardCharsets.UTF_8));
 *     System.out.println(new String(conn.receive(), StandardCharsets.UTF_8));
 *     conn.close();
 * }
 * }</pre>
 *
 * <p>Each client has a reader thread (decodes what the broker sends and
 * routes it) and a writer thread (drains the bounded send queue); both are
 * daemon threads, so a server ends with {@link #awaitClosed()}. Handlers
 * run on the builder's executor. Every method is thread-safe.
 */
public final class MpClient implements AutoCloseable {
    /** The broker's default {@code max_message_size}: 1 MiB. */
    public static final int DEFAULT_MAX_MESSAGE_SIZE = 1 << 20;

    private static final System.Logger LOG = System.getLogger("org.mpbroker.client");

    private final Options options;
    private final Map<String, ConnectionHandler> handlers = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    /** Guards session, closing, reconnecting; notified on close (ends a reconnect delay). */
    private final Object lock = new Object();
    private volatile Session session;
    private volatile boolean closing;
    private volatile boolean reconnecting;
    /** The index in the addresses of the current session's broker. */
    private volatile int addressIndex;

    MpClient(Builder builder) {
        this.options = new Options(builder);
        for (Map.Entry<String, ConnectionHandler> e : options.handlers.entrySet()) {
            handlers.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, RequestHandler> e : options.requestHandlers.entrySet()) {
            handleRequests(e.getKey(), e.getValue());
        }
        this.session = firstLogin();
        session.start();
    }

    /**
     * A builder for a client of one broker.
     *
     * @param address {@code tcp:HOST:PORT}, {@code tls:HOST:PORT} or
     *        {@code unix:PATH}
     * @param name the name to log in as: 1-255 bytes of UTF-8, no
     *        {@code :}, no control character
     * @param secret the secret (UTF-8)
     * @return the builder
     */
    public static Builder builder(String address, String name, String secret) {
        return new Builder(List.of(address), name, secret.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * A builder for a client of several brokers, tried in turn (see
     * {@link Builder#reconnect(boolean)}).
     *
     * @param addresses the broker addresses, at least one
     * @param name the name to log in as
     * @param secret the secret
     * @return the builder
     */
    public static Builder builder(List<String> addresses, String name, byte[] secret) {
        return new Builder(addresses, name, secret);
    }

    /**
     * Connects and logs in with the defaults (binary format, no handlers).
     *
     * @param address the broker address
     * @param name the name to log in as
     * @param secret the secret
     * @return the client, logged in
     * @throws AuthException when the broker refuses the login
     * @throws ConnectFailedException when the broker cannot be reached
     */
    public static MpClient connect(String address, String name, String secret) {
        return builder(address, name, secret).connect();
    }

    /**
     * The name this client is logged in as.
     *
     * @return the name
     */
    public String name() {
        return session.name();
    }

    /**
     * The broker address of the current (or last) session.
     *
     * @return the address, as {@code tcp:HOST:PORT}, {@code tls:HOST:PORT}
     *         or {@code unix:PATH}
     */
    public String address() {
        return session.address().toString();
    }

    /**
     * Registers the handler of a protocol (replacing any other): a Syn for
     * it is accepted and the connection handed to the handler. A Syn for a
     * protocol without a handler is refused (UnknownProto).
     *
     * @param protocol the protocol string
     * @param handler the handler
     */
    public void handle(String protocol, ConnectionHandler handler) {
        handlers.put(Objects.requireNonNull(protocol, "protocol"), Objects.requireNonNull(handler, "handler"));
    }

    /**
     * Answers requests of a protocol (see {@link #request}): each message
     * of each connection opened for it is passed to {@code handler}, in
     * order, and its return value sent back.
     *
     * @param protocol the protocol string
     * @param handler the function that answers
     */
    public void handleRequests(String protocol, RequestHandler handler) {
        Objects.requireNonNull(handler, "handler");
        handle(protocol, conn -> {
            for (byte[] request : conn) {
                byte[] reply = handler.reply(request);
                if (reply != null) {
                    conn.send(reply);
                }
            }
        });
    }

    /**
     * Removes the handler of a protocol; later Syns for it are refused.
     * Connections already accepted go on.
     *
     * @param protocol the protocol string
     */
    public void unhandle(String protocol) {
        handlers.remove(protocol);
    }

    /**
     * Opens a connection and waits for the peer's answer.
     *
     * @param peer the peer's name
     * @param protocol the protocol string
     * @return the connection, open
     * @throws NoSuchClientException no client of that name is connected
     * @throws UnknownProtocolException the peer has no handler for it
     * @throws PeerLeftException the peer left meanwhile
     * @throws BrokerLostException the broker was lost meanwhile
     * @throws DisconnectedException the client is reconnecting
     */
    public Connection open(String peer, String protocol) {
        return await(openAsync(peer, protocol), null, "open '" + protocol + "' to " + peer);
    }

    /**
     * Opens a connection, waiting at most {@code timeout} for the answer.
     *
     * @param peer the peer's name
     * @param protocol the protocol string
     * @param timeout the longest wait
     * @return the connection, open
     * @throws MpTimeoutException no answer in time: the Syn is withdrawn
     *         (ConnClosed)
     * @throws OpenException and the others of {@link #open(String, String)}
     */
    public Connection open(String peer, String protocol, Duration timeout) {
        return await(openAsync(peer, protocol), timeout, "open '" + protocol + "' to " + peer);
    }

    /**
     * Opens a connection without waiting.
     *
     * @param peer the peer's name
     * @param protocol the protocol string
     * @return a future of the connection, completed exceptionally with the
     *         exceptions of {@link #open(String, String)}; cancelling it
     *         withdraws the Syn
     */
    public CompletableFuture<Connection> openAsync(String peer, String protocol) {
        Names.check("peer name", peer);
        Objects.requireNonNull(protocol, "protocol");
        return readySession().open(peer, protocol);
    }

    /**
     * Asks a peer one question: opens a connection for {@code protocol},
     * sends {@code data} as one message, waits for the first message the
     * peer sends back, closes the connection and returns it. The peer
     * answers with {@link #handleRequests}.
     *
     * @param peer the peer's name
     * @param protocol the protocol string
     * @param data the request
     * @param timeout the longest wait for the whole exchange
     * @return the reply
     * @throws MpTimeoutException no reply in time (the connection is closed)
     * @throws NoSuchClientException no client of that name
     * @throws UnknownProtocolException the peer does not answer that protocol
     * @throws ConnectionClosedException the peer closed without replying
     * @throws PeerLeftException the peer left the broker
     * @throws BrokerLostException the broker was lost meanwhile
     * @throws DisconnectedException the client is reconnecting
     * @throws MessageTooBigException the request is too big; nothing sent
     */
    public byte[] request(String peer, String protocol, byte[] data, Duration timeout) {
        return await(requestAsync(peer, protocol, data, timeout), null,
                "request '" + protocol + "' of " + peer);
    }

    /**
     * {@link #request} without waiting.
     *
     * @param peer the peer's name
     * @param protocol the protocol string
     * @param data the request
     * @param timeout the longest wait for the whole exchange
     * @return a future of the reply, completed exceptionally as
     *         {@link #request} throws
     */
    public CompletableFuture<byte[]> requestAsync(String peer, String protocol, byte[] data,
            Duration timeout) {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(timeout, "timeout");
        Session s = readySession();
        // Checked before anything is sent: a request too big sends nothing.
        s.encode(new Message(Meta.DATA, peer, s.name() + ":0", data));
        return new Request(openAsync(peer, protocol), data, timeout, peer, protocol).reply();
    }

    /**
     * Whether the client lost the broker and is reconnecting.
     *
     * @return true between the loss and the next login
     */
    public boolean isReconnecting() {
        return reconnecting;
    }

    /**
     * Closes the client: its connections end (peers are told), the socket
     * is closed after what was queued is written (at most the connect
     * timeout). Closing twice does nothing.
     */
    @Override
    public void close() {
        Session s;
        synchronized (lock) {
            if (closing) {
                return;
            }
            closing = true;
            reconnecting = false;
            s = session;
            lock.notifyAll();
        }
        s.shutdown(options.connectTimeout.toMillis());
        done.complete(null);
    }

    /**
     * Waits until the client is done: returns after {@link #close()};
     * throws when the broker was lost (without reconnecting) or
     * reconnecting gave up.
     *
     * @throws BrokerLostException the broker was lost
     * @throws AuthException reconnecting was refused the login
     * @throws ConnectFailedException reconnecting gave up
     */
    public void awaitClosed() {
        try {
            done.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw rethrown(e.getCause(), "the client");
        }
    }

    /**
     * A future completed when the client is done: normally after
     * {@link #close()}, exceptionally as {@link #awaitClosed()} throws.
     *
     * @return the future
     */
    public CompletableFuture<Void> closed() {
        return done.copy();
    }

    // ---- the engine ------------------------------------------------------------

    /** Logs in at the first address that answers; refusals that retrying cannot help end at once. */
    private Session firstLogin() {
        List<String> failures = new ArrayList<>();
        ConnectFailedException last = null;
        boolean allTimedOut = true;
        for (int i = 0; i < options.addresses.size(); i++) {
            try {
                Session s = login(i);
                addressIndex = i;
                return s;
            } catch (TlsException | FormatMismatchException e) {
                throw e;
            } catch (ConnectFailedException e) {
                failures.add(e.getMessage());
                allTimedOut &= e instanceof ConnectTimeoutException;
                last = e;
            }
        }
        if (failures.size() == 1) {
            throw last;
        }
        String text = "cannot connect to any of " + failures.size() + " brokers: " + String.join("; ", failures);
        throw allTimedOut ? new ConnectTimeoutException(text, last) : new ConnectFailedException(text, last);
    }

    private Session login(int index) {
        long deadline = System.nanoTime() + options.connectTimeout.toNanos();
        return Session.login(this, options, Address.parse(options.addresses.get(index)), deadline);
    }

    /** The session to send on, or the reason there is none. */
    private Session readySession() {
        Session s = session;
        if (closing) {
            throw new MpException("the client '" + options.name + "' is closed");
        }
        if (reconnecting) {
            throw new DisconnectedException("the client is reconnecting ("
                    + (s.lost() == null ? "" : s.lost().detail()) + ")");
        }
        if (s.lost() != null) {
            throw s.lost();
        }
        return s;
    }

    ConnectionHandler handlerFor(String protocol) {
        return handlers.get(protocol);
    }

    Executor executor() {
        return options.executor;
    }

    /** From a session's reader or writer thread: it is lost. */
    void sessionLost(Session lost, BrokerLostException error) {
        synchronized (lock) {
            if (closing || lost != session) {
                return;
            }
            reconnecting = options.reconnect;
        }
        notify(() -> options.listener.disconnected(error));
        if (!options.reconnect) {
            done.completeExceptionally(error);
            return;
        }
        Thread t = new Thread(this::reconnectLoop, "mpclient-reconnect-" + options.name);
        t.setDaemon(true);
        t.start();
    }

    /** Logs in again, with backoff, round robin over the addresses, until it works or gives up. */
    private void reconnectLoop() {
        int failed = 0;
        for (int attempt = 1; ; attempt++) {
            Duration delay = Backoff.delay(attempt, options.reconnectInitial, options.reconnectMax);
            int index = (addressIndex + attempt) % options.addresses.size();
            int number = attempt;
            notify(() -> options.listener.reconnecting(number, delay, options.addresses.get(index)));
            if (!waitUnlessClosed(delay)) {
                return;
            }
            try {
                Session s = login(index);
                synchronized (lock) {
                    if (closing) {
                        s.shutdown(options.connectTimeout.toMillis());
                        return;
                    }
                    session = s;
                    addressIndex = index;
                    reconnecting = false;
                }
                s.start();
                notify(options.listener::reconnected);
                return;
            } catch (MpException e) {
                failed++;
                LOG.log(System.Logger.Level.INFO, "reconnect attempt {0} of {1} failed: {2}", attempt,
                        options.name, e.getMessage());
                if (!retryable(e) || (options.reconnectMaxAttempts > 0 && failed >= options.reconnectMaxAttempts)) {
                    giveUp(e);
                    return;
                }
            }
        }
    }

    private void giveUp(MpException error) {
        synchronized (lock) {
            if (closing) {
                return;
            }
            reconnecting = false;
        }
        notify(() -> options.listener.gaveUp(error));
        done.completeExceptionally(error);
    }

    /** Whether a failed login may succeed if tried again. */
    private static boolean retryable(MpException e) {
        if (e instanceof AuthException auth) {
            return auth.isTemporary();
        }
        return e instanceof ConnectFailedException
                && !(e instanceof TlsException) && !(e instanceof FormatMismatchException);
    }

    /** Waits {@code delay}; false when the client was closed meanwhile. */
    private boolean waitUnlessClosed(Duration delay) {
        long deadline = System.nanoTime() + delay.toNanos();
        synchronized (lock) {
            try {
                while (!closing) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return true;
                    }
                    lock.wait(left / 1_000_000, (int) (left % 1_000_000));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        }
    }

    /** Runs a listener callback; what it throws is logged, not let through. */
    private static void notify(Runnable callback) {
        try {
            callback.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "a ClientListener callback failed", e);
        }
    }

    /** Waits for a future of this client, turning its failure into the exception to throw. */
    private static <T> T await(CompletableFuture<T> future, Duration timeout, String what) {
        try {
            return timeout == null ? future.get() : future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw rethrown(e.getCause(), what);
        } catch (TimeoutException e) {
            future.cancel(false);
            throw new MpTimeoutException("cannot " + what + ": no answer within " + timeout);
        } catch (InterruptedException e) {
            future.cancel(false);
            Thread.currentThread().interrupt();
            throw new MpException("interrupted while waiting to " + what, e);
        } catch (CancellationException e) {
            throw new MpException("cannot " + what + ": cancelled", e);
        }
    }

    static RuntimeException rethrown(Throwable cause, String what) {
        if (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof RuntimeException r) {
            return r;
        }
        return new MpException(what + " failed: " + cause, cause);
    }

    /**
     * How to make a client: the broker, the login and the options, then
     * {@link #connect()}. Not thread-safe; a builder may make several
     * clients.
     */
    public static final class Builder {
        final List<String> addresses;
        final String name;
        final byte[] secret;
        Format format = Format.BINARY;
        SSLContext sslContext;
        String serverHostname;
        int maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
        Duration connectTimeout = Duration.ofSeconds(10);
        long sendQueueLimit = 4L << 20;
        long inboxLimit = 1L << 20;
        long inboxTotalLimit = 16L << 20;
        int maxConnections = 4096;
        final Map<String, ConnectionHandler> handlers = new LinkedHashMap<>();
        final Map<String, RequestHandler> requestHandlers = new LinkedHashMap<>();
        boolean reconnect;
        Duration reconnectInitial = Duration.ofMillis(100);
        Duration reconnectMax = Duration.ofSeconds(10);
        int reconnectMaxAttempts;
        ClientListener listener = new ClientListener() { };
        Executor executor;

        Builder(List<String> addresses, String name, byte[] secret) {
            if (addresses.isEmpty()) {
                throw new IllegalArgumentException("no broker address");
            }
            for (String a : addresses) {
                Address.parse(a);
            }
            this.addresses = List.copyOf(new ArrayList<>(addresses));
            this.name = Objects.requireNonNull(name, "name");
            this.secret = secret.clone();
        }

        /**
         * The listener's wire format (default {@link Format#BINARY}); any
         * with a listener of {@code translator = "auto"}.
         *
         * @param format the format
         * @return this builder
         */
        public Builder format(Format format) {
            this.format = Objects.requireNonNull(format);
            return this;
        }

        /**
         * {@code tls:} addresses only: the TLS context (default: the JDK's,
         * with its trusted CAs). See {@link Tls#context}.
         *
         * @param context the context
         * @return this builder
         */
        public Builder sslContext(SSLContext context) {
            this.sslContext = context;
            return this;
        }

        /**
         * {@code tls:} only: the name the broker's certificate must carry
         * (default: the address's HOST).
         *
         * @param hostname the name
         * @return this builder
         */
        public Builder serverHostname(String hostname) {
            this.serverHostname = hostname;
            return this;
        }

        /**
         * The broker's {@code max_message_size} (default 1 MiB): a bigger
         * encoded message is refused ({@link MessageTooBigException}), and
         * what the broker sends is accepted up to the worst case of a
         * message that was legal under it.
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder maxMessageSize(int bytes) {
            if (bytes < 64) {
                throw new IllegalArgumentException("maxMessageSize " + bytes + " is below 64");
            }
            this.maxMessageSize = bytes;
            return this;
        }

        /**
         * The longest wait for connecting and logging in, and for a
         * graceful close (default 10 s).
         *
         * @param timeout the timeout
         * @return this builder
         */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        /**
         * Bytes of encoded messages the send queue holds before senders
         * wait (default 4 MiB). One message is always accepted into an
         * empty queue, whatever its size.
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder sendQueueLimit(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("sendQueueLimit must be positive");
            }
            this.sendQueueLimit = bytes;
            return this;
        }

        /**
         * Bytes one connection's inbox holds (data plus 64 a message)
         * before the client stops reading from the broker until it is read
         * (default 1 MiB). One message is always accepted.
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder inboxLimit(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("inboxLimit must be positive");
            }
            this.inboxLimit = bytes;
            return this;
        }

        /**
         * Bytes all inboxes together hold (data plus 64 a message) before
         * the client stops reading from the broker until one is read
         * (default 16 MiB): with many connections, each under its
         * {@link #inboxLimit(long)}, memory stays bounded. One message is
         * always accepted.
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder inboxTotalLimit(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("inboxTotalLimit must be positive");
            }
            this.inboxTotalLimit = bytes;
            return this;
        }

        /**
         * Connections open or being opened at once (default 4096): a Syn
         * past it is refused with UnknownProto, an open() past it throws
         * {@link MpException}.
         *
         * @param count the limit
         * @return this builder
         */
        public Builder maxConnections(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("maxConnections must be positive");
            }
            this.maxConnections = count;
            return this;
        }

        /**
         * Registers a protocol's handler, as {@link MpClient#handle}.
         *
         * @param protocol the protocol string
         * @param handler the handler
         * @return this builder
         */
        public Builder handler(String protocol, ConnectionHandler handler) {
            handlers.put(protocol, Objects.requireNonNull(handler));
            return this;
        }

        /**
         * Answers a protocol's requests, as {@link MpClient#handleRequests}.
         *
         * @param protocol the protocol string
         * @param handler the function that answers
         * @return this builder
         */
        public Builder requestHandler(String protocol, RequestHandler handler) {
            requestHandlers.put(protocol, Objects.requireNonNull(handler));
            return this;
        }

        /**
         * Whether to log in again when the broker connection is lost after
         * a login (default false). Nothing is resumed silently: the
         * session's connections end with {@link BrokerLostException}; calls
         * made while reconnecting throw {@link DisconnectedException}; the
         * handlers stay. Attempt 1 starts at once, attempt n waits
         * {@code min(reconnectMax, reconnectInitial × 2^(n-2))} times a
         * random factor in [0.5, 1]; each attempt takes the next address,
         * round robin. It gives up after {@link #reconnectMaxAttempts}
         * failures in a row, or at once when retrying cannot help (the
         * name or the secret refused, TLS).
         *
         * @param on true to reconnect
         * @return this builder
         */
        public Builder reconnect(boolean on) {
            this.reconnect = on;
            return this;
        }

        /**
         * The delay before the second reconnect attempt (default 100 ms);
         * it doubles with each attempt.
         *
         * @param delay the delay
         * @return this builder
         */
        public Builder reconnectInitial(Duration delay) {
            this.reconnectInitial = positive(delay, "reconnectInitial");
            return this;
        }

        /**
         * The most the reconnect delay grows to (default 10 s).
         *
         * @param delay the delay
         * @return this builder
         */
        public Builder reconnectMax(Duration delay) {
            this.reconnectMax = positive(delay, "reconnectMax");
            return this;
        }

        /**
         * Failed reconnect attempts in a row before giving up (default 0:
         * never).
         *
         * @param attempts the count, 0 for no bound
         * @return this builder
         */
        public Builder reconnectMaxAttempts(int attempts) {
            if (attempts < 0) {
                throw new IllegalArgumentException("reconnectMaxAttempts must not be negative");
            }
            this.reconnectMaxAttempts = attempts;
            return this;
        }

        /**
         * Hears about the session: lost, reconnecting, reconnected.
         *
         * @param listener the listener
         * @return this builder
         */
        public Builder listener(ClientListener listener) {
            this.listener = Objects.requireNonNull(listener);
            return this;
        }

        /**
         * Where handlers run (default: a new daemon thread per accepted
         * connection). Each accepted connection takes one task for as long
         * as its handler runs.
         *
         * @param executor the executor
         * @return this builder
         */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /**
         * Connects and logs in, trying each address in turn until one
         * answers.
         *
         * @return the client, logged in
         * @throws AuthException when the broker refuses the login
         *         ({@link NameTakenException} for a name in use)
         * @throws ConnectTimeoutException when the login does not complete
         *         within the connect timeout
         * @throws TlsException when the TLS handshake fails
         * @throws ConnectFailedException when no broker can be reached, or
         *         its listener speaks another format
         */
        public MpClient connect() {
            MpClient client = new MpClient(this);
            return client;
        }

        /**
         * {@link #connect()} without waiting.
         *
         * @return a future of the client, completed exceptionally as
         *         {@link #connect()} throws
         */
        public CompletableFuture<MpClient> connectAsync() {
            return CompletableFuture.supplyAsync(this::connect);
        }

        private static Duration positive(Duration d, String what) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive");
            }
            return d;
        }
    }
}
