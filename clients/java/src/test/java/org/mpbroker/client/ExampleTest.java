package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * examples/Echo.java, run as the README says (a single source file, on the
 * library's classes), against itself and against the C examples
 * (echo_server, echo_client), in both wire formats and over a Unix
 * socket, and its -r across a broker restart: the Java side of the echo
 * tests of clients/python/tests/test_interop.py and test_reconnect.py.
 * The C examples' tests are skipped when they are not built.
 */
class ExampleTest {
    static final Path ECHO = TestEnv.clientDir().resolve("examples/Echo.java");

    @RegisterExtension
    final Brokers brokers = new Brokers();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"json", "binary"})
    void echoJavaToJava(String format) {
        String address = brokers.start().address(format);
        try (ChildProcess server = startServer(echo("server", "-a", address, "-f", format,
                "-s", "x"))) {
            String out = runClient(echo("client", "-a", address, "-f", format, "-s", "x",
                    "hi", "a\tb"));
            assertTrue(out.contains("logged in as alice"), out);
            assertTrue(out.lines().anyMatch(l -> l.matches("opened echo connection alice:\\S+ to echo")),
                    out);
            assertTrue(out.contains("sent 'hi'"), out);
            assertTrue(out.contains("got 'hi' back from echo"), out);
            assertTrue(out.contains("got 'a\\x09b' back from echo"), out);

            server.waitOut("alice closed", TestEnv.t(10));
            assertEquals(0, terminate(server), server.describe());
            String served = server.stdout();
            assertTrue(served.lines().anyMatch(l -> l.matches("alice opened echo connection alice:\\S+")),
                    served);
            assertTrue(served.contains("echo 'hi' back to alice"), served);
            assertTrue(served.contains("echo 'a\\x09b' back to alice"), served);
            assertTrue(served.contains("SIGTERM: stopping"), served);
        }

        // No server: exit status 1, and why.
        try (ChildProcess client = ChildProcess.start(echo("client", "-a", address, "-f", format,
                "-s", "x"))) {
            assertEquals(1, client.waitExit(TestEnv.t(30)), client.describe());
            assertTrue(client.stderr().contains("cannot open an echo connection to echo"),
                    client.describe());
            assertTrue(client.stderr().contains("no client of that name"), client.describe());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"json", "binary"})
    void echoJavaServerCClient(String format) {
        String cClient = need("echo_client");
        String address = brokers.start().address(format);
        try (ChildProcess server = startServer(echo("server", "-a", address, "-f", format,
                "-s", "x"))) {
            String out = runClient(List.of(cClient, "-a", address, "-f", format, "-s", "x",
                    "one", "two"));
            assertTrue(out.contains("got 'one' back from echo"), out);
            assertTrue(out.contains("got 'two' back from echo"), out);
            server.waitOut("alice closed", TestEnv.t(10));
            assertEquals(0, terminate(server), server.describe());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"json", "binary"})
    void echoCServerJavaClient(String format) {
        String cServer = need("echo_server");
        String address = brokers.start().address(format);
        try (ChildProcess server = startServer(List.of(cServer, "-a", address, "-f", format,
                "-s", "x"))) {
            String out = runClient(echo("client", "-a", address, "-f", format, "-s", "x",
                    "one", "two"));
            assertTrue(out.contains("got 'one' back from echo"), out);
            assertTrue(out.contains("got 'two' back from echo"), out);
            assertEquals(0, terminate(server), server.describe());
        }
    }

    /** A server on the Unix socket in JSON, a client over TCP in binary. */
    @Test
    void echoOverUnixSocket() {
        TestBroker broker = brokers.start();
        try (ChildProcess server = startServer(echo("server", "-a",
                broker.address("auto", "unix"), "-f", "json", "-s", "x"))) {
            String out = runClient(echo("client", "-a", broker.address("binary"), "-s", "x",
                    "over unix"));
            assertTrue(out.contains("got 'over unix' back from echo"), out);
            assertEquals(0, terminate(server), server.describe());
        }
    }

    /**
     * With -r the server rides out a broker killed (SIGKILL) and started
     * again on the same port: it says so, logs in again, and echoes.
     */
    @Test
    void echoServerRidesOutARestart() {
        TestBroker first = brokers.start();
        String address = first.address("binary");
        int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
        try (ChildProcess server = startServer(echo("server", "-r", "-a", address, "-s", "x"))) {
            first.kill();
            server.waitOut("lost the broker: ", TestEnv.t(10));
            brokers.start(TestBroker.ALLOW_ALL + "listeners = ( { address = \"127.0.0.1\"; port = "
                    + port + "; translator = \"binary\"; } );\n", b -> { });
            server.waitOut("logged in again to " + address, TestEnv.t(30));
            String out = runClient(echo("client", "-a", address, "-s", "x", "again"));
            assertTrue(out.contains("got 'again' back from echo"), out);
            assertEquals(0, terminate(server), server.describe());
            assertTrue(server.stdout().contains("reconnect attempt 1 in 0.00 s"), server.describe());
        }
    }

    /** A usage error: status 2 and the usage, without a broker. */
    @Test
    void usageError() {
        try (ChildProcess client = ChildProcess.start(echo("client", "-r"))) {
            assertEquals(2, client.waitExit(TestEnv.t(30)), client.describe());
            assertTrue(client.stderr().contains("-r is for the server"), client.describe());
            assertTrue(client.stderr().contains("usage: "), client.describe());
        }
    }

    // ------------------------------------------------------------------------

    /** {@code java -cp CLASSES examples/Echo.java ARGS...}. */
    static List<String> echo(String... args) {
        List<String> argv = new ArrayList<>(List.of(ReadmeTest.javaCommand(), "-cp",
                ReadmeTest.libraryClasses().toString(), ECHO.toString()));
        argv.addAll(List.of(args));
        return argv;
    }

    /** A C example, or the test is skipped when it is not built. */
    static String need(String example) {
        Path path = Path.of(TestEnv.examplesDir(), example);
        assertTrue(Files.isExecutable(path), path + " is not built (make at the top, or set MP_BUILD_DIR)");
        return path.toString();
    }

    /** Starts an echo server and waits until it has logged in. */
    static ChildProcess startServer(List<String> argv) {
        ChildProcess server = ChildProcess.start(argv);
        try {
            server.waitOut("waiting for echo connections", TestEnv.t(30));
            return server;
        } catch (RuntimeException | Error e) {
            server.close();
            throw e;
        }
    }

    /** SIGTERM, and the exit status, with all it printed after the signal. */
    static int terminate(ChildProcess child) {
        return child.stop();
    }

    /** Runs an echo client to its end (status 0); its stdout. */
    static String runClient(List<String> argv) {
        try (ChildProcess client = ChildProcess.start(argv)) {
            assertEquals(0, client.waitExit(TestEnv.t(30)), client.describe());
            return client.stdout();
        }
    }
}
