package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One mpbroker process for a test, its config directory and its log: the
 * Java port of the Broker of clients/python/tests/conftest.py.
 *
 * <pre>{@code
 * try (TestBroker broker = TestBroker.startDefault()) {
 *     String address = broker.address("binary", "tcp");
 *     ...
 * }   // stop(): SIGTERM, exit status 0; then the directory is removed
 * }</pre>
 *
 * <p>The directory is made at construction, so that files (certificates,
 * password files) can be written before {@link #start(String)};
 * {@code @DIR@} in the config stands for it. The log (stdout and stderr)
 * is read on a thread and kept; the broker's listeners are taken from it.
 */
final class TestBroker implements AutoCloseable {
    /** tcp json, tcp binary and a Unix socket with translator auto; ephemeral ports. */
    static final String DEFAULT_LISTENERS = """
            listeners = (
              { address = "127.0.0.1"; port = 0; translator = "json"; },
              { address = "127.0.0.1"; port = 0; translator = "binary"; },
              { unix = "@DIR@/mp.sock"; translator = "auto"; } );
            """;
    /** Any name, any secret. */
    static final String ALLOW_ALL = "authenticators = ( { module = \"auth_allow_all.so\"; } );\n";

    private final Path dir;
    private final List<BrokerListener> listeners = new ArrayList<>();
    private Process process;
    private LineLog log;
    private Integer exitStatus;

    /** A broker not yet started, with a fresh short temporary directory. */
    TestBroker() {
        dir = TestEnv.shortTempDir("mpbjava.");
    }

    /** A started broker with allow_all and the default listeners. */
    static TestBroker startDefault() {
        TestBroker broker = new TestBroker();
        try {
            return broker.start(ALLOW_ALL + DEFAULT_LISTENERS);
        } catch (RuntimeException | Error e) {
            broker.close();
            throw e;
        }
    }

    // -- files ---------------------------------------------------------------

    /** The broker's directory. */
    Path dir() {
        return dir;
    }

    /** A file in the broker's directory. */
    Path path(String name) {
        return dir.resolve(name);
    }

    /** Writes a file into the broker's directory. */
    Path writeFile(String name, String text) {
        try {
            return Files.writeString(path(name), text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * ca.pem, server.pem/key (localhost, 127.0.0.1), alice.pem/key,
     * rogue-ca.pem ... in the broker's directory (tests/support/make-certs.sh).
     */
    void makeCerts() {
        ProcessBuilder pb = new ProcessBuilder("sh", TestEnv.makeCerts().toString(), dir.toString())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        int status = runToEnd(pb, TestEnv.t(60), "make-certs.sh");
        if (status != 0) {
            fail("make-certs.sh exited with status " + status);
        }
    }

    /**
     * A PKCS#8 copy ({@code NAME.pk8}, BEGIN PRIVATE KEY) of a key of
     * {@link #makeCerts()}, the form {@link Tls#context} reads.
     */
    Path pkcs8Key(String name) {
        Path out = path(name + ".pk8");
        ProcessBuilder pb = new ProcessBuilder("openssl", "pkcs8", "-topk8", "-nocrypt",
                "-in", path(name + ".key").toString(), "-out", out.toString())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        int status = runToEnd(pb, TestEnv.t(30), "openssl pkcs8");
        if (status != 0) {
            fail("openssl pkcs8 exited with status " + status);
        }
        return out;
    }

    private static int runToEnd(ProcessBuilder pb, Duration timeout, String what) {
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + what, e);
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                fail(what + " did not finish within " + timeout);
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + " interrupted", e);
        } finally {
            p.destroyForcibly();
        }
    }

    // -- running -------------------------------------------------------------

    /**
     * Writes mpbroker.conf (the prologue, then {@code body} with
     * {@code @DIR@} replaced), starts the broker and waits for
     * "notice: ready".
     */
    TestBroker start(String body) {
        return start(body, false);
    }

    /**
     * As {@link #start(String)}; with {@code raw}, {@code body} is the
     * whole config (no prologue).
     */
    TestBroker start(String body, boolean raw) {
        if (process != null) {
            throw new IllegalStateException("the broker was started already");
        }
        String prologue = "# written by clients/java/src/test/java/org/mpbroker/client/TestBroker.java\n"
                + "plugin_dir = \"" + TestEnv.pluginDir() + "\"; allow_root = true;\n"
                + "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
                + "                { name = \"binary\"; module = \"translator_binary.so\"; } );\n";
        String text = body.replace("@DIR@", dir.toString());
        Path config = writeFile("mpbroker.conf", raw ? text : prologue + text);
        List<String> command = new ArrayList<>(TestEnv.wrapper());
        command.addAll(List.of(TestEnv.mpbroker(), "-c", config.toString()));
        try {
            process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        boolean verbose = TestEnv.verbose();
        long pid = process.pid();
        log = new LineLog("mpbroker-log-" + pid, process.getInputStream(), line -> {
            if (verbose) {
                System.err.println("[mpbroker " + pid + "] " + line);
            }
            BrokerListener listener = BrokerListener.parse(line);
            if (listener != null) {
                synchronized (listeners) {
                    listeners.add(listener);
                }
            }
        });
        if (!waitLog("notice: ready", TestEnv.t(10))) {
            kill();
            fail("the broker did not become ready; its log:\n" + logText());
        }
        return this;
    }

    /**
     * Whether a log line contains {@code substring} within {@code timeout}
     * (false at the end of the log).
     */
    boolean waitLog(String substring, Duration timeout) {
        return waitLog(substring, timeout, 0);
    }

    /** As {@link #waitLog(String, Duration)}, from line {@code from} (a {@link #logMark()}). */
    boolean waitLog(String substring, Duration timeout, int from) {
        return log != null && log.waitFor(substring, from, timeout) >= 0;
    }

    /** The number of log lines so far. */
    int logMark() {
        return log == null ? 0 : log.size();
    }

    /** The log so far. */
    String logText() {
        return log == null ? "" : log.text();
    }

    /** The listeners the broker announced. */
    List<BrokerListener> listeners() {
        synchronized (listeners) {
            return List.copyOf(listeners);
        }
    }

    /**
     * The address of the first listener with that translator and scheme
     * (tcp, tls or unix); fails the test when there is none.
     */
    String address(String translator, String scheme) {
        for (BrokerListener l : listeners()) {
            if (l.translator().equals(translator) && l.scheme().equals(scheme)) {
                return l.label();
            }
        }
        return fail("no " + scheme + " listener with translator " + translator + "; log:\n"
                + logText());
    }

    /** The TCP address of the listener with that translator. */
    String address(String translator) {
        return address(translator, "tcp");
    }

    /** Whether the broker was started and has not been reaped. */
    boolean isRunning() {
        return process != null && exitStatus == null;
    }

    /** The broker's process (or its wrapper's). */
    Process process() {
        return process;
    }

    /**
     * SIGTERM, and assert a clean exit (status 0) within 10 s (scaled);
     * nothing when it is not running.
     */
    void stop() {
        if (!isRunning()) {
            return;
        }
        // SIGTERM through the handle: Process.destroy() would also close
        // the log's pipe, losing what the broker logs as it stops.
        process.toHandle().destroy();
        Duration bound = TestEnv.t(10);
        if (!waitExit(bound)) {
            kill();
            fail("the broker did not exit within " + bound + " of SIGTERM; log:\n" + logText());
        }
        closeLog();
        if (exitStatus != 0) {
            fail("the broker exited with status " + exitStatus + " after SIGTERM; log:\n"
                    + logText());
        }
    }

    /** SIGKILL, and reap it; nothing when it is not running. */
    void kill() {
        if (isRunning()) {
            process.destroyForcibly();
            if (!waitExit(TestEnv.t(10))) {
                fail("the broker survived SIGKILL for " + TestEnv.t(10));
            }
        }
        closeLog();
    }

    private boolean waitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        exitStatus = process.exitValue();
        return true;
    }

    private void closeLog() {
        if (log != null) {
            log.waitEof(TestEnv.t(5));
            log.join(TestEnv.t(5));
        }
    }

    /** The exit status, once it was stopped or killed. */
    Integer exitStatus() {
        return exitStatus;
    }

    /**
     * {@link #stop()} (which fails the test on an unclean exit), then in
     * any case kill what is left and remove the directory.
     */
    @Override
    public void close() {
        try {
            stop();
        } finally {
            try {
                kill();
            } finally {
                TestEnv.deleteTree(dir);
            }
        }
    }
}
