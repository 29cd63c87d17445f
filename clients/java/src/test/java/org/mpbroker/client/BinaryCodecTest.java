package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The binary format, byte for byte: doc/protocol.md's worked examples and its rules. */
class BinaryCodecTest {
    private static final Codec BINARY = Format.BINARY.codec();

    @Test
    void workedExampleConnSyn() {
        Message syn = new Message(Meta.CONN_SYN, "bob", "alice:0", "echo".getBytes(StandardCharsets.UTF_8));
        byte[] wire = Decoding.hex("00000012 05 01 03 07 626f62 616c6963653a30 6563686f");
        assertEquals(22, wire.length);
        assertArrayEquals(wire, BINARY.encode(syn));
        assertEquals(List.of(syn), Decoding.decodeAll(BINARY, wire));
    }

    @Test
    void workedExampleAuthWithLevel() {
        Message auth = new Message(Meta.AUTH, "alice", "", "pw".getBytes(StandardCharsets.UTF_8), 2);
        byte[] wire = Decoding.hex("0000000c 08 03 05 00 02 616c696365 7077");
        assertArrayEquals(wire, BINARY.encode(auth));
        assertEquals(List.of(auth), Decoding.decodeAll(BINARY, wire));
    }

    @Test
    void workedExampleAuthOk() {
        Message ok = new Message(Meta.AUTH_OK, "alice", "", null);
        byte[] wire = Decoding.hex("00000009 09 00 05 00 616c696365");
        assertArrayEquals(wire, BINARY.encode(ok));
        assertEquals(List.of(ok), Decoding.decodeAll(BINARY, wire));
    }

    @Test
    void absentAndEmptyDataDiffer() {
        byte[] absent = BINARY.encode(new Message(0, "a", "", null));
        byte[] empty = BINARY.encode(new Message(0, "a", "", new byte[0]));
        assertEquals(0, absent[5]);
        assertEquals(BinaryCodec.HAS_DATA, empty[5]);
        assertNull(Decoding.decodeAll(BINARY, absent).get(0).data());
        assertArrayEquals(new byte[0], Decoding.decodeAll(BINARY, empty).get(0).data());
    }

    @Test
    void levelOnlyWhenAnnounced() {
        assertEquals(0, BINARY.encode(new Message(Meta.AUTH, "a", "", null, 0))[5]);
        assertEquals(BinaryCodec.HAS_LEVEL, BINARY.encode(new Message(Meta.AUTH, "a", "", null, 1))[5]);
        // A level byte of 0 reads as no level (Message's 0).
        assertEquals(List.of(new Message(8, "a", "", null)),
                Decoding.decodeAll(BINARY, Decoding.hex("00000006 08 02 01 00 00 61")));
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "00000004 00 04 00 00    | reserved flag bits",
        "00000004 00 80 00 00    | reserved flag bits",
        "00000005 00 00 00 00 41 | data bytes in a binary frame without HAS_DATA",
        "00000005 00 00 05 00 41 | too short for its names",
        "00000006 00 01 01 02 41 42 | too short for its names",
        "00000003 00 00 00       | shorter than its header",
        "00000000                | shorter than its header",
        "00000004 00 02 00 00    | too short for its level",
        "00000005 00 00 01 00 ff | not valid UTF-8",
        "00000006 00 00 00 02 c0 80 | not valid UTF-8",
        "00000007 00 00 03 00 ed a0 80 | not valid UTF-8",
        "00000008 00 00 04 00 f4 90 80 80 | not valid UTF-8",
    })
    void rejects(String frame, String why) {
        Decoding.Outcome o = Decoding.decode(BINARY, 1 << 20, Decoding.hex(frame));
        assertTrue(o.error() != null && o.error().contains(why), o::toString);
    }

    @Test
    void sizeLimitFromThePrefixAlone() {
        Decoder d = BINARY.decoder(1024);
        d.feed(ByteBuffer.wrap(Decoding.hex("000003fd"))); // 1021 + 4 > 1024, no body yet
        DecodeException e = assertThrows(DecodeException.class, d::next);
        assertTrue(e.getMessage().contains("1025 bytes is over 1024"), e::getMessage);
        // Every later call throws again, and nothing more is kept.
        d.feed(ByteBuffer.wrap(new byte[100]));
        assertSame(e, assertThrows(DecodeException.class, d::next));
        assertFalse(d.hasPartial());
        // Exactly the limit is accepted.
        Decoder ok = BINARY.decoder(1024);
        ok.feed(ByteBuffer.wrap(Decoding.hex("000003fc")));
        assertNull(ok.next());
        assertTrue(ok.hasPartial());
        // Even a length of 2^32 - 1 is refused from its prefix.
        d = BINARY.decoder(1 << 20);
        d.feed(ByteBuffer.wrap(Decoding.hex("ffffffff")));
        assertThrows(DecodeException.class, d::next);
    }

    @Test
    void everySplitPoint() {
        List<Message> msgs = List.of(
                new Message(Meta.CONN_SYN, "bob", "alice:0", "echo".getBytes(StandardCharsets.UTF_8)),
                new Message(Meta.DATA, "bob", "alice:0", new byte[300]),
                new Message(Meta.DATA, "bób😀", "alice:0", new byte[0]),
                new Message(Meta.AUTH, "alice", "", "pw".getBytes(StandardCharsets.UTF_8), 2),
                new Message(Meta.CONN_CLOSED, "bob", "alice:0", null));
        byte[] wire = Decoding.concat(msgs.stream().map(BINARY::encode).toArray(byte[][]::new));
        for (int i = 0; i <= wire.length; i++) {
            for (int j = i; j <= wire.length; j += 7) {
                Decoding.Outcome o = Decoding.decode(BINARY, 1 << 16, wire, i, j);
                assertEquals(msgs, o.messages(), "cut at " + i + ", " + j);
                assertTrue(o.accepted());
            }
        }
        int[] everyByte = new int[wire.length];
        for (int i = 0; i < wire.length; i++) {
            everyByte[i] = i;
        }
        assertEquals(msgs, Decoding.decode(BINARY, 1 << 16, wire, everyByte).messages());
    }

    @Test
    void partialAtTheEnd() {
        byte[] wire = BINARY.encode(new Message(0, "a", "a:0", new byte[5]));
        Decoder d = BINARY.decoder(1 << 16);
        d.feed(ByteBuffer.wrap(wire, 0, wire.length - 1));
        assertNull(d.next());
        assertTrue(d.hasPartial());
        d.feed(ByteBuffer.wrap(wire, wire.length - 1, 1));
        assertEquals(new Message(0, "a", "a:0", new byte[5]), d.next());
        assertFalse(d.hasPartial());
        assertNull(d.next());
    }

    @Test
    void encoderChecksNames() {
        String long256 = "a".repeat(256);
        assertThrows(IllegalArgumentException.class, () -> BINARY.encode(new Message(0, long256, "", null)));
        assertThrows(IllegalArgumentException.class, () -> BINARY.encode(new Message(0, "", long256, null)));
        // 128 two-byte characters are 256 bytes.
        assertThrows(IllegalArgumentException.class, () -> BINARY.encode(new Message(0, "é".repeat(128), "", null)));
        BINARY.encode(new Message(0, "é".repeat(127) + "a", "a".repeat(255), null));
        assertThrows(IllegalArgumentException.class, () -> BINARY.encode(new Message(0, "a\ud800", "", null)));
        assertThrows(IllegalArgumentException.class, () -> BINARY.encode(new Message(0, "", "\udc00a", null)));
    }

    @Test
    void decoderNeedsARoomyLimit() {
        assertThrows(IllegalArgumentException.class, () -> BINARY.decoder(15));
    }

    /** The values of the Python client's BINARY.max_received_size (binary_worst_case), computed there. */
    @ParameterizedTest
    @CsvSource({
        "0, 519", "1, 520", "100, 619", "1024, 1543", "65536, 66055", "1048576, 1049095",
        "16777216, 16777735", "2147483647, 2147484166", "1099511627776, 1099511628295",
    })
    void maxReceivedSizeAsPython(long maxMessageSize, long expected) {
        assertEquals(expected, BINARY.maxReceivedSize(maxMessageSize));
    }

    @Test
    void maxReceivedSizeAsPythonComputesIt() throws Exception {
        long[] sizes = {0, 3, 1000, 1 << 20, 16L << 20};
        List<String> python = PythonOracle.run(
                "from mpclient.codec import BINARY, JSON\n"
                + "for m in " + java.util.Arrays.toString(sizes) + ":\n"
                + "    print(BINARY.max_received_size(m), JSON.max_received_size(m))\n");
        for (int i = 0; i < sizes.length; i++) {
            assertEquals(python.get(i), BINARY.maxReceivedSize(sizes[i]) + " "
                    + Format.JSON.codec().maxReceivedSize(sizes[i]));
        }
    }
}
