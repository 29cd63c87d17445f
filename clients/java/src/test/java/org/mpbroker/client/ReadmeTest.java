package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The examples of clients/java/README.md run as written against a broker
 * configured as the quick start's ({@code sh tools/quickstart.sh run}): the
 * Java port of clients/python/tests/test_readme.py.
 *
 * <p>The test broker's config is the shipped one, conf/mpbroker.conf.in,
 * with only what a test must change: the paths (@pkglibdir@ to the build's
 * plugins, @sysconfdir@ and @runstatedir@ to a temporary directory holding
 * a copy of the shipped conf/mpbroker.passwd, with its demo users;
 * @pkgdatadir@, in a comment only, to the source's proto/), the ports
 * (7330 and the WebSocket's 7380 to 0, ephemeral), and
 * {@code user = "mpbroker"} (the tests do not drop privileges; allow_root
 * instead). Same listeners and wire formats, same users and secrets, same
 * limits.
 *
 * <p>Every Java block of the README is compiled against the library's
 * classes (build/classes) with {@code -Xlint:all -Werror}. A block after a
 * {@code <!-- fragment: WHY -->} line (TLS, reconnecting: the shipped
 * config cannot serve them) is only compiled, as the body of a method
 * of a class with the fields {@code Connection conn} and {@code byte[] data}
 * and the usual imports;
 * every other block is a whole program, run unchanged with MP_ADDRESS set
 * to the test broker (and no MP_SECRET: the README's default, "demo");
 * the test checks that its default is an address the shipped config opens.
 * Its expected output comes from its own comments:
 * {@code System.out.println(...); // hello} must print the line hello.
 *
 * <p>In the README's shell lines (examples/Echo.java) only the port of the
 * address is rewritten, and the class path {@code build/mpclient.jar} is
 * replaced by the classes it is made of ({@code ant test} does not build
 * the jar).
 */
class ReadmeTest {
    static final Path CLIENT_DIR = TestEnv.clientDir();
    static final Path README = CLIENT_DIR.resolve("README.md");
    static final Path SHIPPED_CONF = TestEnv.tree().resolve("conf/mpbroker.conf.in");
    static final Path SHIPPED_PASSWD = TestEnv.tree().resolve("conf/mpbroker.passwd");
    static final String QUICK_START_ADDRESS = "tcp:127.0.0.1:7330";
    static final String JAR = "build/mpclient.jar";

    /** What a fragment may use without importing it. */
    static final String FRAGMENT_IMPORTS = """
            import java.nio.charset.StandardCharsets;
            import java.nio.file.Path;
            import java.time.Duration;
            import java.util.List;
            import java.util.concurrent.CompletableFuture;
            import javax.net.ssl.SSLContext;
            import org.mpbroker.client.*;
            """;

    /**
     * A fenced block of the README.
     *
     * @param lang its language ({@code java}, {@code sh}, or empty)
     * @param code its text
     * @param line where it starts in the README (its opening fence)
     * @param fragment the reason it is only compiled, or null
     */
    record Block(String lang, String code, int line, String fragment) {
        @Override
        public String toString() {
            return "line" + line; // the test's display name
        }
    }

    static List<Block> readmeBlocks() {
        List<String> lines = read(README).lines().toList();
        Pattern fence = Pattern.compile("^```(\\w*)\\s*$");
        Pattern fragment = Pattern.compile("^<!-- fragment: (.+?) -->$");
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = fence.matcher(lines.get(i));
            if (!m.matches()) {
                continue;
            }
            int start = i;
            String why = null;
            if (start > 0) {
                Matcher f = fragment.matcher(lines.get(start - 1));
                why = f.matches() ? f.group(1) : null;
            }
            StringBuilder body = new StringBuilder();
            for (i++; i < lines.size() && !lines.get(i).equals("```"); i++) {
                body.append(lines.get(i)).append('\n');
            }
            blocks.add(new Block(m.group(1), body.toString(), start + 1, why));
        }
        return blocks;
    }

    static List<Block> javaBlocks() {
        return readmeBlocks().stream().filter(b -> b.lang().equals("java")).toList();
    }

    static Stream<Block> runnableBlocks() {
        return javaBlocks().stream().filter(b -> b.fragment() == null);
    }

    static Stream<Block> fragments() {
        return javaBlocks().stream().filter(b -> b.fragment() != null);
    }

    /** The outputs a block's comments promise: {@code System.out.println(...); // OUT}. */
    static List<String> expectedOutputs(String code) {
        Matcher m = Pattern.compile("(?m)^\\s*System\\.out\\.println\\(.*\\);\\s*//\\s*(.+?)\\s*$")
                .matcher(code);
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    // ------------------------------------------------------------------------

    @Test
    void defaultAddressIsTheQuickStarts() {
        // The quick start's listener as the README says: 127.0.0.1:7330,
        // detecting the wire format, so that either format works.
        Pattern listener = Pattern.compile(
                "address\\s*=\\s*\"([^\"]+)\";\\s*port\\s*=\\s*(\\d+);\\s*translator\\s*=\\s*\"(\\w+)\";");
        Set<String> shipped = new HashSet<>();
        Matcher lm = listener.matcher(read(SHIPPED_CONF));
        while (lm.find()) {
            shipped.add(lm.group(1) + " " + lm.group(2) + " " + lm.group(3));
        }
        assertTrue(shipped.contains("127.0.0.1 7330 auto"), shipped.toString());

        List<Block> runnable = runnableBlocks().toList();
        assertTrue(runnable.size() >= 3, "the README's Java examples went missing");
        Pattern address = Pattern.compile("(?:tcp|tls|unix):[\\w.\\[\\]:/-]+");
        for (Block b : runnable) {
            Set<String> found = new HashSet<>();
            address.matcher(b.code()).results().forEach(r -> found.add(r.group()));
            assertEquals(Set.of(QUICK_START_ADDRESS), found, "README line " + b.line());
            assertTrue(b.code().contains("System.getenv().getOrDefault(\"MP_ADDRESS\""),
                    "README line " + b.line());
            assertFalse(expectedOutputs(b.code()).isEmpty(),
                    "README line " + b.line() + ": no `System.out.println(...); // output` to check");
        }
        Pattern shAddress = Pattern.compile("(?:tcp|tls):[\\w.\\[\\]:-]+");
        for (Block b : readmeBlocks()) {
            if (b.lang().equals("sh")) {
                shAddress.matcher(b.code()).results().forEach(r -> assertEquals(
                        QUICK_START_ADDRESS, r.group(), "README line " + b.line()));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fragments")
    void fragmentCompiles(Block block) {
        Path dir = TestEnv.shortTempDir("mpbjava-readme.");
        try {
            String source = FRAGMENT_IMPORTS + "class Fragment {\n"
                    + "    Connection conn;\n    byte[] data;\n\n"
                    + "    void fragment() throws Exception {\n"
                    + block.code() + "    }\n}\n";
            compile(block, dir, "Fragment", source);
        } finally {
            TestEnv.deleteTree(dir);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("runnableBlocks")
    void blockRuns(Block block) {
        Path dir = TestEnv.shortTempDir("mpbjava-readme.");
        try (TestBroker broker = startShipped()) {
            Matcher cls = Pattern.compile("(?m)^public class (\\w+)").matcher(block.code());
            assertTrue(cls.find(), "README line " + block.line() + ": no public class");
            compile(block, dir, cls.group(1), block.code());

            ProcessBuilder pb = new ProcessBuilder(javaCommand(), "-cp",
                    libraryClasses() + File.pathSeparator + dir, cls.group(1))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(dir.resolve("stdout").toFile())
                    .redirectError(dir.resolve("stderr").toFile());
            pb.environment().put("MP_ADDRESS", broker.address("auto", "tcp"));
            pb.environment().remove("MP_SECRET"); // the README's default, "demo"
            int status = runToEnd(pb, block);
            String out = read(dir.resolve("stdout"));
            String err = read(dir.resolve("stderr"));
            assertEquals(0, status, "README line " + block.line() + ":\n" + out + "\n" + err);
            assertEquals(expectedOutputs(block.code()), out.lines().toList(),
                    "README line " + block.line() + ":\n" + out + "\n" + err);
        } finally {
            TestEnv.deleteTree(dir);
        }
    }

    @Test
    void echoExampleRuns() {
        List<String> commands = new ArrayList<>();
        for (Block b : readmeBlocks()) {
            if (b.lang().equals("sh")) {
                b.code().lines().filter(l -> l.contains("examples/Echo.java"))
                        .forEach(l -> commands.add(l.strip()));
            }
        }
        String serverLine = commands.stream().filter(c -> c.contains(" server ")).findFirst()
                .orElseGet(() -> fail("no Echo.java server line in the README"));
        String clientLine = commands.stream().filter(c -> c.contains(" client ")).findFirst()
                .orElseGet(() -> fail("no Echo.java client line in the README"));

        try (TestBroker broker = startShipped();
                ChildProcess server = ChildProcess.start(
                        argv(serverLine, broker.address("auto", "tcp")), Map.of(), false)) {
            server.waitOut("waiting for echo connections", TestEnv.t(30));
            try (ChildProcess client = ChildProcess.start(
                    argv(clientLine, broker.address("auto", "tcp")), Map.of(), false)) {
                int status = client.waitExit(TestEnv.t(30));
                assertEquals(0, status, client.describe());
                String out = client.stdout();
                assertTrue(out.contains("got 'hello' back from echo"), out);
                assertTrue(out.contains("got 'world' back from echo"), out);
            }
            assertEquals(0, ExampleTest.terminate(server), server.describe());
            assertTrue(server.stdout().contains("SIGTERM: stopping"), server.describe());
        }
    }

    // ------------------------------------------------------------------------

    /**
     * A README line as a command: {@code java} is this JVM's, the jar its
     * classes, the quick start's address the test broker's. The lines are
     * relative to clients/java, where {@link ChildProcess} does not run:
     * the example's path is made absolute.
     */
    static List<String> argv(String line, String address) {
        List<String> words = new ArrayList<>(List.of(
                line.replace(QUICK_START_ADDRESS, address).split("\\s+")));
        assertEquals("java", words.get(0), line);
        words.set(0, javaCommand());
        for (int i = 1; i < words.size(); i++) {
            if (words.get(i).equals(JAR)) {
                words.set(i, libraryClasses().toString());
            } else if (words.get(i).endsWith("examples/Echo.java")) {
                words.set(i, CLIENT_DIR.resolve(words.get(i)).toString());
            }
        }
        return words;
    }

    /** The shipped config for a test broker: see the class comment. */
    static String shippedConfig(Path dir) {
        String text = read(SHIPPED_CONF);
        String user = "(?m)^user = \"mpbroker\";$";
        assertEquals(1, Pattern.compile(user).matcher(text).results().count(),
                "the shipped config's `user` line changed: update this test");
        text = text.replaceAll(user, "allow_root = true;");
        text = text.replace("@pkglibdir@", TestEnv.pluginDir());
        text = text.replace("@sysconfdir@", dir.toString()).replace("@runstatedir@", dir.toString());
        text = text.replace("@pkgdatadir@", TestEnv.tree().resolve("proto").toString());
        text = text.replaceAll("port\\s*=\\s*(7330|7380);", "port = 0;");
        assertFalse(text.contains("@"), "a substitution the test does not know");
        return text;
    }

    /** A broker on the shipped config and password file. */
    static TestBroker startShipped() {
        TestBroker broker = new TestBroker();
        try {
            broker.writeFile("mpbroker.passwd", read(SHIPPED_PASSWD));
            Files.createDirectories(broker.path("mpbroker")); // the Unix socket's
            return broker.start(shippedConfig(broker.dir()), true);
        } catch (IOException e) {
            broker.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            broker.close();
            throw e;
        }
    }

    /** Compiles one block into {@code dir}, warnings as errors. */
    static void compile(Block block, Path dir, String className, String source) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertTrue(javac != null, "no Java compiler in this JVM: run the tests with a JDK");
        Path file = dir.resolve(className + ".java");
        write(file, source);
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics,
                Locale.ROOT, StandardCharsets.UTF_8)) {
            List<String> options = List.of("-d", dir.toString(),
                    "-cp", libraryClasses().toString(), "--release", "17",
                    "-Xlint:all", "-Werror", "-proc:none", "-encoding", "UTF-8");
            boolean ok = javac.getTask(null, files, diagnostics, options, null,
                    files.getJavaFileObjects(file)).call();
            StringBuilder why = new StringBuilder();
            diagnostics.getDiagnostics().forEach(d -> why.append("\n  ").append(d));
            assertTrue(ok, "README line " + block.line() + " does not compile:" + why);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a block's program to its end, bounded; its exit status. */
    static int runToEnd(ProcessBuilder pb, Block block) {
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            if (!p.waitFor(TestEnv.t(30).toMillis(), TimeUnit.MILLISECONDS)) {
                fail("README line " + block.line() + " did not finish within " + TestEnv.t(30));
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } finally {
            p.destroyForcibly();
        }
    }

    /** The library's classes: where MpClient was loaded from (build/classes). */
    static Path libraryClasses() {
        try {
            return Paths.get(MpClient.class.getProtectionDomain().getCodeSource().getLocation()
                    .toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The java of this JVM. */
    static String javaCommand() {
        return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
