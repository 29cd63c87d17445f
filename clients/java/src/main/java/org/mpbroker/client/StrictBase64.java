package org.mpbroker.client;

import java.util.Arrays;

/**
 * Reads the Data of a JSON message: standard base64 with {@code =}
 * padding (RFC 4648 section 4), as Go's {@code StdEncoding} reads it:
 * {@code \r} and {@code \n} are skipped, the unused low bits of the last
 * character may be anything; unpadded input, the URL-safe alphabet, any
 * other character, and anything after the padding are errors
 * (doc/protocol.md, "What the broker reads").
 */
final class StrictBase64 {
    private static final int PAD = -2;
    private static final int SKIP = -3;
    private static final int[] VALUES = new int[128];

    static {
        Arrays.fill(VALUES, -1);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; i++) {
            VALUES[alphabet.charAt(i)] = i;
        }
        VALUES['='] = PAD;
        VALUES['\r'] = SKIP;
        VALUES['\n'] = SKIP;
    }

    private StrictBase64() {
    }

    /**
     * Decodes {@code text}.
     *
     * @param text the characters of the JSON string, unescaped
     * @return the bytes
     * @throws DecodeException with the reason when it is not padded
     *         standard base64
     */
    static byte[] decode(CharSequence text) {
        byte[] out = new byte[text.length() / 4 * 3];
        int o = 0;
        int quad = 0; // characters of the current group of four
        int bits = 0;
        int pads = 0; // '=' seen; after them only '=' may follow, to complete the group
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            int v = c < 128 ? VALUES[c] : -1;
            if (v == SKIP) {
                continue;
            }
            if (v == -1) {
                throw fail("a character outside the base64 alphabet");
            }
            if (v == PAD) {
                if (quad < 2 || quad + pads >= 4) {
                    throw fail(quad == 0 && pads == 0 ? "padding where a group of four begins"
                            : "padding too long");
                }
                pads++;
                continue;
            }
            if (pads > 0) {
                throw fail("data after the padding");
            }
            bits = bits << 6 | v;
            if (++quad == 4) {
                out[o++] = (byte) (bits >> 16);
                out[o++] = (byte) (bits >> 8);
                out[o++] = (byte) bits;
                quad = 0;
                bits = 0;
            }
        }
        if (quad == 0) {
            return Arrays.copyOf(out, o);
        }
        if (quad + pads != 4) {
            throw fail("not padded to a multiple of four characters");
        }
        bits <<= 6 * pads;
        out[o++] = (byte) (bits >> 16);
        if (quad == 3) {
            out[o++] = (byte) (bits >> 8);
        }
        return Arrays.copyOf(out, o);
    }

    private static DecodeException fail(String why) {
        return new DecodeException("Data is not padded standard base64: " + why);
    }
}
