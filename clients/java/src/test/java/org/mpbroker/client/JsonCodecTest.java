package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The JSON format, byte for byte: doc/protocol.md, the Go capture, and the reading rules. */
class JsonCodecTest {
    private static final Codec JSON = Format.JSON.codec();

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String encode(Message m) {
        return new String(JSON.encode(m), StandardCharsets.UTF_8);
    }

    private static List<Message> decode(String text) {
        return Decoding.decodeAll(JSON, utf8(text));
    }

    @Test
    void workedExample() {
        Message syn = new Message(Meta.CONN_SYN, "bob", "alice:0", utf8("echo"));
        String line = "{\"Meta\":5,\"OtherClient\":\"bob\",\"ConnectionID\":\"alice:0\",\"Data\":\"ZWNobw==\"}\n";
        assertEquals(line, encode(syn));
        assertEquals(List.of(syn), decode(line));
    }

    @Test
    void authWithLevel() {
        Message auth = new Message(Meta.AUTH, "alice", "", utf8("pw"), 2);
        String line = "{\"Meta\":8,\"OtherClient\":\"alice\",\"ConnectionID\":\"\",\"Data\":\"cHc=\",\"Level\":2}\n";
        assertEquals(line, encode(auth));
        assertEquals(List.of(auth), decode(line));
    }

    /** doc/protocol.md's lines of the original server's capture. */
    @Test
    void docCapture() {
        String[] lines = {
            "{\"Meta\":9,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}\n",
            "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"ZWNobw==\"}\n",
            "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}\n",
            "{\"Meta\":2,\"OtherClient\":\"absent56782\",\"ConnectionID\":\"gocli56782:2\",\"Data\":\"ZWNobw==\"}\n",
            "{\"Meta\":4,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}\n",
        };
        List<Message> msgs = decode(String.join("", lines));
        assertEquals(new Message(Meta.AUTH_OK, "goecho56782", "", null), msgs.get(0));
        assertEquals(new Message(Meta.CONN_SYN, "gocli56782", "gocli56782:0", utf8("echo")), msgs.get(1));
        assertArrayEquals(new byte[] {0x00, 0x01, 0x02, (byte) 0xff, 0x0a, 0x22}, msgs.get(2).data());
        assertEquals(new Message(Meta.NO_SUCH_CONNECTION, "absent56782", "gocli56782:2", utf8("echo")),
                msgs.get(3));
        assertEquals(new Message(Meta.CLIENT_CLOSED, "goecho56782", "", null), msgs.get(4));
        for (int i = 0; i < lines.length; i++) {
            assertEquals(lines[i], encode(msgs.get(i)));
        }
    }

    /**
     * Every message of the capture of the original Go server and clients
     * (tests/data/wire/go-json-transcript.txt; "c1> " lines are what a Go
     * client wrote, "c1< " what the server wrote, so Go wrote them all)
     * decodes to one message that encodes to the same bytes.
     */
    @Test
    void goTranscript() throws IOException {
        Path file = TestEnv.tree().resolve("tests/data/wire/go-json-transcript.txt");
        if (!Files.exists(file)) {
            file = Paths.get("/work/shared/wire/go-json-transcript.txt");
        }
        int checked = 0;
        StringBuilder stream = new StringBuilder();
        List<Message> all = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.startsWith("#") || line.isBlank() || line.endsWith("<EOF>")) {
                continue;
            }
            assertTrue(line.matches("c[12][<>] \\{.*"), line);
            String json = line.substring(4) + "\n";
            List<Message> msgs = decode(json);
            assertEquals(1, msgs.size(), json);
            assertEquals(json, encode(msgs.get(0)));
            stream.append(json);
            all.addAll(msgs);
            checked++;
        }
        assertEquals(29, checked);
        assertEquals(all, decode(stream.toString()));
    }

    @Test
    void goEscaping() {
        assertEquals("\"a\\u003cb\\u003e\\u0026c\\\"d\\\\e\"", goString("a<b>&c\"d\\e"));
        assertEquals("\"\\n\\r\\t\\u0008\\u000c\\u001f\\u0000\"", goString("\n\r\t\b\f\u001f\u0000"));
        assertEquals("\"\\u2028\\u2029\"", goString("\u2028\u2029"));
        // DEL, '/', and valid non-ASCII stay as they are.
        assertEquals("\"\u007f/é€😀\"", goString("\u007f/é€😀"));
        String line = encode(new Message(Meta.DATA, "x<y", "x<y:1", new byte[0]));
        assertEquals("{\"Meta\":0,\"OtherClient\":\"x\\u003cy\",\"ConnectionID\":\"x\\u003cy:1\",\"Data\":\"\"}\n",
                line);
        // Reading accepts both forms.
        assertEquals("x<y", decode(line).get(0).otherClient());
        assertEquals("x<y", decode("{\"OtherClient\":\"x<y\"}\n").get(0).otherClient());
        assertEquals("é😀", decode("{\"OtherClient\":\"\\u00e9\\ud83d\\uDE00\"}\n").get(0).otherClient());
    }

    private static String goString(String s) {
        StringBuilder out = new StringBuilder();
        GoJson.appendString(out, s);
        return out.toString();
    }

    @Test
    void absentEmptyAndMissing() {
        assertTrue(encode(new Message(0, "a", "a:0", null)).endsWith("\"Data\":null}\n"));
        assertTrue(encode(new Message(0, "a", "a:0", new byte[0])).endsWith("\"Data\":\"\"}\n"));
        assertEquals(List.of(new Message(0, "", "", null), new Message(0, "", "", new byte[0]),
                new Message(0, "", "", null)), decode("{\"Data\":null}\n{\"Data\":\"\"}\n{}\n"));
    }

    /** Whitespace before the object changes nothing, however much (within the limit). */
    @ParameterizedTest
    @ValueSource(ints = {0, 20000})
    void readingRules(int pad) {
        String p = " ".repeat(pad);
        // Case-insensitive keys, unknown keys ignored (nested too), last
        // duplicate wins, any whitespace between objects, several a line.
        assertEquals(List.of(new Message(7, "bob", "bob:1", utf8("x")), new Message(1, "", "", null)),
                decode(p + " \t{\"meta\":3,\"META\":6,\"otherclient\":\"bob\",\"x\":{\"y\":[1,{\"z\":null}]},"
                        + "\"connectionid\":\"bob:1\",\"data\":\"eA==\",\"M\\u0065ta\":7}{\"Meta\":1}\r\n\n"));
        // null leaves a string alone; "\r\n" inside base64 is ignored.
        assertEquals(List.of(new Message(0, "", "", utf8("xy"))),
                decode(p + "{\"OtherClient\":null,\"Data\":\"eH\\r\\nk=\"}\n"));
        assertEquals(List.of(new Message(5, "a", "", null)),
                decode(p + "{\"Meta\":5,\"OtherClient\":\"a\",\"Meta\":null,\"Data\":\"YQ==\",\"Data\":null}\n"));
        // An object may span lines, and needs no newline after it.
        assertEquals(List.of(new Message(3, "", "", null), new Message(4, "", "", null)),
                decode(p + "{\n\"Meta\"\n:\n3\n}{\"Meta\":4}"));
        // The unused low bits of the last base64 character may be set.
        assertArrayEquals(utf8("a"), decode("{\"Data\":\"YR==\"}").get(0).data());
        // 10000 levels of nesting (the message's object included) are fine.
        assertEquals(List.of(new Message(2, "", "", null)),
                decode("{\"x\":" + "[".repeat(9999) + "]".repeat(9999) + ",\"Meta\":2}"));
    }

    @Test
    void ignoredValuesOfEveryShape() {
        assertEquals(List.of(new Message(4, "", "", null)),
                decode("{\"a\":[],\"b\":{},\"c\":[1,-2.5e3,\"s\",true,false,null,[{}],{\"d\":[[]]}],"
                        + "\"e\" : { \"f\" : [ 1 , { } ] } ,\"Meta\":4,\"g\":\"\\u003c\",\"h\":1E+2,"
                        + "\"i\":-0.0e-0,\"OtherClientX\":5,\"j\":\"\\/\\b\\f\\\"\"}\n"));
    }

    /** Each invalid input, with (a part of) the reason it is refused. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "[1]                         | the top level is not a JSON object",
        "5                           | the top level is not a JSON object",
        "`\"x\"`                     | the top level is not a JSON object",
        "{\"Meta\":256}              | Meta must be an integer 0-255",
        "{\"Meta\":-1}               | Meta must be an integer 0-255",
        "{\"Meta\":-0}               | Meta must be an integer 0-255",
        "{\"Meta\":1.5}              | Meta must be an integer 0-255",
        "{\"Meta\":1e2}              | Meta must be an integer 0-255",
        "{\"Meta\":\"5\"}            | Meta must be an integer 0-255",
        "{\"Meta\":true}             | Meta must be an integer 0-255",
        "{\"Meta\":[0]}              | Meta must be an integer 0-255",
        "{\"Level\":300}             | Level must be an integer 0-255",
        "{\"Data\":\"YQ\"}           | not padded to a multiple of four",
        "{\"Data\":\"YQ=\"}          | not padded to a multiple of four",
        "{\"Data\":\"YQ===\"}        | padding too long",
        "{\"Data\":\"YQ==YQ==\"}     | data after the padding",
        "{\"Data\":\"=YQ=\"}         | padding where a group of four begins",
        "{\"Data\":\"YWJj=\"}        | padding where a group of four begins",
        "{\"Data\":\"Y-Q=\"}         | outside the base64 alphabet",
        "{\"Data\":\"Y Q=\"}         | outside the base64 alphabet",
        "{\"Data\":\"\\u00e9A==\"}   | outside the base64 alphabet",
        "{\"Data\":\"YQ==\"x}        | malformed JSON: unexpected 'x'",
        "{\"Data\":5}                | Data is neither null nor a string",
        "{\"Data\":{\"a\":\"b\"}}    | Data is neither null nor a string",
        "{\"Data\":false}            | Data is neither null nor a string",
        "{\"OtherClient\":5}         | OtherClient is not a string",
        "{\"ConnectionID\":[]}       | ConnectionID is not a string",
        "{\"OtherClient\":\"\\ud83d\"} | unpaired UTF-16 surrogate",
        "{\"x\":[{\"y\":\"\\udc00\"}]} | unpaired UTF-16 surrogate",
        "{\"x\":\"\\ud83d\\ud83d\"}  | unpaired UTF-16 surrogate",
        "{\"x\":NaN}                 | unexpected 'N'",
        "{\"x\":Infinity}            | unexpected 'I'",
        "{\"x\":[1,]}                | expecting a value",
        "{\"x\":[1 2]}               | expecting ',' or ']'",
        "{\"x\":{\"a\" 1}}           | expecting ':'",
        "{\"x\":{1:2}}               | expecting a key",
        "{\"x\":[[[]]}               | '}' closes an array",
        "{\"x\":[}                   | '}' closes an array",
        "{\"x\":{]}                  | ']' closes an object",
        "{\"x\":tru}                 | expecting 'true'",
        "{\"x\":nulll}               | expecting ',' or '}'",
        "{\"x\":01}                  | expecting ',' or '}'",
        "{\"x\":1.}                  | bad fraction or exponent",
        "{\"x\":1e}                  | bad fraction or exponent",
        "{\"x\":-}                   | a number without digits",
        "{\"x\":+1}                  | expecting a value",
        "{\"x\":\"\\x\"}             | an invalid escape",
        "{\"x\":\"\\u12g4\"}         | a bad \\u escape",
        "{\"a\":1,}                  | expecting a key",
        "{\"a\":1 \"b\":2}           | expecting ',' or '}'",
        "{,}                         | expecting a key",
        "{}x                         | the top level is not a JSON object",
        "{\"Meta\":1                 | partial",
    })
    void rejects(String text, String why) {
        Decoding.Outcome o = Decoding.decode(JSON, 1 << 20, utf8(text + "\n"));
        if (why.equals("partial")) {
            assertTrue(o.partial(), o::toString);
        } else {
            assertTrue(o.error() != null && o.error().contains(why), o::toString);
        }
    }

    @Test
    void rejectsBytes() {
        String[][] cases = {
            {"7b227822 3a 22 ff 22 7d", "not valid UTF-8"}, // {"x":"\xff"}
            {"7b227822 3a 22 c0 80 22 7d", "not valid UTF-8"}, // overlong NUL
            {"7b227822 3a 22 ed a0 80 22 7d", "not valid UTF-8"}, // an encoded surrogate
            {"7b227822 3a 22 f4 90 80 80 22 7d", "not valid UTF-8"}, // above U+10FFFF
            {"7b227822 3a 22 e2 82 22 7d", "not valid UTF-8"}, // cut short
            {"7b227822 3a 22 09 22 7d", "a control character (byte 0x09) in a string"}, // a raw tab
            {"7b 22 ff 22 3a 31 7d", "not valid UTF-8"}, // in a key
            {"ef bb bf 7b 7d", "the top level is not a JSON object (byte 0xef)"}, // a BOM
            {"7b 7d 00", "the top level is not a JSON object (byte 0x00)"},
            {"7b 22 61 22 3a 31 ff 7d", "unexpected byte 0xff"},
        };
        for (String[] c : cases) {
            Decoding.Outcome o = Decoding.decode(JSON, 1 << 20, Decoding.hex(c[0]));
            assertTrue(o.error() != null && o.error().contains(c[1]), c[0] + ": " + o);
        }
    }

    @Test
    void nestingDeeperThanGoIsRefused() {
        String deep = "{\"x\":" + "[".repeat(10000);
        Decoding.Outcome o = Decoding.decode(JSON, 1 << 20, utf8(deep));
        assertTrue(o.error() != null && o.error().contains("nested deeper than 10000"), o::toString);
    }

    @Test
    void namesOverTheLimit() {
        assertEquals("a".repeat(255), decode("{\"OtherClient\":\"" + "a".repeat(255) + "\"}").get(0).otherClient());
        assertEquals("é".repeat(127), decode("{\"ConnectionID\":\"" + "\\u00e9".repeat(127) + "\"}").get(0)
                .connectionId());
        for (String name : new String[] {"a".repeat(256), "é".repeat(128), "\\u00e9".repeat(128), "😀".repeat(64)}) {
            Decoding.Outcome o = Decoding.decode(JSON, 1 << 20, utf8("{\"OtherClient\":\"" + name + "\"}"));
            assertTrue(o.error() != null && o.error().contains("OtherClient is longer than 255 bytes"),
                    o::toString);
        }
    }

    @Test
    void sizeLimit() {
        Decoder d = JSON.decoder(64);
        d.feed(ByteBuffer.wrap(utf8("{\"Meta\":0,\"OtherClient\":\"" + "a".repeat(30))));
        assertNull(d.next());
        d.feed(ByteBuffer.wrap(utf8("a".repeat(40))));
        DecodeException e = assertThrows(DecodeException.class, d::next);
        assertTrue(e.getMessage().contains("longer than 64 bytes"), e::getMessage);
        assertSame(e, assertThrows(DecodeException.class, d::next));
        // An object of exactly the limit is accepted; one byte more is not.
        String exact = "{\"OtherClient\":\"" + "a".repeat(64 - 18) + "\"}";
        assertEquals(64, exact.length());
        assertEquals(1, Decoding.decode(JSON, 64, utf8(exact)).messages().size());
        assertTrue(Decoding.decode(JSON, 64, utf8(exact.replace("\"a", "\"aa"))).error() != null);
        // Whitespace between messages does not count...
        assertEquals(List.of(new Message(1, "", "", null)),
                Decoding.decode(JSON, 64, utf8(" ".repeat(60) + "\n" + "{\"Meta\":1}\n")).messages());
        // ... but more of it in a row than the limit is an error too.
        Decoding.Outcome o = Decoding.decode(JSON, 64, utf8(" ".repeat(65)));
        assertTrue(o.error() != null && o.error().contains("whitespace"), o::toString);
        // A complete line of many small objects is many messages, each within the limit.
        assertEquals(100, Decoding.decode(JSON, 64, utf8("{}".repeat(100) + "\n")).messages().size());
    }

    /** A line of a million {} or of huge whitespace costs its own length, one object a call. */
    @Test
    void hostileLinesCostTheirLength() {
        int n = 1_000_000;
        byte[] line = utf8("{}".repeat(n) + "\n");
        Decoder d = JSON.decoder(1 << 20);
        d.feed(ByteBuffer.wrap(line));
        int count = 0;
        long start = System.nanoTime();
        while (d.next() != null) {
            count++;
        }
        assertEquals(n, count);
        assertFalse(d.hasPartial());
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < 10 * TestEnv.timeoutScale(), "took " + seconds + " s");
        // Whitespace is dropped as it is read: fed in pieces, it is never all kept.
        d = JSON.decoder(4 << 20);
        byte[] spaces = new byte[1 << 16];
        java.util.Arrays.fill(spaces, (byte) ' ');
        for (int i = 0; i < 60; i++) {
            d.feed(ByteBuffer.wrap(spaces));
            assertNull(d.next());
            assertFalse(d.hasPartial());
        }
        d.feed(ByteBuffer.wrap(utf8("{\"Meta\":1}")));
        assertEquals(new Message(1, "", "", null), d.next());
        // Long lines of tiny ignored values, and a deep nest, in one message.
        int k = 30000;
        for (String s : new String[] {
            "{" + "\"x\":{},".repeat(k) + "\"Meta\":1}\n",
            "{\"x\":[" + "[],".repeat(k) + "0],\"Meta\":1}\n",
            "{\"x\":[" + "\"ab\",".repeat(k) + "0],\"Meta\":1}\n",
            "{\"x\":" + "[".repeat(9000) + "]".repeat(9000) + ",\"Meta\":1}\n",
        }) {
            assertEquals(List.of(new Message(1, "", "", null)), decode(s));
        }
    }

    /** A large message in small pieces costs its length: each byte is scanned once. */
    @Test
    void largeMessageInSmallPieces() {
        byte[] data = new byte[8 << 20];
        new java.util.Random(1).nextBytes(data);
        Message m = new Message(Meta.DATA, "bob", "alice:0", data);
        for (Codec codec : List.of(JSON, Format.BINARY.codec())) {
            byte[] wire = codec.encode(m);
            Decoder d = codec.decoder(codec.maxReceivedSize(wire.length));
            long start = System.nanoTime();
            Message got = null;
            for (int i = 0; i < wire.length && got == null; i += 4096) {
                d.feed(ByteBuffer.wrap(wire, i, Math.min(4096, wire.length - i)));
                got = d.next();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(m, got);
            assertTrue(seconds < 10 * TestEnv.timeoutScale(), "took " + seconds + " s");
        }
    }

    @Test
    void everySplitPoint() {
        List<Message> msgs = List.of(
                new Message(Meta.CONN_SYN, "bob", "alice:0", utf8("echo")),
                new Message(Meta.DATA, "b<o>b\"\\\n\u2028é😀", "alice:0", new byte[200]),
                new Message(Meta.DATA, "bob", "alice:0", new byte[0]),
                new Message(Meta.AUTH, "alice", "", utf8("pw"), 2),
                new Message(Meta.CONN_CLOSED, "bob", "alice:0", null));
        byte[] wire = Decoding.concat(msgs.stream().map(JSON::encode).toArray(byte[][]::new));
        wire = Decoding.concat(utf8("  \r\n"), wire, utf8("{\"META\" : 3 , \"x\":[{}]}  "));
        List<Message> expected = new ArrayList<>(msgs);
        expected.add(new Message(3, "", "", null));
        for (int i = 0; i <= wire.length; i++) {
            for (int j = i; j <= wire.length; j += 11) {
                Decoding.Outcome o = Decoding.decode(JSON, 1 << 16, wire, i, j);
                assertEquals(expected, o.messages(), "cut at " + i + ", " + j);
                assertTrue(o.accepted());
            }
        }
        int[] everyByte = new int[wire.length];
        for (int i = 0; i < wire.length; i++) {
            everyByte[i] = i;
        }
        assertEquals(expected, Decoding.decode(JSON, 1 << 16, wire, everyByte).messages());
    }

    @Test
    void afterAnErrorEveryCallThrows() {
        Decoder d = JSON.decoder(1 << 10);
        d.feed(ByteBuffer.wrap(utf8("{\"Meta\":1}\n{\"Meta\":x}\n{\"Meta\":2}\n")));
        assertEquals(new Message(1, "", "", null), d.next());
        DecodeException e = assertThrows(DecodeException.class, d::next);
        d.feed(ByteBuffer.wrap(utf8("{}\n")));
        assertSame(e, assertThrows(DecodeException.class, d::next));
        assertSame(e, assertThrows(DecodeException.class, d::next));
        assertFalse(d.hasPartial());
    }

    @Test
    void partialAtTheEnd() {
        Decoder d = JSON.decoder(1 << 10);
        d.feed(ByteBuffer.wrap(utf8("  \n ")));
        assertFalse(d.hasPartial());
        assertNull(d.next());
        d.feed(ByteBuffer.wrap(utf8("{\"Meta\"")));
        assertTrue(d.hasPartial());
        assertNull(d.next());
        assertTrue(d.hasPartial());
        d.feed(ByteBuffer.wrap(utf8(":9}")));
        assertEquals(new Message(9, "", "", null), d.next());
        assertFalse(d.hasPartial());
    }

    @Test
    void encoderChecksNames() {
        assertThrows(IllegalArgumentException.class, () -> JSON.encode(new Message(0, "a".repeat(256), "", null)));
        assertThrows(IllegalArgumentException.class, () -> JSON.encode(new Message(0, "", "é".repeat(128), null)));
        assertThrows(IllegalArgumentException.class, () -> JSON.encode(new Message(0, "\ud83d", "", null)));
        assertThrows(IllegalArgumentException.class, () -> JSON.encode(new Message(0, "", "a\ude00b", null)));
        // 255 bytes that escape to 6 each are fine: the limit is on the name, not its escaping.
        assertEquals("<".repeat(255), decode(encode(new Message(0, "<".repeat(255), "", null))).get(0).otherClient());
    }

    /** The values of the Python client's JSON.max_received_size (json_worst_case), computed there. */
    @ParameterizedTest
    @CsvSource({
        "0, 3156", "1, 3160", "2, 3160", "3, 3160", "100, 3292", "1024, 4524", "65536, 90540",
        "1048576, 1401260", "16777216, 22372780", "2147483647, 2863314688", "1099511627776, 1466015506860",
    })
    void maxReceivedSizeAsPython(long maxMessageSize, long expected) {
        assertEquals(expected, JSON.maxReceivedSize(maxMessageSize));
    }

    /** The longest line the broker can write fits what maxReceivedSize says. */
    @Test
    void worstCaseFits() {
        int max = 1000;
        Message worst = new Message(255, "<".repeat(255), "\u0001".repeat(255), new byte[max], 0);
        assertTrue(JSON.encode(worst).length <= JSON.maxReceivedSize(max));
        assertTrue(Format.BINARY.codec().encode(new Message(255, "a".repeat(255), "a".repeat(255),
                new byte[max], 255)).length <= Format.BINARY.codec().maxReceivedSize(max));
    }
}
