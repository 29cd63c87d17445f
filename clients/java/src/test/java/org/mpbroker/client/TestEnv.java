package org.mpbroker.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where the programs under test are, and how long to wait for them: the
 * environment the Python client's tests read (clients/python/tests/conftest.py),
 * each variable optional.
 *
 * <pre>
 * MPBROKER              the broker (default: BUILD/broker/mpbroker)
 * MP_PLUGIN_BUILD_DIR   its plugins (default: BUILD/plugins/.libs)
 * MPCAT                 mpcat (default: BUILD/tools/mpcat)
 * MP_EXAMPLES_DIR       the C examples (default: BUILD/examples)
 * MP_BROKER_WRAPPER     words to run the broker under (e.g. valgrind);
 *                       multiplies the timeouts by 20
 * MP_TEST_TIMEOUT_SCALE multiplies every timeout (default 1)
 * MP_TEST_VERBOSE       print the broker's and children's lines as they come
 * PYTHON                the Python for the Python client (default:
 *                       /usr/bin/python3 when it exists, else python3)
 * </pre>
 *
 * BUILD is the source tree itself, as conftest.py has it (an in-tree build);
 * when the tree holds no built broker, MP_BUILD_DIR or TREE/_build (the
 * out-of-tree build of tools/quickstart.sh). The tree is the system property
 * {@code mp.tree}, else MP_SOURCE_TREE, else the directory two above
 * clients/java.
 */
final class TestEnv {
    private TestEnv() {
    }

    /** The mpbroker source tree. */
    static Path tree() {
        String property = System.getProperty("mp.tree", "");
        if (!property.isEmpty()) {
            return Paths.get(property).toAbsolutePath().normalize();
        }
        String env = env("MP_SOURCE_TREE");
        if (!env.isEmpty()) {
            return Paths.get(env).toAbsolutePath().normalize();
        }
        return clientDir().resolve("../..").normalize();
    }

    /**
     * clients/java, found from where this class was loaded
     * (clients/java/build/test-classes): the launcher's working directory
     * is whatever ant's was.
     */
    static Path clientDir() {
        try {
            Path classes = Paths.get(TestEnv.class.getProtectionDomain().getCodeSource()
                    .getLocation().toURI());
            return classes.resolve("../..").normalize();
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the test classes", e);
        }
    }

    /** Where the C programs were built (see the class comment). */
    static Path buildDir() {
        Path tree = tree();
        if (Files.isExecutable(tree.resolve("broker/mpbroker"))) {
            return tree;
        }
        String env = env("MP_BUILD_DIR");
        return env.isEmpty() ? tree.resolve("_build") : Paths.get(env).toAbsolutePath();
    }

    static String mpbroker() {
        return envPath("MPBROKER", buildDir().resolve("broker/mpbroker"));
    }

    static String pluginDir() {
        return envPath("MP_PLUGIN_BUILD_DIR", buildDir().resolve("plugins/.libs"));
    }

    static String mpcat() {
        return envPath("MPCAT", buildDir().resolve("tools/mpcat"));
    }

    static String examplesDir() {
        return envPath("MP_EXAMPLES_DIR", buildDir().resolve("examples"));
    }

    /** The script that makes the TLS test certificates. */
    static Path makeCerts() {
        return tree().resolve("tests/support/make-certs.sh");
    }

    /** The Python that runs the Python client (as clients/python/run-tests.sh picks it). */
    static String python() {
        String env = env("PYTHON");
        if (!env.isEmpty()) {
            return env;
        }
        return Files.isExecutable(Paths.get("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    /** The Python client's sources, for PYTHONPATH. */
    static Path pythonClient() {
        return tree().resolve("clients/python/src");
    }

    /** The words MP_BROKER_WRAPPER puts before the broker's command. */
    static List<String> wrapper() {
        String text = env("MP_BROKER_WRAPPER").trim();
        return text.isEmpty() ? List.of() : Arrays.asList(text.split("\\s+"));
    }

    static boolean verbose() {
        String text = env("MP_TEST_VERBOSE");
        return !text.isEmpty() && !text.equals("0");
    }

    /** What every timeout is multiplied by: at least 1; 20 under a wrapper. */
    static double timeoutScale() {
        String text = env("MP_TEST_TIMEOUT_SCALE");
        if (!text.isEmpty()) {
            try {
                return Math.max(1.0, Double.parseDouble(text));
            } catch (NumberFormatException e) {
                return 1.0;
            }
        }
        return wrapper().isEmpty() ? 1.0 : 20.0;
    }

    /** A timeout of {@code seconds}, scaled for slow runs (valgrind, sanitizers). */
    static Duration t(double seconds) {
        return Duration.ofMillis(Math.round(seconds * 1000 * timeoutScale()));
    }

    /**
     * A fresh temporary directory with a short path: a Unix socket's path
     * must fit in 108 bytes, so a long TMPDIR is passed over for /tmp.
     */
    static Path shortTempDir(String prefix) {
        String root = env("TMPDIR");
        if (!(root.startsWith("/") && root.length() < 48)) {
            root = "/tmp";
        }
        try {
            return Files.createTempDirectory(Paths.get(root), prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes a directory and everything in it; quiet when it is gone. */
    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }

    private static String env(String name) {
        String value = System.getenv(name);
        return value == null ? "" : value;
    }

    private static String envPath(String name, Path fallback) {
        String value = env(name);
        return value.isEmpty() ? fallback.toString() : value;
    }
}
