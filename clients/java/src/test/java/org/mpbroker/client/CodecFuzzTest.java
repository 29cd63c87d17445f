package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Fuzzing the strict readers, seeded and bounded: random and mutated
 * encodings fed in random pieces. Properties: a decoder throws nothing but
 * DecodeException; how the bytes are split changes nothing; decoding an
 * encoding gives the message back; and the Python client's codec
 * (clients/python/src/mpclient/codec.py, in one python3 process a batch)
 * accepts and refuses the same inputs, with the same fields.
 *
 * <p>The seed and the iterations come from MP_FUZZ_SEED and
 * MP_FUZZ_ITERATIONS (or the system properties mp.fuzz.seed and
 * mp.fuzz.iterations) for longer runs; the defaults take a few seconds.
 * A longer run, outside run-tests.sh (which bounds each test to 60 s):
 * {@code MP_FUZZ_SEED=7 MP_FUZZ_ITERATIONS=100000 ant test
 * -Dtest.args="--select-class org.mpbroker.client.CodecFuzzTest"}.
 * Each test prints its seed and counts.
 */
class CodecFuzzTest {
    private static final long SEED = setting("mp.fuzz.seed", "MP_FUZZ_SEED", 20261203L);
    private static final int ITERATIONS = (int) setting("mp.fuzz.iterations", "MP_FUZZ_ITERATIONS", 2000);
    private static final Codec JSON = Format.JSON.codec();
    private static final Codec BINARY = Format.BINARY.codec();

    private static long setting(String property, String env, long fallback) {
        String s = System.getProperty(property, System.getenv(env));
        return s == null || s.isBlank() ? fallback : Long.parseLong(s.trim());
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    /** A size limit: mostly roomy, sometimes tight enough to matter. */
    private static long maxSize(Random r) {
        return r.nextInt(4) == 0 ? 16 + r.nextInt(400) : 1 << 20;
    }

    /** A valid stream of messages of {@code codec}, possibly mutated. */
    private static byte[] input(Codec codec, FuzzInputs in, Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Message m : in.messages()) {
            byte[] b = codec == JSON && r.nextBoolean()
                    ? (in.jsonVariant(m) + (r.nextBoolean() ? "\n" : " ")).getBytes(StandardCharsets.UTF_8)
                    : codec.encode(m);
            out.writeBytes(b);
        }
        byte[] b = out.toByteArray();
        return r.nextInt(3) == 0 ? b : in.mutate(b);
    }

    @Test
    void onlyDecodeExceptionAndSplitInvariance() {
        for (Codec codec : List.of(JSON, BINARY)) {
            Random r = new Random(SEED);
            FuzzInputs in = new FuzzInputs(r);
            int accepted = 0;
            int refused = 0;
            for (int i = 0; i < ITERATIONS; i++) {
                byte[] input = input(codec, in, r);
                long max = maxSize(r);
                Decoding.Outcome whole;
                Decoding.Outcome split;
                try {
                    whole = Decoding.decode(codec, max, input);
                    split = Decoding.decodeSplit(codec, max, input, r);
                } catch (RuntimeException e) {
                    throw new AssertionError("seed " + SEED + ", iteration " + i + ", maxSize " + max
                            + ", input " + hex(input), e);
                }
                assertEquals(whole, split, () -> "split changes the outcome: maxSize " + max + ", input "
                        + hex(input));
                if (whole.error() != null) {
                    refused++;
                } else {
                    accepted++;
                }
            }
            System.out.printf("CodecFuzzTest split: %s seed=%d iterations=%d: %d decoded, %d refused%n",
                    codec == JSON ? "json" : "binary", SEED, ITERATIONS, accepted, refused);
        }
    }

    @Test
    void roundTrip() {
        Random r = new Random(SEED + 1);
        FuzzInputs in = new FuzzInputs(r);
        for (int i = 0; i < ITERATIONS; i++) {
            Message m = in.message();
            for (Codec codec : List.of(JSON, BINARY)) {
                byte[] wire = codec.encode(m);
                List<Message> back = Decoding.decodeSplit(codec, 1 << 20, wire, r).messages();
                assertEquals(List.of(m), back, () -> "input " + hex(wire));
                assertArrayEquals(wire, codec.encode(back.get(0)));
            }
            String variant = in.jsonVariant(m);
            assertEquals(List.of(m), Decoding.decodeAll(JSON, variant.getBytes(StandardCharsets.UTF_8)),
                    variant);
        }
        System.out.printf("CodecFuzzTest round trip: seed=%d iterations=%d%n", SEED + 1, ITERATIONS);
    }

    /**
     * The same inputs through the Python client's codec. JSON inputs are
     * whole lines (objects on one line each, as the Python client reads
     * them: it parses a line when its newline arrives, where this decoder
     * reads objects across lines as the broker and Go do).
     */
    @Test
    void agreesWithThePythonClient() throws IOException, InterruptedException {
        Random r = new Random(SEED + 2);
        FuzzInputs in = new FuzzInputs(r);
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < ITERATIONS; i++) {
            cases.add(new Case('j', maxSize(r), jsonLines(in, r)));
            cases.add(new Case('b', maxSize(r), input(BINARY, in, r)));
        }
        Map<String, Integer> counts = compareWithPython(cases);
        System.out.printf("CodecFuzzTest python: seed=%d inputs=%d %s%n", SEED + 2, cases.size(), counts);
    }

    /**
     * Hand-picked inputs through both clients: the refusals of
     * JsonCodecTest and of the Python client's test_codec.py, and the
     * corners of numbers, strings, keys and nesting.
     */
    @Test
    void agreesWithThePythonClientOnCorners() throws IOException, InterruptedException {
        String[] json = {
            "[1]", "5", "\"x\"", "{\"Meta\":256}", "{\"Meta\":-1}", "{\"Meta\":1.5}", "{\"Meta\":1e2}",
            "{\"Meta\":\"5\"}", "{\"Meta\":true}", "{\"Meta\":[0]}", "{\"Meta\":{}}", "{\"Level\":300}",
            "{\"Level\":7}", "{\"Level\":0}", "{\"Level\":null}", "{\"Data\":\"YQ\"}", "{\"Data\":\"YQ=\"}",
            "{\"Data\":\"YQ===\"}", "{\"Data\":\"YQ==YQ==\"}", "{\"Data\":\"=YQ=\"}", "{\"Data\":\"Y-Q=\"}",
            "{\"Data\":\"Y Q=\"}", "{\"Data\":\"\\u00e9A==\"}", "{\"Data\":\"YR==\"}", "{\"Data\":\"YQ\\r\\n==\"}",
            "{\"Data\":\"\\n\"}", "{\"Data\":\"\\u0059Q==\"}", "{\"Data\":\"Y_Q=\"}", "{\"Data\":\"YQ==\"x}",
            "{\"Data\":5}", "{\"Data\":{\"a\":\"b\"}}", "{\"Data\":false}", "{\"OtherClient\":5}",
            "{\"ConnectionID\":[]}", "{\"OtherClient\":\"\\ud83d\"}", "{\"x\":[{\"y\":\"\\udc00\"}]}",
            "{\"x\":\"\\ud83d\\ud83d\"}", "{\"x\":\"\\ud83d\\ude00\"}", "{\"x\":\"\\uD83D\\uDE00\"}",
            "{\"x\":NaN}", "{\"x\":Infinity}", "{\"x\":-Infinity}", "{\"x\":[1,]}", "{\"x\":[1 2]}",
            "{\"x\":{\"a\" 1}}", "{\"x\":{1:2}}", "{\"x\":[[[]]}", "{\"x\":[}", "{\"x\":{]}", "{\"x\":tru}",
            "{\"x\":nulll}", "{\"x\":01}", "{\"x\":1.}", "{\"x\":1e}", "{\"x\":-}", "{\"x\":+1}", "{\"x\":.5}",
            "{\"x\":\"\\x\"}", "{\"x\":\"\\u12g4\"}", "{\"x\":\"\\U0041\"}", "{\"a\":1,}", "{\"a\":1 \"b\":2}",
            "{,}", "{}x", "{} {}", "{}{}{}", " \t{}\r", "{\"x\":\"\u007f/\"}", "{\"x\":\"a\tb\"}",
            "{\"OtherClient\":\"" + "a".repeat(255) + "\"}", "{\"OtherClient\":\"" + "a".repeat(256) + "\"}",
            "{\"OtherClient\":\"" + "é".repeat(128) + "\"}", "{\"OtherClient\":\"" + "\\u00e9".repeat(127) + "\"}",
            "{\"OtherClient\":\"x<y\",\"ConnectionID\":\"x\\u003cy:1\"}", "{\"OtherClient\":null}",
            "{\"meta\":3,\"META\":6,\"M\\u0065ta\":7}", "{\"mEtA\":1,\"oThErClIeNt\":\"a\",\"DATA\":\"\"}",
            "{\"Meta\":5,\"Meta\":null}", "{\"Meta\":5,\"Meta\":300}", "{\"Meta\":300,\"Meta\":5}",
            "{\"Data\":\"YQ==\",\"Data\":null}", "{\"Data\":\"!!\",\"Data\":null}", "{\"\\u212aey\":1}",
            "{\"\":1}", "{\"x\":" + "[".repeat(500) + "]".repeat(500) + "}",
            "{\"x\":" + "{\"a\":".repeat(300) + "1" + "}".repeat(300) + "}",
            "{\"x\":" + "9".repeat(4300) + "}", "{\"x\":-" + "9".repeat(4300) + "}",
            "{\"x\":" + "9".repeat(4301) + "}", "{\"Meta\":" + "0".repeat(2) + "}",
            "{\"x\":" + "9".repeat(5000) + ".5}", "{\"x\":1" + "0".repeat(5000) + "e1}", "{\"x\":1e400}",
            "{\"x\":-0.0E+00}", "{\"Meta\":0}", "{\"Meta\":255}", "{\"Meta\":255.0}", "{\"Meta\":2E0}",
            "{\"Meta\":1\n", "{\"x\":\"\u2028\u2029\"}", "{\"x\":\"\\/\\b\\f\"}",
            // The known differences (see compare()).
            "{\"Meta\":-0}", "{\"Level\":-0}", "{\"Data\":\"YWJj=\"}", "{\"Data\":\"YWJj==\"}",
            "{\"x\":" + "[".repeat(2000) + "]".repeat(2000) + "}",
        };
        List<Case> cases = new ArrayList<>();
        for (String text : json) {
            cases.add(new Case('j', 1 << 20, (text + "\n").getBytes(StandardCharsets.UTF_8)));
        }
        // Long lines take the Python client's other path (field by field, over 16 KiB).
        String pad = " ".repeat(20000);
        for (String text : json) {
            if (!text.contains("\n")) {
                cases.add(new Case('j', 1 << 20, (pad + text + "\n").getBytes(StandardCharsets.UTF_8)));
            }
        }
        String[] bytes = {
            "7b227822 3a 22 ff 22 7d 0a", "7b227822 3a 22 c0 80 22 7d 0a", "7b227822 3a 22 ed a0 80 22 7d 0a",
            "7b227822 3a 22 f4 90 80 80 22 7d 0a", "7b227822 3a 22 e2 82 22 7d 0a", "7b227822 3a 22 09 22 7d 0a",
            "7b 22 ff 22 3a 31 7d 0a", "ef bb bf 7b 7d 0a", "7b 7d 00 0a", "7b 22 61 22 3a 31 ff 7d 0a",
            "7b227822 3a 22 f0 9f 98 80 22 7d 0a", "7b227822 3a 22 00 22 7d 0a",
        };
        for (String hex : bytes) {
            cases.add(new Case('j', 1 << 20, Decoding.hex(hex)));
        }
        String[] frames = {
            "00000004 00 04 00 00", "00000004 00 80 00 00", "00000005 00 00 00 00 41", "00000005 00 00 05 00 41",
            "00000006 00 01 01 02 41 42", "00000003 00 00 00", "00000000", "00000004 00 02 00 00",
            "00000005 00 00 01 00 ff", "00000006 00 00 00 02 c0 80", "00000007 00 00 03 00 ed a0 80",
            "00000008 00 00 04 00 f4 90 80 80", "00000012 05 01 03 07 626f62 616c6963653a30 6563686f",
            "0000000c 08 03 05 00 02 616c696365 7077", "00000009 09 00 05 00 616c696365", "00000006 08 02 01 00 00 61",
            "00000004 00 01 00 00", "00000004 ff 03", "000003fd", "ffffffff",
        };
        for (String hex : frames) {
            cases.add(new Case('b', 1024, Decoding.hex(hex)));
        }
        Map<String, Integer> counts = compareWithPython(cases);
        System.out.printf("CodecFuzzTest python corners: inputs=%d %s%n", cases.size(), counts);
    }

    /** Runs the cases through both; fails on a disagreement; counts the verdicts. */
    private static Map<String, Integer> compareWithPython(List<Case> cases)
            throws IOException, InterruptedException {
        Path file = Files.createTempFile("mp-fuzz", ".bin");
        List<String> lines;
        try {
            try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
                for (Case c : cases) {
                    out.writeByte(c.format());
                    out.writeLong(c.maxSize());
                    out.writeInt(c.input().length);
                    out.write(c.input());
                }
            }
            // About 0.25 ms an input here; generous for a loaded machine.
            lines = PythonOracle.run(List.of(PythonOracle.decodeScript().toString(), file.toString()),
                    30 + cases.size() / 1000.0);
        } finally {
            Files.deleteIfExists(file);
        }
        Map<String, Integer> counts = new LinkedHashMap<>();
        Iterator<String> results = lines.iterator();
        for (Case c : cases) {
            Decoding.Outcome python = parse(results);
            Codec codec = c.format() == 'j' ? JSON : BINARY;
            Decoding.Outcome java = Decoding.decode(codec, c.maxSize(), c.input());
            String verdict = compare(c, python, java);
            if (verdict == null) {
                fail("the Python client disagrees: format " + c.format() + ", maxSize " + c.maxSize()
                        + ", input " + hex(c.input()) + "\n  python: " + python + "\n  java:   " + java);
            }
            counts.merge(c.format() + " " + verdict, 1, Integer::sum);
        }
        return counts;
    }

    private record Case(char format, long maxSize, byte[] input) {
    }

    /** Whole lines of JSON, a line sometimes mutated (a newline it gets becomes a space). */
    private static byte[] jsonLines(FuzzInputs in, Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean mutate = r.nextInt(3) != 0;
        for (Message m : in.messages()) {
            byte[] line = (r.nextBoolean() ? in.jsonVariant(m)
                    : new String(JSON.encode(m), StandardCharsets.UTF_8).strip()).getBytes(StandardCharsets.UTF_8);
            if (mutate && r.nextBoolean()) {
                line = in.mutate(line);
                for (int i = 0; i < line.length; i++) {
                    line[i] = line[i] == '\n' ? (byte) ' ' : line[i];
                }
            }
            out.writeBytes(line);
            out.write(r.nextInt(4) == 0 ? ' ' : '\n');
        }
        out.write('\n');
        return out.toByteArray();
    }

    /**
     * How the two outcomes agree, or null if they do not. Where they
     * differ only as known and for a reason of the Python client's, the
     * verdict names it:
     * <ul>
     * <li>"-0": Python reads Meta -0 as 0; doc/protocol.md (as Go and the
     * broker) wants digits only.
     * <li>"padding": Python 3.11's binascii takes '=' after a whole group
     * of four ("YWJj="); Go and the broker refuse it.
     * <li>"recursion": Python's json module refuses nesting deeper than
     * its recursion limit (about 1000) in lines under 16 KiB; the limit
     * is 10000 (doc/protocol.md, as Go).
     * <li>"whitespace": Python bounds whitespace only in a line not yet
     * ended.
     * <li>"chars": Python measures a complete object in characters, and
     * in bytes only when it has more characters than the limit, so it
     * takes an object of non-ASCII text over the limit in bytes.
     * <li>"waits": Python refuses an object a line's end leaves open; the
     * broker and this decoder read on (an object may span lines).
     * </ul>
     */
    private static String compare(Case c, Decoding.Outcome python, Decoding.Outcome java) {
        if (python.accepted()) {
            if (java.accepted()) {
                return python.messages().equals(java.messages()) ? "accepted" : null;
            }
            String why = String.valueOf(java.error());
            String text = new String(c.input(), StandardCharsets.ISO_8859_1);
            if (why.contains("must be an integer 0-255") && text.contains("-0")) {
                return "known:-0";
            }
            if (why.contains("padding where a group of four begins")) {
                return "known:padding";
            }
            if (why.contains("whitespace without a message")) {
                return "known:whitespace";
            }
            if (why.contains("a JSON message longer than") && !text.matches("[\\x00-\\x7f]*")) {
                return "known:chars";
            }
            return null;
        }
        if (python.partial()) {
            return java.partial() && python.messages().equals(java.messages()) ? "partial" : null;
        }
        if (java.error() != null) {
            return "refused";
        }
        if (python.error().contains("recursion")) {
            return "known:recursion";
        }
        return c.format() == 'j' && java.partial() ? "known:waits" : null;
    }

    /** One result of codec_oracle.py. */
    private static Decoding.Outcome parse(Iterator<String> lines) {
        String head = lines.next();
        if (head.startsWith("reject ")) {
            return new Decoding.Outcome(List.of(), head.substring(7), false);
        }
        String[] words = head.split(" ");
        int n = Integer.parseInt(words[1]);
        List<Message> msgs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String[] f = lines.next().split(" ");
            msgs.add(new Message(Integer.parseInt(f[0]), text(f[2]), text(f[3]),
                    f[4].equals("-") ? null : bytes(f[4]), Integer.parseInt(f[1])));
        }
        return new Decoding.Outcome(msgs, null, words[0].equals("partial"));
    }

    private static byte[] bytes(String x) {
        return HexFormat.of().parseHex(x.substring(1));
    }

    private static String text(String x) {
        return new String(bytes(x), StandardCharsets.UTF_8);
    }
}
