/**
 * The Java client of mpbroker, the name-routed message broker: clients
 * connect out to one broker, log in with a name and a secret, and open
 * {@linkplain org.mpbroker.client.Connection connections} to each other by
 * <i>(peer name, protocol)</i>. A connection is a two-way, ordered stream
 * of whole messages.
 *
 * <h2>Overview</h2>
 *
 * <p>{@link org.mpbroker.client.MpClient} is the client: built with
 * {@link org.mpbroker.client.MpClient#builder(String, String, String)},
 * it logs in, opens connections ({@link org.mpbroker.client.MpClient#open})
 * and serves the ones peers open with the
 * {@link org.mpbroker.client.ConnectionHandler} registered for each
 * protocol (a Syn for a protocol without one is refused). Asking a peer one
 * question is {@link org.mpbroker.client.MpClient#request}, answered by a
 * {@link org.mpbroker.client.RequestHandler}. Every call that waits has a
 * twin returning a {@link java.util.concurrent.CompletableFuture}.
 *
 * <p>The client speaks both wire formats of the broker
 * ({@link org.mpbroker.client.Format#BINARY}, the default, and
 * {@link org.mpbroker.client.Format#JSON}, the original Go format) over
 * TCP ({@code tcp:HOST:PORT}), Unix sockets ({@code unix:PATH}) and TLS
 * ({@code tls:HOST:PORT}, see {@link org.mpbroker.client.Tls}), at
 * protocol level 1, the original's. Its memory stays bounded: sending
 * waits while the send queue is full, and the client stops reading from
 * the broker while a connection's inbox is full. With
 * {@link org.mpbroker.client.MpClient.Builder#reconnect(boolean)} it logs
 * in again after losing the broker, with backoff, and a
 * {@link org.mpbroker.client.ClientListener} hears about it. Every failure
 * is an unchecked {@link org.mpbroker.client.MpException} whose subclass
 * says what happened. The library needs nothing beyond the JDK.
 *
 * <h2>Example</h2>
 *
 * <p>An echo server and a client of it, against the broker of the quick
 * start ({@code sh tools/quickstart.sh run}: users {@code echo} and
 * {@code alice}, secret {@code demo}):
 *
 * <pre>{@code
 * try (MpClient server = MpClient.builder("tcp:127.0.0.1:7330", "echo", "demo")
 *              .handler("echo", conn -> { for (byte[] msg : conn) conn.send(msg); })
 *              .connect();
 *      MpClient client = MpClient.connect("tcp:127.0.0.1:7330", "alice", "demo")) {
 *     Connection conn = client.open("echo", "echo");
 *     conn.send("hello".getBytes(StandardCharsets.UTF_8));
 *     System.out.println(new String(conn.receive(), StandardCharsets.UTF_8)); // hello
 *     conn.close();
 * }
 * }</pre>
 *
 * <p>The source tree's {@code clients/java/README.md} has more examples
 * (futures, request/reply, reconnecting, back-pressure, TLS), and
 * {@code clients/java/examples/Echo.java} is a complete program that
 * talks to the C examples.
 */
package org.mpbroker.client;
