/*
 * Echo.java - the echo example of mpbroker (examples/echo_server.c and
 * examples/echo_client.c, and the Python client's examples/echo.py) with
 * the Java client. Java runs it as a single source file, from clients/java
 * after `ant jar`:
 *
 *   java -cp build/mpclient.jar examples/Echo.java server [-a ADDR]... [-f json|binary]
 *        [-n NAME] [-s SECRET] [TLS...] [-r]
 *   java -cp build/mpclient.jar examples/Echo.java client [-a ADDR]... [-f json|binary]
 *        [-n NAME] [-s SECRET] [TLS...] [-p PEER] [MESSAGE...]
 *
 * TLS options (for tls:HOST:PORT addresses): --ca FILE (the CAs that sign
 * the broker's certificate; default: the JDK's), --cert FILE and --key
 * FILE (a client certificate and its PKCS#8 key, for brokers that ask for
 * one; --key defaults to the --cert file).
 *
 * server: logs in (by default as "echo") and accepts connections for the
 * protocol "echo": every message that arrives on one is sent straight back.
 * It runs until SIGINT or SIGTERM (exit status 0); it exits 1 when it cannot
 * log in or loses the broker, 2 on a usage error. With -r it rides out a
 * broker restart instead: it logs in again (backoff from 0.1 s to 10 s)
 * and says so, and exits 1 only when the broker refuses the login (the
 * name taken, the secret no longer accepted). -a may be repeated: the
 * addresses are tried in turn.
 *
 * client: logs in (by default as "alice"), opens an "echo" connection to the
 * peer (by default "echo"), sends each message (default: hello world), waits
 * until every one has come back, closes the connection and exits 0. It exits
 * 1 with a message on stderr when the login fails, when the peer is not
 * connected or does not speak "echo", or when no reply comes within 10
 * seconds.
 *
 * The address defaults to $MP_ADDRESS, else tcp:127.0.0.1:7330, and the
 * secret to $MP_SECRET, else "demo": the broker of the quick start
 * (sh tools/quickstart.sh run) and its demo users. Both speak to the C
 * examples and to echo.py: this server answers echo_client, this client
 * talks to echo_server. The lines they print are echo.py's.
 */

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import org.mpbroker.client.AuthException;
import org.mpbroker.client.BrokerLostException;
import org.mpbroker.client.ClientListener;
import org.mpbroker.client.CloseReason;
import org.mpbroker.client.Connection;
import org.mpbroker.client.ConnectionEndedException;
import org.mpbroker.client.Format;
import org.mpbroker.client.MpClient;
import org.mpbroker.client.MpException;
import org.mpbroker.client.MpTimeoutException;
import org.mpbroker.client.OpenException;
import org.mpbroker.client.PeerLeftException;
import org.mpbroker.client.Tls;
import sun.misc.Signal;

public class Echo {
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    public static void main(String[] argv) {
        Options options;
        try {
            options = Options.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("Echo.java: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }
        int status;
        try {
            status = options.server ? new Server(options).run() : new Client(options).run();
        } catch (IllegalArgumentException e) { // a bad address or name
            System.err.println("Echo.java: " + e.getMessage());
            status = 2;
        }
        System.exit(status);
    }

    /** A message between quotes, control characters as \xNN so that they
     *  cannot mess up the terminal (as the C examples print it). */
    static String quoted(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write('\'');
        for (byte b : data) {
            if ((b >= 0 && b < 0x20) || b == 0x7f) {
                out.writeBytes(String.format("\\x%02x", b).getBytes(StandardCharsets.US_ASCII));
            } else {
                out.write(b);
            }
        }
        out.write('\'');
        return out.toString(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------
    // The command line

    /** What the command line asks for. */
    static final class Options {
        static final String USAGE = "usage: java -cp build/mpclient.jar examples/Echo.java"
                + " server|client [-a ADDR]... [-f json|binary] [-n NAME] [-s SECRET]\n"
                + "       [--ca FILE] [--cert FILE] [--key FILE] [-r (server)]"
                + " [-p PEER (client)] [MESSAGE... (client)]";

        boolean server;
        final List<String> addresses = new ArrayList<>();
        Format format = Format.BINARY;
        String name;
        String secret = env("MP_SECRET", "demo");
        String ca;
        String cert;
        String key;
        boolean reconnect;
        String peer = "echo";
        final List<String> messages = new ArrayList<>();

        static Options parse(String[] argv) {
            if (argv.length == 0 || !(argv[0].equals("server") || argv[0].equals("client"))) {
                throw new IllegalArgumentException("say server or client first");
            }
            Options o = new Options();
            o.server = argv[0].equals("server");
            o.name = o.server ? "echo" : "alice";
            for (int i = 1; i < argv.length; i++) {
                String arg = argv[i];
                switch (arg) {
                    case "-a" -> o.addresses.add(value(argv, ++i, arg));
                    case "-f" -> o.format = Format.of(value(argv, ++i, arg));
                    case "-n" -> o.name = value(argv, ++i, arg);
                    case "-s" -> o.secret = value(argv, ++i, arg);
                    case "--ca" -> o.ca = value(argv, ++i, arg);
                    case "--cert" -> o.cert = value(argv, ++i, arg);
                    case "--key" -> o.key = value(argv, ++i, arg);
                    case "-r" -> o.reconnect = serverOnly(o, arg);
                    case "-p" -> o.peer = clientOnly(o, value(argv, ++i, arg), arg);
                    default -> {
                        if (arg.startsWith("-") || o.server) {
                            throw new IllegalArgumentException("unknown argument " + arg);
                        }
                        o.messages.add(arg);
                    }
                }
            }
            if (o.addresses.isEmpty()) {
                o.addresses.add(env("MP_ADDRESS", "tcp:127.0.0.1:7330"));
            }
            if (o.messages.isEmpty()) {
                o.messages.addAll(List.of("hello", "world"));
            }
            return o;
        }

        private static String value(String[] argv, int i, String option) {
            if (i >= argv.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return argv[i];
        }

        private static boolean serverOnly(Options o, String option) {
            if (!o.server) {
                throw new IllegalArgumentException(option + " is for the server");
            }
            return true;
        }

        private static String clientOnly(Options o, String value, String option) {
            if (o.server) {
                throw new IllegalArgumentException(option + " is for the client");
            }
            return value;
        }

        private static String env(String name, String fallback) {
            String value = System.getenv(name);
            return value == null || value.isEmpty() ? fallback : value;
        }

        String address() {
            return String.join(", ", addresses);
        }

        /** The client's builder: its addresses, login, format and TLS. */
        MpClient.Builder builder() {
            MpClient.Builder b = MpClient.builder(addresses, name,
                    secret.getBytes(StandardCharsets.UTF_8)).format(format);
            if (addresses.stream().allMatch(a -> a.startsWith("tls:"))) {
                b.sslContext(tlsContext());
            }
            return b.connectTimeout(TIMEOUT);
        }

        private SSLContext tlsContext() {
            if (ca == null && cert == null) {
                return null; // the JDK's default context
            }
            return Tls.context(path(ca), path(cert), path(key != null ? key : cert));
        }

        private static Path path(String file) {
            return file == null ? null : Path.of(file);
        }
    }

    // ------------------------------------------------------------------------
    // server

    /** Logs in and echoes every message of every "echo" connection. */
    static final class Server implements ClientListener {
        private final Options options;
        private final Object lock = new Object();
        private MpClient client; // under lock: the signal handler closes it
        private boolean stopping;

        Server(Options options) {
            this.options = options;
        }

        int run() {
            // Stop cleanly on Ctrl-C and on `kill`. The JDK has no public
            // signal API: sun.misc.Signal (module jdk.unsupported) is the one
            // that JEP 260 keeps for this. Shutdown hooks would not do: the
            // status would be 130 or 143, not 0.
            Signal.handle(new Signal("INT"), this::onSignal);
            Signal.handle(new Signal("TERM"), this::onSignal);

            MpClient c;
            try {
                // Answer the "echo" protocol. A peer opening any other
                // protocol is refused by the library (UnknownProto).
                c = options.builder()
                        .handler("echo", Server::echo)
                        .reconnect(options.reconnect)
                        .listener(this)
                        .connect();
            } catch (MpException e) {
                System.err.println("Echo.java: cannot log in to " + options.address() + " as "
                        + options.name + ": " + e.getMessage());
                return 1;
            }
            synchronized (lock) {
                client = c;
                if (stopping) { // a signal came during the login
                    c.close();
                    return 0;
                }
            }
            System.out.println("logged in to " + c.address() + " as " + c.name()
                    + "; waiting for echo connections");

            // Serve until a signal closes the client (status 0) or until the
            // broker is gone (1); with -r, awaitClosed() goes on across
            // reconnects and throws only when the client gives up.
            try {
                c.awaitClosed();
                return 0;
            } catch (MpException e) {
                System.err.println("Echo.java: " + e.getMessage());
                return 1;
            }
        }

        private void onSignal(Signal signal) {
            System.out.println("SIG" + signal.getName() + ": stopping");
            MpClient c;
            synchronized (lock) {
                stopping = true;
                c = client;
            }
            if (c == null) {
                System.exit(0); // still logging in: nothing to close yet
            }
            c.close(); // awaitClosed() returns
        }

        /** A peer opened an "echo" connection: the library has accepted it.
         *  This runs in a thread of its own; when it returns, the connection
         *  is closed if it is still open. */
        static void echo(Connection conn) {
            System.out.println(conn.peer() + " opened " + conn.protocol() + " connection "
                    + conn.id());
            try {
                for (byte[] msg : conn) { // ends when the peer closes
                    System.out.println("echo " + quoted(msg) + " back to " + conn.peer());
                    conn.send(msg); // waits while the broker does not keep up
                }
                System.out.println(conn.peer() + " closed");
            } catch (PeerLeftException e) {
                System.out.println(conn.peer() + " left the broker");
            } catch (BrokerLostException e) {
                // run() reports it
            }
        }

        @Override
        public void disconnected(BrokerLostException error) {
            System.out.println("lost the broker: " + error.detail());
        }

        @Override
        public void reconnecting(int attempt, Duration delay, String address) {
            System.out.println(String.format(Locale.ROOT, "reconnect attempt %d in %.2f s",
                    attempt, delay.toNanos() / 1e9));
        }

        @Override
        public void reconnected() {
            MpClient c;
            synchronized (lock) {
                c = client;
            }
            System.out.println("logged in again to " + (c != null ? c.address() : "the broker"));
        }
    }

    // ------------------------------------------------------------------------
    // client

    /** Sends the messages on one "echo" connection and checks the replies. */
    static final class Client {
        private final Options options;
        private final long deadline = System.nanoTime() + TIMEOUT.toNanos();

        Client(Options options) {
            this.options = options;
        }

        int run() {
            try (MpClient client = options.builder().connect()) { // logs in; closes at the end
                System.out.println("logged in as " + client.name());
                return talk(client);
            } catch (AuthException e) {
                System.err.println("Echo.java: cannot log in to " + options.address() + ": "
                        + e.getMessage());
                return 1;
            } catch (MpTimeoutException e) {
                System.err.println("Echo.java: gave up after " + TIMEOUT.toSeconds() + " seconds");
                return 1;
            } catch (MpException e) {
                System.err.println("Echo.java: " + e.getMessage());
                return 1;
            }
        }

        private int talk(MpClient client) {
            Connection conn;
            try {
                conn = client.open(options.peer, "echo", left());
            } catch (OpenException e) {
                // NoSuchClientException: the peer is not logged in;
                // UnknownProtocolException: it does not handle "echo".
                System.err.println("Echo.java: cannot open an echo connection to " + options.peer
                        + ": " + e.getMessage());
                return 1;
            }
            System.out.println("opened echo connection " + conn.id() + " to " + conn.peer());

            // Send everything at once; the replies come back in order.
            List<byte[]> messages = new ArrayList<>();
            for (String m : options.messages) {
                byte[] msg = m.getBytes(StandardCharsets.UTF_8);
                conn.send(msg, left());
                System.out.println("sent " + quoted(msg));
                messages.add(msg);
            }

            int received = 0;
            try {
                for (byte[] want : messages) {
                    byte[] reply = conn.receive(left());
                    if (!Arrays.equals(reply, want)) {
                        System.out.println("got " + quoted(reply) + " back from " + conn.peer()
                                + ", expected " + quoted(want));
                        System.err.println("Echo.java: wrong reply");
                        return 1;
                    }
                    System.out.println("got " + quoted(reply) + " back from " + conn.peer());
                    received++;
                }
            } catch (ConnectionEndedException e) {
                String why = e.reason() == CloseReason.BY_PEER ? "closed by the peer"
                        : e.getMessage();
                System.err.println("Echo.java: the echo connection with " + conn.peer()
                        + " ended after " + received + " of " + messages.size() + " replies: "
                        + why);
                return 1;
            }
            conn.close(); // the peer is told
            return 0;
        }

        /** What is left of the 10 seconds the whole exchange may take. */
        private Duration left() {
            long nanos = deadline - System.nanoTime();
            if (nanos <= 0) {
                throw new MpTimeoutException("out of time");
            }
            return Duration.ofNanos(nanos);
        }
    }
}
