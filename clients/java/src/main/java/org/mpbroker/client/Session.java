package org.mpbroker.client;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One login at one broker, from AuthOk to the end of the socket: the
 * reader thread that decodes and routes what the broker sends, the writer
 * thread that drains the send queue, and the table of connections. A lost
 * session is not resumed: {@link MpClient} makes a new one to reconnect.
 */
final class Session {
    private static final System.Logger LOG = System.getLogger("org.mpbroker.client");
    /** Bytes read from the socket at a time. */
    private static final int READ_CHUNK = 64 * 1024;
    /** WATs logged as warnings in a session; later ones are logged at DEBUG. */
    private static final int WARNED_WATS = 10;
    /** Bytes gathered into one socket write. */
    private static final int WRITE_CHUNK = 64 * 1024;

    /** A Syn this client sent, waiting for the peer's answer. */
    private record Opening(Connection connection, CompletableFuture<Connection> future) {
    }

    private final MpClient client;
    private final Options options;
    private final Address address;
    private final String name;
    private final Codec codec;
    private final Transport transport;
    private final Decoder decoder;
    private final SendQueue queue;
    private final Map<String, Connection> connections = new ConcurrentHashMap<>();
    private final Map<String, Opening> openings = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();
    private final AtomicLong wats = new AtomicLong();
    private final AtomicLong refusalsLogged = new AtomicLong();
    private volatile boolean closing;
    /** Guards inboxTotal; notified when inbox room may have been made. */
    private final Object inboxRoom = new Object();
    /** The bytes (data + overhead) held in all this session's inboxes. */
    private long inboxTotal;
    /** Why the session ended (lost, or closed), set once; null while it runs. */
    private final AtomicReference<BrokerLostException> lost = new AtomicReference<>();
    private Thread reader;
    private Thread writer;

    private Session(MpClient client, Options options, Address address, String name,
            Transport transport, Decoder decoder) {
        this.client = client;
        this.options = options;
        this.address = address;
        this.name = name;
        this.codec = options.format.codec();
        this.transport = transport;
        this.decoder = decoder;
        this.queue = new SendQueue(options.sendQueueLimit);
    }

    /**
     * Connects to {@code address} and logs in, by {@code deadlineNanos}. The
     * caller makes the session its own, then {@link #start()}s it.
     */
    static Session login(MpClient client, Options options, Address address, long deadlineNanos) {
        Transport transport = Dialer.dial(address, options, deadlineNanos);
        try {
            Codec codec = options.format.codec();
            Decoder decoder = codec.decoder(codec.maxReceivedSize(options.maxMessageSize));
            String owned = new Login(address, options.format, transport, decoder)
                    .run(options.name, options.secret, deadlineNanos);
            return new Session(client, options, address, owned, transport, decoder);
        } catch (RuntimeException e) {
            transport.close();
            throw e;
        }
    }

    /** Starts the reader and the writer thread. */
    void start() {
        reader = new Thread(this::readLoop, "mpclient-reader-" + name);
        writer = new Thread(this::writeLoop, "mpclient-writer-" + name);
        reader.setDaemon(true);
        writer.setDaemon(true);
        writer.start();
        reader.start();
    }

    Address address() {
        return address;
    }

    String name() {
        return name;
    }

    SendQueue queue() {
        return queue;
    }

    /** The error of a lost session, or null. */
    BrokerLostException lost() {
        return lost.get();
    }

    /** Encodes a message this client sends, refusing one over the maximum size. */
    byte[] encode(Message message) {
        byte[] bytes = codec.encode(message);
        if (bytes.length > options.maxMessageSize) {
            throw new MessageTooBigException("a message of " + bytes.length + " bytes encoded ("
                    + (message.data() == null ? 0 : message.data().length) + " of data) is over the maximum of "
                    + options.maxMessageSize + " (the broker's max_message_size); nothing was sent");
        }
        return bytes;
    }

    /** Queues one of the protocol's own messages (Syn, Ack, Closed, refusals). */
    void sendControl(Message message) {
        queue.force(new SendQueue.Frame(codec.encode(message), new CompletableFuture<>()));
    }

    /**
     * Queues the reader's answer to a Syn, waiting for room in the send
     * queue: a broker that floods Syns and never reads stops being read,
     * instead of growing the queue without bound. (The real broker reads
     * while it writes, so this wait always ends.)
     */
    private void reply(Message message) throws InterruptedException {
        queue.put(new SendQueue.Frame(codec.encode(message), new CompletableFuture<>()), -1);
    }

    /**
     * Waits until all inboxes together have room for {@code cost} more
     * bytes (one message is always accepted), or the connection or the
     * session ends; then counts them.
     */
    void reserveInbox(long cost, Connection connection) throws InterruptedException {
        synchronized (inboxRoom) {
            while (inboxTotal > 0 && inboxTotal + cost > options.inboxTotalLimit
                    && !connection.hasEnded() && lost.get() == null) {
                inboxRoom.wait();
            }
            inboxTotal += cost;
        }
    }

    /** Bytes left the inboxes (taken, dropped, or the connection ended). */
    void releaseInbox(long cost) {
        if (cost == 0) {
            return;
        }
        synchronized (inboxRoom) {
            inboxTotal -= cost;
            inboxRoom.notifyAll();
        }
    }

    private void wakeInboxWaiters() {
        synchronized (inboxRoom) {
            inboxRoom.notifyAll();
        }
    }

    /** The connection ended: it leaves the table. */
    void forget(Connection connection) {
        connections.remove(connection.id(), connection);
        wakeInboxWaiters();
        Opening opening = openings.get(connection.id());
        if (opening != null && opening.connection() == connection) {
            openings.remove(connection.id(), opening);
        }
    }

    // ---- opening ---------------------------------------------------------------

    /** Sends a Syn; the future completes with the peer's answer. */
    CompletableFuture<Connection> open(String peer, String protocol) {
        if (peer.equals(name)) {
            throw new IllegalArgumentException("cannot open a connection to itself ('" + peer
                    + "'): both ends would share one id");
        }
        if (lost.get() != null) {
            throw lost.get();
        }
        if (connections.size() >= options.maxConnections) {
            throw new MpException("cannot open '" + protocol + "' to " + peer + ": " + connections.size()
                    + " connections are open or being opened, the client's maxConnections");
        }
        String id = name + ":" + Long.toHexString(nextId.getAndIncrement());
        Connection connection = new Connection(this, id, peer, protocol, true, options.inboxLimit);
        CompletableFuture<Connection> future = new CompletableFuture<>();
        openings.put(id, new Opening(connection, future));
        connections.put(id, connection);
        // Cancelling the future (or a timeout) withdraws the Syn.
        future.whenComplete((c, error) -> {
            if (error != null) {
                connection.close();
            }
        });
        sendControl(new Message(Meta.CONN_SYN, peer, id, protocol.getBytes(StandardCharsets.UTF_8)));
        if (lost.get() != null) {
            future.completeExceptionally(lost.get());
        }
        return future;
    }

    private void answerOpening(Message m, boolean accepted, MpException refusal) {
        Opening opening = openings.get(m.connectionId());
        // An answer must come from the peer the Syn went to: one that names
        // another is not an answer (the broker never sends one).
        if (opening == null || !opening.connection().peer().equals(m.otherClient())
                || !openings.remove(m.connectionId(), opening)) {
            LOG.log(Level.DEBUG, "ignored {0} for no Syn of this client", m);
            return;
        }
        if (accepted) {
            opening.connection().opened();
            if (!opening.future().complete(opening.connection())) {
                opening.connection().close();
            }
            return;
        }
        // Refused: the connection never opened, the peer needs no ConnClosed.
        opening.connection().end(CloseReason.BY_PEER, null);
        opening.future().completeExceptionally(refusal);
    }

    // ---- reading ---------------------------------------------------------------

    private void readLoop() {
        ByteBuffer buffer = ByteBuffer.allocate(READ_CHUNK);
        try {
            while (true) {
                Message m;
                while ((m = decoder.next()) != null) {
                    dispatch(m);
                }
                buffer.clear();
                if (transport.read(buffer) < 0) {
                    fail(new BrokerLostException(decoder.hasPartial()
                            ? "the broker closed the connection in the middle of a message"
                            : "the broker closed the connection"));
                    return;
                }
                buffer.flip();
                decoder.feed(buffer);
            }
        } catch (DecodeException e) {
            fail(new BrokerLostException("undecodable message from the broker: " + e.getMessage(), e));
        } catch (IOException e) {
            fail(new BrokerLostException("reading from the broker failed: " + Dialer.describe(e), e));
        } catch (InterruptedException e) {
            fail(new BrokerLostException("the reader thread was interrupted", e));
        } catch (BrokerLostException e) {
            // A reply met the closed send queue: the session ended meanwhile.
            fail(e);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "mpclient reader thread failed", e);
            fail(new BrokerLostException("the reader thread failed: " + e, e));
        }
    }

    private void dispatch(Message m) throws InterruptedException {
        switch (m.meta()) {
            case Meta.DATA -> data(m);
            case Meta.CONN_SYN -> syn(m);
            case Meta.CONN_ACK -> answerOpening(m, true, null);
            case Meta.UNKNOWN_PROTO -> answerOpening(m, false,
                    new UnknownProtocolException(m.otherClient(), protocolOf(m)));
            case Meta.NO_SUCH_CONNECTION -> noSuchConnection(m);
            case Meta.CONN_CLOSED -> closedByPeer(m);
            case Meta.CLIENT_CLOSED -> peerLeft(m.otherClient());
            case Meta.WAT -> wat(m);
            default -> LOG.log(Level.DEBUG, "ignored {0} from the broker", m);
        }
    }

    /** A WAT says this client sent something wrong: worth a warning, but not a flood of them. */
    private void wat(Message m) {
        Level level = wats.getAndIncrement() < WARNED_WATS ? Level.WARNING : Level.DEBUG;
        LOG.log(level, "the broker did not understand a message of {0}: {1}", name, text(m.data()));
    }

    private void data(Message m) throws InterruptedException {
        Connection c = connections.get(m.connectionId());
        if (c == null || !c.peer().equals(m.otherClient()) || !c.isOpen()) {
            // Late data for a connection this side closed, or data before
            // the Ack: the broker delivers only on connections it has
            // open, so there is nothing to answer.
            LOG.log(Level.DEBUG, "ignored {0} for no open connection", m);
            return;
        }
        c.deliver(m.data() == null ? new byte[0] : m.data());
    }

    private void syn(Message m) throws InterruptedException {
        String protocol = text(m.data());
        String id = m.connectionId();
        ConnectionHandler handler = client.handlerFor(protocol);
        if (handler == null || connections.containsKey(id) || connections.size() >= options.maxConnections
                || !id.startsWith(m.otherClient() + ":")) {
            if (handler != null) {
                // Once a session at WARNING: a flood must not flood the log too.
                Level level = refusalsLogged.getAndIncrement() == 0 ? Level.WARNING : Level.DEBUG;
                LOG.log(level, "refused a Syn {0} from {1}: {2}", id, m.otherClient(),
                        connections.containsKey(id) ? "its id is in use"
                        : connections.size() >= options.maxConnections ? "maxConnections reached"
                        : "its id is not the peer's");
            }
            reply(new Message(Meta.UNKNOWN_PROTO, m.otherClient(), id, m.data()));
            return;
        }
        Connection c = new Connection(this, id, m.otherClient(), protocol, false, options.inboxLimit);
        connections.put(id, c);
        reply(new Message(Meta.CONN_ACK, m.otherClient(), id, null));
        try {
            client.executor().execute(() -> serve(handler, c));
        } catch (RejectedExecutionException e) {
            LOG.log(Level.WARNING, "the executor refused the handler of " + c + "; closing it", e);
            c.close();
        }
    }

    private static void serve(ConnectionHandler handler, Connection c) {
        try {
            handler.serve(c);
        } catch (ConnectionEndedException e) {
            LOG.log(Level.DEBUG, "the handler of {0} ended: {1}", c, e.getMessage());
        } catch (Exception e) {
            LOG.log(Level.WARNING, "the handler of " + c + " failed; closing it", e);
        } finally {
            c.close();
        }
    }

    private void noSuchConnection(Message m) {
        if (openings.containsKey(m.connectionId())) {
            answerOpening(m, false, new NoSuchClientException(m.otherClient(), protocolOf(m)));
            return;
        }
        // The broker does not know a connection this side thinks open.
        Connection c = connections.get(m.connectionId());
        if (c != null && c.peer().equals(m.otherClient())) {
            c.end(CloseReason.PEER_LEFT, null);
        }
    }

    private void closedByPeer(Message m) {
        Opening opening = openings.get(m.connectionId());
        if (opening != null) {
            answerOpening(m, false, new ConnectionClosedException(CloseReason.BY_PEER, "cannot open '"
                    + opening.connection().protocol() + "' to " + m.otherClient() + ": the peer closed it"));
            return;
        }
        Connection c = connections.get(m.connectionId());
        if (c != null && c.peer().equals(m.otherClient())) {
            c.end(CloseReason.BY_PEER, null);
        }
    }

    private void peerLeft(String peer) {
        for (Opening opening : List.copyOf(openings.values())) {
            if (opening.connection().peer().equals(peer)) {
                openings.remove(opening.connection().id(), opening);
                opening.connection().end(CloseReason.PEER_LEFT, null);
                opening.future().completeExceptionally(new PeerLeftException("cannot open '"
                        + opening.connection().protocol() + "' to " + peer + ": it left the broker"));
            }
        }
        for (Connection c : List.copyOf(connections.values())) {
            if (c.peer().equals(peer)) {
                c.end(CloseReason.PEER_LEFT, null);
            }
        }
    }

    private String protocolOf(Message m) {
        Opening opening = openings.get(m.connectionId());
        return opening != null ? opening.connection().protocol() : text(m.data());
    }

    private static String text(byte[] data) {
        return data == null ? "" : new String(data, StandardCharsets.UTF_8);
    }

    // ---- writing ---------------------------------------------------------------

    private void writeLoop() {
        ByteBuffer gather = ByteBuffer.allocate(WRITE_CHUNK);
        try {
            while (true) {
                List<SendQueue.Frame> frames = queue.takeAll();
                if (frames.isEmpty()) {
                    // Closed and drained: a graceful close.
                    transport.shutdownOutput();
                    return;
                }
                write(frames, gather);
            }
        } catch (IOException e) {
            fail(new BrokerLostException("writing to the broker failed: " + Dialer.describe(e), e));
        } catch (InterruptedException e) {
            fail(new BrokerLostException("the writer thread was interrupted", e));
        }
    }

    /** Writes frames, small ones gathered into one write; completes their futures. */
    private void write(List<SendQueue.Frame> frames, ByteBuffer gather) throws IOException {
        List<SendQueue.Frame> done = new ArrayList<>();
        long bytes = 0;
        for (SendQueue.Frame f : frames) {
            byte[] b = f.bytes();
            if (b.length > gather.remaining()) {
                flush(gather);
            }
            if (b.length > gather.capacity()) {
                transport.write(ByteBuffer.wrap(b));
            } else {
                gather.put(b);
            }
            done.add(f);
            bytes += b.length;
        }
        flush(gather);
        queue.written(bytes);
        done.forEach(f -> f.written().complete(null));
    }

    private void flush(ByteBuffer gather) throws IOException {
        if (gather.position() > 0) {
            gather.flip();
            transport.write(gather);
            gather.clear();
        }
    }

    // ---- ending ----------------------------------------------------------------

    /**
     * The session is lost: the socket is closed, every connection and Syn
     * ends with {@code error}, and the client hears of it (unless it is
     * closing). Only the first call counts.
     */
    void fail(BrokerLostException error) {
        if (!lost.compareAndSet(null, error)) {
            return;
        }
        queue.close(error);
        transport.close();
        wakeInboxWaiters();
        queue.failQueued(error);
        endAll(CloseReason.BROKER_LOST, error);
        if (!closing) {
            client.sessionLost(this, error);
        }
    }

    private void endAll(CloseReason reason, BrokerLostException error) {
        // Connections first, so that a failed open does not try to withdraw
        // its Syn on a dead socket.
        List<Opening> waiting = List.copyOf(openings.values());
        for (Connection c : List.copyOf(connections.values())) {
            c.end(reason, error);
        }
        openings.clear();
        waiting.forEach(opening -> opening.future().completeExceptionally(error));
    }

    /**
     * Closes the session gracefully: every connection is closed (peers are
     * told), what was queued is written, the socket is closed; waits at
     * most {@code millis} for the writer.
     */
    void shutdown(long millis) {
        closing = true;
        BrokerLostException closed = new BrokerLostException("the client was closed");
        for (Opening opening : List.copyOf(openings.values())) {
            opening.future().completeExceptionally(closed);
        }
        for (Connection c : List.copyOf(connections.values())) {
            c.close();
        }
        queue.close(closed);
        try {
            if (writer != null) {
                writer.join(Math.max(1, millis));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (lost.compareAndSet(null, closed)) {
            transport.close();
            queue.failQueued(closed);
            endAll(CloseReason.LOCAL, closed);
        }
    }
}
