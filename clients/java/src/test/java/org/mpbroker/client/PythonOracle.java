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
 * in one python3 process a call (TestEnv.python(): /usr/bin/python3 unless
 * PYTHON says otherwise), to compare the Java codecs with it.
 */
final class PythonOracle {
    private PythonOracle() {
    }

    /** The script that decodes a batch of inputs (see it for the formats). */
    static Path decodeScript() {
        return TestEnv.clientDir().resolve(
                "src/test/resources/org/mpbroker/client/codec_oracle.py");
    }

    /** Runs {@code script} (Python source) with mpclient importable; its stdout lines. */
    static List<String> run(String script) throws IOException, InterruptedException {
        return run(List.of("-c", script), 60);
    }

    /**
     * Runs python3 with {@code args}; its stdout lines, or an error with its
     * stderr when it fails or takes longer than {@code seconds} (times the
     * timeout scale).
     */
    static List<String> run(List<String> args, double seconds) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(TestEnv.python());
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PYTHONPATH", TestEnv.pythonClient().toString());
        Path err = Files.createTempFile("mp-oracle", ".err");
        Path out = Files.createTempFile("mp-oracle", ".out");
        try {
            pb.redirectError(err.toFile()).redirectOutput(out.toFile());
            Process p = pb.start();
            long timeout = (long) Math.ceil(seconds * TestEnv.timeoutScale());
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
}
