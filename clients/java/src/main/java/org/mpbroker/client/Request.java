package org.mpbroker.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;

/**
 * One request: the connection being opened, the question sent on it, the
 * first message back as the reply; then the connection is closed. The
 * whole exchange is bounded by one timeout.
 */
final class Request {
    private final CompletableFuture<Connection> opening;
    private final byte[] data;
    private final Duration timeout;
    private final String what;
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();

    Request(CompletableFuture<Connection> opening, byte[] data, Duration timeout, String peer, String protocol) {
        this.opening = opening;
        this.data = data;
        this.timeout = timeout;
        this.what = "request '" + protocol + "' of " + peer;
    }

    /** Starts the exchange; the future completes with the reply or the reason there is none. */
    CompletableFuture<byte[]> reply() {
        ScheduledFuture<?> timer = Timers.after(timeout, () -> result.completeExceptionally(
                new MpTimeoutException(what + ": no reply within " + timeout)));
        opening.whenComplete(this::opened);
        result.whenComplete((reply, error) -> {
            timer.cancel(false);
            // A timeout (or a cancel) withdraws the Syn, or closes the connection.
            opening.cancel(false);
            if (opening.isDone() && !opening.isCompletedExceptionally()) {
                opening.join().close();
            }
        });
        return result;
    }

    private void opened(Connection connection, Throwable error) {
        if (error != null) {
            result.completeExceptionally(MpClient.rethrown(error, what));
            return;
        }
        if (result.isDone()) {
            connection.close();
            return;
        }
        try {
            // One message, whatever the send queue holds: requests are
            // bounded by the connections they open.
            connection.sendForced(data);
        } catch (MpException e) {
            result.completeExceptionally(e);
            return;
        }
        connection.receiveAsync().whenComplete((reply, failure) -> {
            if (failure != null) {
                result.completeExceptionally(MpClient.rethrown(failure, what));
            } else {
                result.complete(reply);
            }
        });
    }
}
