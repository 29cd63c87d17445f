package org.mpbroker.client;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/** Test helpers: decoding whole inputs in pieces. */
final class Decoding {
    private Decoding() {
    }

    /**
     * What a decoder made of an input: the messages, then an error, or
     * bytes left that are not a whole message, or neither.
     */
    record Outcome(List<Message> messages, String error, boolean partial) {
        boolean accepted() {
            return error == null && !partial;
        }

        @Override
        public String toString() {
            return messages + (error != null ? " then error: " + error : partial ? " then partial" : "");
        }
    }

    /** Feeds {@code input} in pieces ending at {@code cuts} (ascending), pulling after each. */
    static Outcome decode(Codec codec, long maxSize, byte[] input, int... cuts) {
        Decoder d = codec.decoder(maxSize);
        List<Message> out = new ArrayList<>();
        int from = 0;
        try {
            for (int i = 0; i <= cuts.length; i++) {
                int to = i < cuts.length ? cuts[i] : input.length;
                d.feed(ByteBuffer.wrap(input, from, to - from));
                from = to;
                for (Message m = d.next(); m != null; m = d.next()) {
                    out.add(m);
                }
            }
        } catch (DecodeException e) {
            return new Outcome(out, e.getMessage(), false);
        }
        return new Outcome(out, null, d.hasPartial());
    }

    /** Feeds {@code input} in random pieces (a few large and small). */
    static Outcome decodeSplit(Codec codec, long maxSize, byte[] input, Random random) {
        int n = input.length == 0 ? 0 : random.nextInt(Math.min(input.length, 12) + 1);
        int[] cuts = random.ints(n, 0, input.length + 1).sorted().toArray();
        return decode(codec, maxSize, input, cuts);
    }

    /** The messages of a valid input, fed at once. */
    static List<Message> decodeAll(Codec codec, byte[] input) {
        Outcome o = decode(codec, 1 << 24, input);
        if (!o.accepted()) {
            throw new AssertionError("not accepted: " + o);
        }
        return o.messages();
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }
}
