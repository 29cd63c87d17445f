package org.mpbroker.client;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The brokers of one test, as conftest.py's broker_factory fixture: each
 * started broker is stopped after the test (SIGTERM, and it must exit 0),
 * then killed if need be and its directory removed; when the test failed,
 * their logs are printed.
 *
 * <pre>{@code
 * @RegisterExtension
 * final Brokers brokers = new Brokers();
 *
 * @Test
 * void echo() {
 *     TestBroker broker = brokers.start();
 *     ...
 * }
 * }</pre>
 */
final class Brokers implements AfterEachCallback {
    private final List<TestBroker> started = new ArrayList<>();

    /** A broker with allow_all and the default listeners. */
    TestBroker start() {
        return start(TestBroker.ALLOW_ALL + TestBroker.DEFAULT_LISTENERS, b -> { });
    }

    /**
     * A broker with {@code body} after the standard prologue;
     * {@code setup} runs before it starts (to write files, make certs).
     */
    TestBroker start(String body, Consumer<TestBroker> setup) {
        TestBroker broker = new TestBroker();
        started.add(broker);
        setup.accept(broker);
        return broker.start(body);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        boolean failed = context.getExecutionException().isPresent();
        try {
            for (TestBroker b : started) {
                if (failed) {
                    System.out.println("--- broker log (" + b.dir() + ") ---\n" + b.logText());
                }
                b.stop();
            }
        } finally {
            for (TestBroker b : started) {
                try {
                    b.close();
                } catch (AssertionError e) {
                    // Its stop() failed already above; close() still cleaned up.
                }
            }
            started.clear();
        }
    }
}
