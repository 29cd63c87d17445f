package org.mpbroker.client;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;

/**
 * Inputs for CodecFuzzTest, all from one {@link Random}: messages with
 * awkward names and data, JSON texts that read as a given message
 * (other key cases and orders, escapes, unknown keys, duplicates,
 * whitespace), and mutations of valid encodings.
 */
final class FuzzInputs {
    /** Characters names are made of: the ones escaping and UTF-8 care about. */
    private static final String[] NAME_CHARS = {
        "a", "b", "Z", "0", "9", ":", "-", "_", " ", "/", "<", ">", "&", "\"", "\\", "\n", "\r", "\t",
        "\u0000", "\u0001", "\u001f", "\u007f", "é", "€", "\u2028", "\u2029", "😀", "中", "\ufffd", "\uffff",
    };
    /** Bytes a mutation inserts: JSON's punctuation, and bytes that are not UTF-8. */
    private static final byte[] INTERESTING = "{}[]\":,\\0123456789-+.eEtrufalsn= \t\r\nAZaz/<u".getBytes(
            StandardCharsets.US_ASCII);
    private static final String[] TOKENS = {
        "null", "true", "-0", "256", "1.5", "1e2", "\"\"", "\"=\"", "[]", "{}", "\\u", "\\ud83d", "\\udc00",
        "\\u0041", "\"Meta\":", "\"Data\":", "\"Level\":", "\"OtherClient\":", "==", "\r\n", "\u00e9",
    };
    private static final String[] KEYS = {"Meta", "OtherClient", "ConnectionID", "Data", "Level"};

    private final Random r;

    FuzzInputs(Random random) {
        this.r = random;
    }

    Message message() {
        int meta = r.nextInt(4) == 0 ? r.nextInt(256) : r.nextInt(19);
        byte[] data = switch (r.nextInt(8)) {
            case 0, 1 -> null;
            case 2 -> new byte[0];
            default -> bytes(r.nextInt(6) == 0 ? r.nextInt(3000) : r.nextInt(40));
        };
        int level = r.nextInt(5) == 0 ? 1 + r.nextInt(255) : 0;
        return new Message(meta, name(), name(), data, level);
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** A name of at most 255 bytes of UTF-8, often short, sometimes at the limit. */
    String name() {
        int target = switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> 255;
            default -> r.nextInt(20);
        };
        StringBuilder s = new StringBuilder();
        int bytes = 0;
        while (true) {
            String c = r.nextInt(3) == 0 ? NAME_CHARS[r.nextInt(NAME_CHARS.length)]
                    : String.valueOf((char) ('a' + r.nextInt(26)));
            bytes += Utf8.length(c);
            if (bytes > target) {
                return s.toString();
            }
            s.append(c);
        }
    }

    /** Several messages, each encoded by {@code codec} or (JSON) written another valid way. */
    List<Message> messages() {
        int n = 1 + r.nextInt(4);
        List<Message> msgs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            msgs.add(message());
        }
        return msgs;
    }

    /**
     * A JSON object, with no newline in it, that reads as {@code m}: keys
     * in any case and order, strings escaped any valid way, base64 with
     * escaped line breaks, unknown keys with any values, duplicates
     * whose last value is the one, null for the string fields.
     */
    String jsonVariant(Message m) {
        List<Member> members = new ArrayList<>();
        if (m.meta() != 0 || r.nextBoolean()) {
            members.add(new Member("Meta", String.valueOf(m.meta())));
        }
        if (!m.otherClient().isEmpty() || r.nextBoolean()) {
            members.add(new Member("OtherClient", jsonString(m.otherClient())));
        }
        if (!m.connectionId().isEmpty() || r.nextBoolean()) {
            members.add(new Member("ConnectionID", jsonString(m.connectionId())));
        }
        if (m.data() != null) {
            members.add(new Member("Data", jsonString(base64WithBreaks(m.data()))));
        } else if (r.nextBoolean()) {
            members.add(new Member("Data", "null"));
        }
        if (m.level() != 0) {
            members.add(new Member("Level", String.valueOf(m.level())));
        } else if (r.nextInt(4) == 0) {
            members.add(new Member("Level", r.nextBoolean() ? "0" : "null"));
        }
        java.util.Collections.shuffle(members, r);
        // Earlier values of keys present, which the last ones replace;
        // null after them for all but Data (null leaves them alone).
        int extra = r.nextInt(3);
        for (int i = 0; i < extra; i++) {
            String k = KEYS[r.nextInt(KEYS.length)];
            int at = indexOf(members, k);
            if (at < 0 || members.get(at).value().equals("null")) {
                continue;
            }
            String earlier = switch (k) {
                case "Meta", "Level" -> String.valueOf(r.nextInt(256));
                case "Data" -> r.nextBoolean() ? "null" : jsonString(Base64.getEncoder().encodeToString(bytes(3)));
                default -> jsonString(name());
            };
            members.add(r.nextInt(at + 1), new Member(k, earlier));
            if (!k.equals("Data") && r.nextBoolean()) {
                members.add(new Member(k, "null"));
            }
        }
        int unknown = r.nextInt(3);
        for (int i = 0; i < unknown; i++) {
            members.add(r.nextInt(members.size() + 1), new Member(unknownKey(), anyValue(3)));
        }
        StringBuilder out = new StringBuilder("{").append(space());
        for (int i = 0; i < members.size(); i++) {
            if (i > 0) {
                out.append(space()).append(',').append(space());
            }
            out.append(key(members.get(i).key())).append(members.get(i).value());
        }
        return out.append(space()).append('}').toString();
    }

    /** A key and its value's JSON text. */
    private record Member(String key, String value) {
    }

    private static int indexOf(List<Member> members, String key) {
        for (int i = 0; i < members.size(); i++) {
            if (members.get(i).key().equals(key)) {
                return i;
            }
        }
        return -1;
    }

    private String unknownKey() {
        String[] keys = {"x", "Meta2", "Dat", "other_client", "Levels", "é", "<>", ""};
        return keys[r.nextInt(keys.length)];
    }

    private String key(String name) {
        StringBuilder k = new StringBuilder();
        for (char c : name.toCharArray()) {
            k.append(r.nextInt(4) == 0 ? (Character.isUpperCase(c) ? Character.toLowerCase(c)
                    : Character.toUpperCase(c)) : c);
        }
        return jsonString(k.toString()) + space() + ":" + space();
    }

    private String space() {
        if (r.nextInt(3) != 0) {
            return "";
        }
        String[] ws = {" ", "\t", "\r", "  "};
        return ws[r.nextInt(ws.length)];
    }

    private String base64WithBreaks(byte[] data) {
        String b64 = Base64.getEncoder().encodeToString(data);
        if (r.nextInt(4) != 0) {
            return b64;
        }
        StringBuilder s = new StringBuilder(b64);
        int breaks = 1 + r.nextInt(3);
        for (int i = 0; i < breaks; i++) {
            s.insert(r.nextInt(s.length() + 1), r.nextBoolean() ? "\r\n" : "\n");
        }
        return s.toString();
    }

    /** {@code s} as a JSON string, each character written any valid way. */
    String jsonString(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) { // a pair: both escaped, or neither
                out.append(r.nextInt(6) == 0 ? String.format("\\u%04x\\u%04X", (int) c, (int) s.charAt(i + 1))
                        : s.substring(i, i + 2));
                i++;
                continue;
            }
            int how = r.nextInt(6);
            if (c == '"' || c == '\\' || c < 0x20 || how == 0) {
                String shortForm = switch (c) {
                    case '"' -> "\\\"";
                    case '\\' -> "\\\\";
                    case '\n' -> "\\n";
                    case '\r' -> "\\r";
                    case '\t' -> "\\t";
                    case '\b' -> "\\b";
                    case '\f' -> "\\f";
                    case '/' -> "\\/";
                    default -> null;
                };
                if (shortForm != null && r.nextBoolean()) {
                    out.append(shortForm);
                } else {
                    out.append(String.format(r.nextBoolean() ? "\\u%04x" : "\\u%04X", (int) c));
                }
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    /** Any JSON value, nested at most {@code depth} more levels. */
    private String anyValue(int depth) {
        switch (r.nextInt(depth > 0 ? 9 : 6)) {
            case 0:
                return "null";
            case 1:
                return r.nextBoolean() ? "true" : "false";
            case 2: {
                String[] numbers = {"0", "-0", "1", "-12", "3.25", "1e5", "-2.5E-3", "1E+2", "12345678901234567890"};
                return numbers[r.nextInt(numbers.length)];
            }
            case 3, 4, 5:
                return jsonString(name());
            case 6, 7: {
                StringBuilder a = new StringBuilder("[").append(space());
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    a.append(i > 0 ? "," + space() : "").append(anyValue(depth - 1)).append(space());
                }
                return a.append(']').toString();
            }
            default: {
                StringBuilder o = new StringBuilder("{").append(space());
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    String k = r.nextInt(3) == 0 ? KEYS[r.nextInt(KEYS.length)] : unknownKey();
                    o.append(i > 0 ? "," + space() : "").append(jsonString(k)).append(':')
                            .append(anyValue(depth - 1));
                }
                return o.append(space()).append('}').toString();
            }
        }
    }

    /** One to four random changes to {@code in}. */
    byte[] mutate(byte[] in) {
        byte[] b = in;
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
            b = mutateOnce(b);
        }
        return b;
    }

    private byte[] mutateOnce(byte[] b) {
        int len = b.length;
        int at = r.nextInt(len + 1);
        switch (r.nextInt(9)) {
            case 0: // flip a bit
                if (len > 0) {
                    b = b.clone();
                    int i = r.nextInt(len);
                    b[i] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            case 1: // set a byte to any value
                if (len > 0) {
                    b = b.clone();
                    b[r.nextInt(len)] = (byte) r.nextInt(256);
                }
                return b;
            case 2: // set a byte to an interesting one
                if (len > 0) {
                    b = b.clone();
                    b[r.nextInt(len)] = INTERESTING[r.nextInt(INTERESTING.length)];
                }
                return b;
            case 3: // insert a byte
                return splice(b, at, at, new byte[] {r.nextInt(3) == 0 ? (byte) (0x80 + r.nextInt(128))
                        : INTERESTING[r.nextInt(INTERESTING.length)]});
            case 4: // insert a token
                return splice(b, at, at, TOKENS[r.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
            case 5: { // delete a range
                int end = Math.min(len, at + 1 + r.nextInt(8));
                return splice(b, at, end, new byte[0]);
            }
            case 6: { // duplicate a range
                int from = r.nextInt(len + 1);
                int end = Math.min(len, from + 1 + r.nextInt(16));
                return splice(b, at, at, java.util.Arrays.copyOfRange(b, from, end));
            }
            case 7: // truncate
                return java.util.Arrays.copyOf(b, at);
            default: // a binary length or count off by a little
                if (len >= 4) {
                    b = b.clone();
                    int i = r.nextInt(Math.min(len, 8));
                    b[i] += (byte) (r.nextInt(5) - 2);
                }
                return b;
        }
    }

    private static byte[] splice(byte[] b, int from, int to, byte[] insert) {
        byte[] out = new byte[b.length - (to - from) + insert.length];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(insert, 0, out, from, insert.length);
        System.arraycopy(b, to, out, from + insert.length, b.length - to);
        return out;
    }
}
