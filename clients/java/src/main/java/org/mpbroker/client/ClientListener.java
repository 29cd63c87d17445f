package org.mpbroker.client;

import java.time.Duration;

/**
 * Hears what happens to a client's session: set with
 * {@link MpClient.Builder#listener(ClientListener)}. The methods run on the
 * client's reader thread and must not block: hand the news to your own
 * threads.
 */
public interface ClientListener {
    /**
     * The session was lost; its connections have ended. With reconnecting
     * on, attempts follow.
     *
     * @param error what happened
     */
    default void disconnected(BrokerLostException error) {
    }

    /**
     * A reconnect attempt starts after {@code delay}.
     *
     * @param attempt 1, 2, ...
     * @param delay the wait before it
     * @param address the broker address it tries
     */
    default void reconnecting(int attempt, Duration delay, String address) {
    }

    /** Logged in again: open connections, send. */
    default void reconnected() {
    }

    /**
     * Reconnecting gave up (the attempts ran out, or the broker refused
     * the login for good); {@link MpClient#awaitClosed()} throws
     * {@code error}.
     *
     * @param error the last attempt's failure
     */
    default void gaveUp(MpException error) {
    }
}
