package org.mpbroker.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** The delays between reconnect attempts (the Python client's reconnect_delay). */
final class Backoff {
    private Backoff() {
    }

    /**
     * The wait before attempt {@code attempt} (1, 2, ...): none for the
     * first (a restarted broker is often back already), then
     * {@code min(max, initial × 2^(attempt-2))} times a random factor in
     * [0.5, 1], so that the clients of one broker do not all come back at
     * once.
     */
    static Duration delay(int attempt, Duration initial, Duration max) {
        if (attempt <= 1) {
            return Duration.ZERO;
        }
        double base = Math.min(max.toNanos(), initial.toNanos() * Math.pow(2, Math.min(attempt - 2, 60)));
        return Duration.ofNanos((long) (base * ThreadLocalRandom.current().nextDouble(0.5, 1.0)));
    }
}
