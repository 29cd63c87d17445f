package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A child program of a test (mpcat, an example, python3): its stdout and
 * stderr kept as lines, each of which can be waited for with a bound;
 * killed by {@link #close()} if it is still running.
 *
 * <pre>{@code
 * try (ChildProcess cat = ChildProcess.start(List.of(mpcat, "-a", addr, ...))) {
 *     cat.waitErr("logged in at", TestEnv.t(5));
 *     ...
 *     assertEquals(0, cat.stop());
 * }
 * }</pre>
 */
final class ChildProcess implements AutoCloseable {
    private final String command;
    private final Process process;
    private final LineLog out;
    private final LineLog err;
    private int outNext;
    private int errNext;

    private ChildProcess(List<String> argv, Map<String, String> env, boolean stdinPipe) {
        command = String.join(" ", argv);
        ProcessBuilder pb = new ProcessBuilder(argv);
        pb.environment().putAll(env);
        if (!stdinPipe) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        String name = new File(argv.get(0)).getName() + " " + process.pid();
        boolean verbose = TestEnv.verbose();
        out = new LineLog(name + " out", process.getInputStream(), line -> {
            if (verbose) {
                System.err.println("[" + name + " out] " + line);
            }
        });
        err = new LineLog(name + " err", process.getErrorStream(), line -> {
            if (verbose) {
                System.err.println("[" + name + " err] " + line);
            }
        });
    }

    /** Starts {@code argv}, its stdin /dev/null. */
    static ChildProcess start(List<String> argv) {
        return new ChildProcess(argv, Map.of(), false);
    }

    /**
     * Starts {@code argv} with {@code env} added to this process's
     * environment; with {@code stdinPipe}, its stdin is {@link #write}'s.
     */
    static ChildProcess start(List<String> argv, Map<String, String> env, boolean stdinPipe) {
        return new ChildProcess(argv, env, stdinPipe);
    }

    /**
     * Waits for a stdout line containing {@code text}, after the lines
     * earlier waits took; returns the lines up to and including it. Fails
     * the test after {@code timeout} or when stdout ends first.
     */
    List<String> waitOut(String text, Duration timeout) {
        int at = waitLine(out, outNext, text, timeout, "stdout");
        List<String> lines = out.lines(outNext, at + 1);
        outNext = at + 1;
        return lines;
    }

    /** As {@link #waitOut}, on stderr. */
    List<String> waitErr(String text, Duration timeout) {
        int at = waitLine(err, errNext, text, timeout, "stderr");
        List<String> lines = err.lines(errNext, at + 1);
        errNext = at + 1;
        return lines;
    }

    private int waitLine(LineLog log, int from, String text, Duration timeout, String stream) {
        int at = log.waitFor(text, from, timeout);
        if (at < 0) {
            fail("no line with '" + text + "' on " + stream + " within " + timeout + " from "
                    + describe());
        }
        return at;
    }

    /** Writes UTF-8 text to the child's stdin (started with a pipe) and flushes. */
    void write(String text) {
        try {
            OutputStream in = process.getOutputStream();
            in.write(text.getBytes(StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to " + command, e);
        }
    }

    /** Closes the child's stdin: end of input. */
    void closeInput() {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits for the child to exit by itself and for its output to end;
     * its exit status. Fails the test (killing it) after {@code timeout}.
     */
    int waitExit(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill();
                fail(command + " did not exit within " + timeout + "; " + describe());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
            throw new IllegalStateException("interrupted", e);
        }
        Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()))
                .plus(TestEnv.t(2));
        out.waitEof(left);
        err.waitEof(left);
        return process.exitValue();
    }

    /**
     * SIGTERM unless it exited, and {@link #waitExit} within 10 s (scaled),
     * with all the program prints after the signal: through its
     * {@link ProcessHandle}, as {@link Process#destroy()} also closes the
     * pipes of its output.
     */
    int stop() {
        if (process.isAlive()) {
            process.toHandle().destroy();
        }
        return waitExit(TestEnv.t(10));
    }

    /** SIGKILL unless it exited. */
    void kill() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }

    /** The process. */
    Process process() {
        return process;
    }

    /** All of stdout so far, lines joined with newlines. */
    String stdout() {
        return out.text();
    }

    /** All of stderr so far. */
    String stderr() {
        return err.text();
    }

    /** The command and its output so far, for a failure message. */
    String describe() {
        StringBuilder b = new StringBuilder("\"" + command + "\"");
        for (String line : out.lines()) {
            b.append("\n  out: ").append(line);
        }
        for (String line : err.lines()) {
            b.append("\n  err: ").append(line);
        }
        return b.toString();
    }

    /** Kills the child if it still runs, and reaps it (bounded). */
    @Override
    public void close() {
        kill();
        try {
            process.waitFor(TestEnv.t(10).toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // Already closed, or the pipe is broken: nothing to release.
        }
    }
}
