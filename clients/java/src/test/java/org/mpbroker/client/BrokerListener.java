package org.mpbroker.client;

/**
 * A listener the broker logged ({@code info: listening on LABEL
 * translator=NAME}).
 *
 * @param label {@code tcp:127.0.0.1:PORT}, {@code tls:127.0.0.1:PORT} or
 *        {@code unix:PATH}: a client address as it is
 * @param translator the listener's translator (json, binary, auto...)
 */
record BrokerListener(String label, String translator) {
    /** tcp, tls or unix. */
    String scheme() {
        return label.substring(0, label.indexOf(':'));
    }

    /** The port of a tcp or tls listener. */
    int port() {
        return Integer.parseInt(label.substring(label.lastIndexOf(':') + 1));
    }

    /**
     * The listener a log line announces, or null when it announces none.
     */
    static BrokerListener parse(String line) {
        int at = line.indexOf("listening on ");
        int tr = line.lastIndexOf(" translator=");
        if (at < 0 || tr < at) {
            return null;
        }
        return new BrokerListener(line.substring(at + "listening on ".length(), tr),
                line.substring(tr + " translator=".length()).trim());
    }
}
