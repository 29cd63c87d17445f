package org.mpbroker.client;

import java.nio.charset.StandardCharsets;

/**
 * Strict UTF-8, as Python's codec and Go's {@code utf8.Valid} read it: no
 * overlong forms, no encoded surrogates, nothing above U+10FFFF; and names
 * encoded for the wire, refusing unpaired surrogates.
 */
final class Utf8 {
    /** The most bytes of UTF-8 a name or connection id may take. */
    static final int NAME_MAX = 255;

    private Utf8() {
    }

    /**
     * Where the bytes {@code b[from..to)} stop being valid UTF-8.
     *
     * @return the index of the first byte of the first invalid sequence,
     *         or -1 if all are valid
     */
    static int invalidAt(byte[] b, int from, int to) {
        int i = from;
        while (i < to) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                i++;
                continue;
            }
            int n = sequenceLength(b, i, to);
            if (n == 0) {
                return i;
            }
            i += n;
        }
        return -1;
    }

    /** The length of the valid sequence at {@code b[i]} (a lead byte >= 0x80), or 0. */
    private static int sequenceLength(byte[] b, int i, int to) {
        int c = b[i] & 0xff;
        int n;
        int lo = 0x80;
        int hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) {
                lo = 0xa0; // overlong below U+0800
            } else if (c == 0xed) {
                hi = 0x9f; // U+D800-DFFF, surrogates
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) {
                lo = 0x90; // overlong below U+10000
            } else if (c == 0xf4) {
                hi = 0x8f; // above U+10FFFF
            }
        } else {
            return 0;
        }
        if (to - i < n) {
            return 0;
        }
        int second = b[i + 1] & 0xff;
        if (second < lo || second > hi) {
            return 0;
        }
        for (int k = 2; k < n; k++) {
            int cont = b[i + k] & 0xff;
            if (cont < 0x80 || cont > 0xbf) {
                return 0;
            }
        }
        return n;
    }

    /** Whether {@code s} is valid UTF-16: every surrogate in a pair. */
    static boolean isWellFormed(CharSequence s) {
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 == n || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** The bytes of UTF-8 that {@code s} takes (a well-formed string). */
    static int length(CharSequence s) {
        int n = 0;
        int len = s.length();
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /**
     * A name as it goes on the wire.
     *
     * @param what the field, for the error
     * @param name the name
     * @return its UTF-8
     * @throws IllegalArgumentException when it has an unpaired surrogate
     *         or is over {@link #NAME_MAX} bytes
     */
    static byte[] name(String what, String name) {
        if (!isWellFormed(name)) {
            throw new IllegalArgumentException(what + " has an unpaired UTF-16 surrogate");
        }
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > NAME_MAX) {
            throw new IllegalArgumentException(what + " is longer than " + NAME_MAX
                    + " bytes of UTF-8 (" + b.length + ")");
        }
        return b;
    }
}
