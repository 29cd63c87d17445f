package org.mpbroker.client;

/**
 * A parsed broker address: {@code tcp:HOST:PORT} ({@code tcp:[::1]:7330}
 * for IPv6), {@code tls:HOST:PORT} or {@code unix:PATH}, as libmpclient,
 * mpcat and the Python client write them.
 *
 * @param scheme {@code "tcp"}, {@code "tls"} or {@code "unix"}
 * @param host the host (tcp, tls), without brackets
 * @param port the port (tcp, tls), 1-65535
 * @param path the socket path (unix)
 */
public record Address(String scheme, String host, int port, String path) {
    /**
     * Parses an address.
     *
     * @param text the address
     * @return it, parsed
     * @throws IllegalArgumentException when it is not one of the three forms
     */
    public static Address parse(String text) {
        int colon = text.indexOf(':');
        String scheme = colon < 0 ? "" : text.substring(0, colon);
        String rest = colon < 0 ? "" : text.substring(colon + 1);
        if (!scheme.equals("tcp") && !scheme.equals("tls") && !scheme.equals("unix")) {
            throw bad(text, "want tcp:HOST:PORT, tls:HOST:PORT or unix:PATH");
        }
        if (scheme.equals("unix")) {
            if (rest.isEmpty()) {
                throw bad(text, "empty socket path");
            }
            return new Address(scheme, "", 0, rest);
        }
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw bad(text, "want " + scheme + ":[HOST]:PORT");
            }
            host = rest.substring(1, close);
            port = rest.substring(close + 2);
        } else {
            int last = rest.lastIndexOf(':');
            if (last < 0 || rest.substring(0, last).contains(":")) {
                throw bad(text, "want " + scheme + ":HOST:PORT (an IPv6 host in brackets)");
            }
            host = rest.substring(0, last);
            port = rest.substring(last + 1);
        }
        if (host.isEmpty() || !port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1
                || Integer.parseInt(port) > 65535) {
            throw bad(text, "want " + scheme + ":HOST:PORT with a port 1-65535");
        }
        return new Address(scheme, host, Integer.parseInt(port), "");
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("bad broker address '" + text + "': " + why);
    }

    /** The address as {@link #parse(String)} reads it. */
    @Override
    public String toString() {
        if (scheme.equals("unix")) {
            return "unix:" + path;
        }
        return scheme + ":" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
