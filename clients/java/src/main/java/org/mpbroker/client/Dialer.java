package org.mpbroker.client;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import jdk.net.ExtendedSocketOptions;

/**
 * Opens the socket to a broker address: TCP (each address of the host in
 * turn), a Unix socket, or TLS over TCP with the certificate and host name
 * checked. Errors say which address failed and how.
 */
final class Dialer {
    /** TCP keepalive, as the broker's tcp_keepalive_s: idle seconds before probes. */
    private static final int KEEPALIVE_IDLE_S = 60;

    private Dialer() {
    }

    static Transport dial(Address address, Options options, long deadlineNanos) {
        switch (address.scheme()) {
            case "unix":
                return dialUnix(address);
            case "tls":
                return dialTls(address, options, deadlineNanos);
            default:
                return new ChannelTransport(dialTcp(address, deadlineNanos));
        }
    }

    private static Transport dialUnix(Address address) {
        try {
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(UnixDomainSocketAddress.of(address.path()));
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
            return new ChannelTransport(channel);
        } catch (IOException | RuntimeException e) {
            throw new ConnectFailedException("cannot connect to " + address + ": " + describe(e), e);
        }
    }

    /** Connects one socket to one address, within a timeout in milliseconds. */
    private interface Connector<T> {
        T connect(InetSocketAddress target, int timeoutMillis) throws IOException;
    }

    private static SocketChannel dialTcp(Address address, long deadlineNanos) {
        return eachAddress(address, deadlineNanos, (target, timeout) -> {
            SocketChannel channel = SocketChannel.open();
            try {
                channel.socket().connect(target, timeout);
                tune(channel);
                return channel;
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        });
    }

    private static Socket dialTcpSocket(Address address, long deadlineNanos) {
        return eachAddress(address, deadlineNanos, (target, timeout) -> {
            Socket socket = new Socket();
            try {
                socket.connect(target, timeout);
                socket.setTcpNoDelay(true);
                socket.setKeepAlive(true);
                return socket;
            } catch (IOException | RuntimeException e) {
                socket.close();
                throw e;
            }
        });
    }

    /** Tries each address of the host in turn, until one connects. */
    private static <T> T eachAddress(Address address, long deadlineNanos, Connector<T> connector) {
        InetAddress[] hosts = resolve(address);
        List<String> failures = new ArrayList<>();
        for (InetAddress host : hosts) {
            InetSocketAddress target = new InetSocketAddress(host, address.port());
            long left = remainingMillis(deadlineNanos);
            if (left <= 0) {
                throw new ConnectTimeoutException("cannot connect to " + address
                        + ": no connection within the connect timeout" + tried(failures));
            }
            try {
                return connector.connect(target, (int) Math.min(left, Integer.MAX_VALUE));
            } catch (SocketTimeoutException e) {
                throw new ConnectTimeoutException("cannot connect to " + address + ": " + hostPort(target)
                        + " did not answer within the connect timeout" + tried(failures), e);
            } catch (IOException e) {
                failures.add(hostPort(target) + ": " + describe(e));
            }
        }
        if (hosts.length == 1) {
            throw new ConnectFailedException("cannot connect to " + address + ": " + failures.get(0));
        }
        throw new ConnectFailedException("cannot connect to " + address + ": " + address.host() + " has "
                + hosts.length + " addresses, every one failed: " + String.join("; ", failures));
    }

    private static Transport dialTls(Address address, Options options, long deadlineNanos) {
        // SSLSocket wraps a java.net.Socket (not a channel's adapter).
        Socket plain = dialTcpSocket(address, deadlineNanos);
        try {
            SSLContext context = options.sslContext != null ? options.sslContext : SSLContext.getDefault();
            String hostname = options.serverHostname != null ? options.serverHostname : address.host();
            SSLSocket socket = (SSLSocket) context.getSocketFactory()
                    .createSocket(plain, hostname, address.port(), true);
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            if (!isLiteral(hostname)) {
                params.setServerNames(List.of(new SNIHostName(hostname)));
            }
            socket.setSSLParameters(params);
            socket.setSoTimeout((int) Math.max(1, remainingMillis(deadlineNanos)));
            socket.startHandshake();
            socket.setSoTimeout(0);
            return new TlsTransport(socket);
        } catch (SocketTimeoutException e) {
            close(plain);
            throw new ConnectTimeoutException("cannot connect to " + address
                    + ": the TLS handshake did not complete within the connect timeout", e);
        } catch (SSLException e) {
            close(plain);
            throw new TlsException("TLS with " + address + " failed: " + describe(e)
                    + " (check the CA, the broker's certificate and its host name)", e);
        } catch (IOException | java.security.GeneralSecurityException e) {
            close(plain);
            throw new ConnectFailedException("cannot connect to " + address + ": " + describe(e), e);
        }
    }

    private static InetAddress[] resolve(Address address) {
        try {
            return InetAddress.getAllByName(address.host());
        } catch (UnknownHostException e) {
            throw new ConnectFailedException("cannot connect to " + address + ": unknown host "
                    + address.host(), e);
        }
    }

    private static void tune(SocketChannel channel) throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
        try {
            // As the broker's tcp_keepalive_s: probes after 60 s idle, every
            // 10 s, 6 of them: a dead network is noticed in about 2 minutes.
            channel.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, KEEPALIVE_IDLE_S);
            channel.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, KEEPALIVE_IDLE_S / 6);
            channel.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, 6);
        } catch (UnsupportedOperationException e) {
            // Not on this platform: the system's keepalive timing applies.
        }
    }

    private static boolean isLiteral(String host) {
        return host.contains(":") || host.matches("[0-9.]+");
    }

    private static long remainingMillis(long deadlineNanos) {
        return (deadlineNanos - System.nanoTime()) / 1_000_000;
    }

    private static String hostPort(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    private static String tried(List<String> failures) {
        return failures.isEmpty() ? "" : " (before: " + String.join("; ", failures) + ")";
    }

    static String describe(Throwable e) {
        String text = e.getMessage();
        return text == null || text.isEmpty() ? e.getClass().getSimpleName() : text;
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // Already broken.
        }
    }
}
