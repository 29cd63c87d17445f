package org.mpbroker.client;

/** The protocol's rules for client names (doc/protocol.md, "Sessions"). */
final class Names {
    private Names() {
    }

    /**
     * Why {@code name} cannot be a client name, or {@code null} when it can:
     * 1-255 bytes of UTF-8, no {@code :}, no control character.
     */
    static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "a name must not be empty";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == ':') {
                return "a name must not contain ':'";
            }
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                return "a name must not contain control characters";
            }
        }
        // The codec's own rules for every name on the wire.
        if (!Utf8.isWellFormed(name)) {
            return "a name must be valid Unicode (an unpaired surrogate)";
        }
        if (Utf8.length(name) > Utf8.NAME_MAX) {
            return "a name must be at most " + Utf8.NAME_MAX + " bytes of UTF-8";
        }
        return null;
    }

    /** Throws IllegalArgumentException naming what is wrong with {@code name}. */
    static String check(String what, String name) {
        String problem = problem(name);
        if (problem != null) {
            throw new IllegalArgumentException("bad " + what + " '" + name + "': " + problem);
        }
        return name;
    }
}
