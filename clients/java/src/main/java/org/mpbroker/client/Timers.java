package org.mpbroker.client;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The one timer thread of all clients: timeouts of logins, opens and
 * requests, and reconnect delays. Its tasks only complete futures or close
 * sockets; they never block.
 */
final class Timers {
    private static final ScheduledThreadPoolExecutor TIMER = create();

    private Timers() {
    }

    private static ScheduledThreadPoolExecutor create() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "mpclient-timer");
            t.setDaemon(true);
            return t;
        });
        // Cancelled timeouts (the usual case) leave the queue at once.
        timer.setRemoveOnCancelPolicy(true);
        return timer;
    }

    static ScheduledFuture<?> after(Duration delay, Runnable task) {
        return TIMER.schedule(task, Math.max(0, delay.toNanos()), TimeUnit.NANOSECONDS);
    }
}
