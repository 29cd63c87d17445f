package org.mpbroker.client;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import javax.net.ssl.SSLContext;

/**
 * A client's settings, copied from its {@link MpClient.Builder} when it is
 * made, so that the builder may change and make others.
 */
final class Options {
    final List<String> addresses;
    final String name;
    final byte[] secret;
    final Format format;
    final SSLContext sslContext;
    final String serverHostname;
    final int maxMessageSize;
    final Duration connectTimeout;
    final long sendQueueLimit;
    final long inboxLimit;
    final long inboxTotalLimit;
    final int maxConnections;
    final Map<String, ConnectionHandler> handlers;
    final Map<String, RequestHandler> requestHandlers;
    final boolean reconnect;
    final Duration reconnectInitial;
    final Duration reconnectMax;
    final int reconnectMaxAttempts;
    final ClientListener listener;
    final Executor executor;

    Options(MpClient.Builder b) {
        addresses = b.addresses;
        name = Names.check("client name", b.name);
        secret = b.secret.clone();
        format = b.format;
        sslContext = b.sslContext;
        serverHostname = b.serverHostname;
        maxMessageSize = b.maxMessageSize;
        connectTimeout = b.connectTimeout;
        sendQueueLimit = b.sendQueueLimit;
        inboxLimit = b.inboxLimit;
        inboxTotalLimit = b.inboxTotalLimit;
        maxConnections = b.maxConnections;
        handlers = Map.copyOf(b.handlers);
        requestHandlers = Map.copyOf(b.requestHandlers);
        reconnect = b.reconnect;
        reconnectInitial = b.reconnectInitial;
        reconnectMax = b.reconnectMax;
        reconnectMaxAttempts = b.reconnectMaxAttempts;
        listener = b.listener;
        executor = b.executor != null ? b.executor : Options::newDaemonThread;
    }

    /** The default executor: a daemon thread per accepted connection. */
    private static void newDaemonThread(Runnable task) {
        Thread t = new Thread(task, "mpclient-handler");
        t.setDaemon(true);
        t.start();
    }
}
