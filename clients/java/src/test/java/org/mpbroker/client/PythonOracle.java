package org.mpbroker.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the Python client's codec (clients/python/src/mpclient/codec.py),
 * in one /usr/bin/python3 process a call, to compare the Java codecs with
 * it.
 */
final class PythonOracle {
    static final String PYTHON = "/usr/bin/python3";

    private PythonOracle() {
    }

    /** The script that decodes a batch of inputs (see it for the formats). */
    static Path decodeScript() {
        return Decoding.treeRoot().resolve(
                "clients/java/src/test/resources/org/mpbroker/client/codec_oracle.py");
    }

    /** Runs {@code script} (Python source) with mpclient importable; its stdout lines. */
    static List<String> run(String script) throws IOException, InterruptedException {
        return run(List.of("-c", script));
    }

    /** Runs python3 with {@code args}; its stdout lines, or an error with its stderr. */
    static List<String> run(List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(PYTHON);
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PYTHONPATH", Decoding.treeRoot().resolve("clients/python/src").toString());
        Path err = Files.createTempFile("mp-oracle", ".err");
        Path out = Files.createTempFile("mp-oracle", ".out");
        try {
            pb.redirectError(err.toFile()).redirectOutput(out.toFile());
            Process p = pb.start();
            long timeout = (long) (120 * timeoutScale());
            if (!p.waitFor(timeout, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("python3 did not finish in " + timeout + " s");
            }
            if (p.exitValue() != 0) {
                throw new AssertionError("python3 failed (" + p.exitValue() + "): "
                        + Files.readString(err, StandardCharsets.UTF_8));
            }
            return Files.readAllLines(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(err);
            Files.deleteIfExists(out);
        }
    }

    /** MP_TEST_TIMEOUT_SCALE, as the Python tests' conftest.py reads it. */
    static double timeoutScale() {
        String s = System.getenv("MP_TEST_TIMEOUT_SCALE");
        try {
            return s == null || s.isEmpty() ? 1.0 : Math.max(1.0, Double.parseDouble(s));
        } catch (NumberFormatException e) {
            return 1.0;
        }
    }
}
