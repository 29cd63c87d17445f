package org.mpbroker.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The lines of a child's output stream, read on a daemon thread as they
 * come, kept, and waited for with a timeout (never a sleep).
 */
final class LineLog {
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;
    private boolean eof;

    /**
     * Starts reading {@code in} (UTF-8, malformed bytes replaced);
     * {@code onLine} sees each line first, on the reader thread.
     */
    LineLog(String name, InputStream in, Consumer<String> onLine) {
        reader = new Thread(() -> read(in, onLine), name);
        reader.setDaemon(true);
        reader.start();
    }

    private void read(InputStream in, Consumer<String> onLine) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                onLine.accept(line);
                synchronized (this) {
                    lines.add(line);
                    notifyAll();
                }
            }
        } catch (IOException e) {
            // The stream was closed under us (kill): the end of the log.
        } finally {
            synchronized (this) {
                eof = true;
                notifyAll();
            }
        }
    }

    /**
     * The index of the first line at or after {@code from} that contains
     * {@code text}, or -1 after {@code timeout} or at the end of the
     * stream without one.
     */
    synchronized int waitFor(String text, int from, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = Math.max(0, from);
        while (true) {
            for (; next < lines.size(); next++) {
                if (lines.get(next).contains(text)) {
                    return next;
                }
            }
            long left = deadline - System.nanoTime();
            if (eof || left <= 0) {
                return -1;
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }
    }

    /** Whether the stream ended within {@code timeout}. */
    synchronized boolean waitEof(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!eof) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** How many lines came so far: a mark for {@link #waitFor}'s {@code from}. */
    synchronized int size() {
        return lines.size();
    }

    /** The lines from index {@code from} to {@code to} (exclusive). */
    synchronized List<String> lines(int from, int to) {
        return List.copyOf(lines.subList(from, to));
    }

    /** Every line so far. */
    synchronized List<String> lines() {
        return List.copyOf(lines);
    }

    /** Every line so far, joined with newlines. */
    synchronized String text() {
        return String.join("\n", lines);
    }

    /** Waits (bounded) for the reader thread to finish after the stream ended. */
    void join(Duration timeout) {
        try {
            reader.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
