package org.mpbroker.client;

/**
 * JSON strings as Go's {@code encoding/json} writes them, with its default
 * HTML escaping: the bytes the broker and the original Go translator write
 * (doc/protocol.md, "What the broker writes").
 */
final class GoJson {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private GoJson() {
    }

    /**
     * Appends {@code s} as a JSON string literal, quotes included:
     * {@code "} and {@code \} and newline, carriage return, tab as
     * {@code \"}, {@code \\}, {@code \n}, {@code \r}, {@code \t}; other
     * control characters as <code>&#92;u00XX</code> in lower-case hex; {@code <},
     * {@code >}, {@code &}, U+2028 and U+2029 as <code>&#92;uXXXX</code>;
     * everything else, DEL and {@code /} included, as itself.
     *
     * @param out where to append
     * @param s a well-formed string (see {@link Utf8#name})
     */
    static void appendString(StringBuilder out, String s) {
        out.append('"');
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '<', '>', '&', '\u2028', '\u2029' -> appendUnicodeEscape(out, c);
                default -> {
                    if (c < 0x20) {
                        appendUnicodeEscape(out, c);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    private static void appendUnicodeEscape(StringBuilder out, char c) {
        out.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf])
                .append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
    }
}
