package org.mpbroker.client;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads one complete JSON object, as {@link JsonScanner} found it, into a
 * {@link Message}, with the rules of doc/protocol.md ("What the broker
 * reads") and of the Python client's codec: keys are case-insensitive
 * and compared after unescaping; unknown keys are ignored whatever their
 * value, but checked (grammar, UTF-8) without being built; missing keys
 * are zero values; {@code null} makes Data absent and leaves the other
 * fields alone; the last of duplicate keys wins, each being checked.
 *
 * <p>The parse is iterative (a stack of one flag a level, which the
 * scanner bounds to {@link JsonScanner#MAX_DEPTH}), and builds only the
 * fields of the message, so an object costs its own length in time and
 * at most that in memory, whatever its shape.
 */
final class JsonParser {
    /** The fields, lower case, by their index below. */
    private static final String[] FIELDS = {"meta", "otherclient", "connectionid", "data", "level"};
    private static final String[] FIELD_NAMES = {"Meta", "OtherClient", "ConnectionID", "Data", "Level"};
    private static final int NONE = -1;
    private static final int META = 0;
    private static final int OTHER_CLIENT = 1;
    private static final int CONNECTION_ID = 2;
    private static final int DATA = 3;
    private static final int LEVEL = 4;
    /** Longer than every field name: a key this long is none of them. */
    private static final int KEY_CAP = 16;
    /** Longer than any valid name in UTF-16 units: a longer name is too long. */
    private static final int NAME_CAP = Utf8.NAME_MAX + 1;
    /**
     * The Python client refuses integers of more than this many digits
     * anywhere (its int() does, sys.int_info.default_max_str_digits); the
     * same bound here keeps the two clients in agreement, and no message
     * needs one.
     */
    private static final int MAX_INT_DIGITS = 4300;

    private enum State { VALUE, FIRST_KEY, KEY, FIRST_ELEMENT, AFTER_VALUE }

    private byte[] b;
    private int pos;
    private int end;
    private int start;
    private boolean[] isObject = new boolean[16]; // by depth: object, or array
    private int depth;
    private int field; // the field whose value comes next, at depth 1
    private final StringBuilder text = new StringBuilder();

    private int meta;
    private String otherClient;
    private String connectionId;
    private byte[] data;
    private int level;

    /**
     * The message in {@code bytes[from..to)}: an object whose brackets
     * balance, starting with its {@code {} and ending with its last
     * closer, strings and escapes already checked by the scanner.
     */
    Message parse(byte[] bytes, int from, int to) {
        b = bytes;
        pos = from;
        start = from;
        end = to;
        depth = 0;
        field = NONE;
        meta = 0;
        otherClient = "";
        connectionId = "";
        data = null;
        level = 0;
        try {
            run();
        } finally {
            b = null;
            if (text.capacity() > 4096) {
                text.setLength(0);
                text.trimToSize();
            }
        }
        return new Message(meta, otherClient, connectionId, data, level);
    }

    private void run() {
        State state = State.VALUE;
        while (true) {
            skipSpace();
            switch (state) {
                case VALUE -> state = value();
                case FIRST_KEY, KEY -> {
                    if (state == State.FIRST_KEY && peek() == '}') {
                        pos++;
                        depth--;
                        state = State.AFTER_VALUE;
                    } else {
                        key();
                        state = State.VALUE;
                    }
                }
                case FIRST_ELEMENT -> {
                    if (peek() == ']') {
                        pos++;
                        depth--;
                        state = State.AFTER_VALUE;
                    } else {
                        state = State.VALUE;
                    }
                }
                default -> {
                    if (depth == 0) {
                        if (pos != end) {
                            throw malformed("bytes after the object");
                        }
                        return;
                    }
                    state = afterValue();
                }
            }
        }
    }

    /** A value begins at pos: a container is entered, a scalar read. */
    private State value() {
        int f = depth == 1 ? field : NONE;
        int c = peek();
        if (c == '{' || c == '[') {
            if (f != NONE) {
                throw typeError(f);
            }
            push(c == '{');
            pos++;
            return c == '{' ? State.FIRST_KEY : State.FIRST_ELEMENT;
        }
        if (c == '"') {
            string(f);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number(f);
        } else if (c == 't' || c == 'f') {
            literal(c == 't' ? "true" : "false");
            if (f != NONE) {
                throw typeError(f);
            }
        } else if (c == 'n') {
            literal("null");
            if (f == DATA) {
                data = null; // as Go: null sets a nil slice, leaves the rest alone
            }
        } else {
            throw malformed("expecting a value");
        }
        return State.AFTER_VALUE;
    }

    private State afterValue() {
        int c = peek();
        boolean inObject = isObject[depth];
        if (c == ',') {
            pos++;
            return inObject ? State.KEY : State.VALUE;
        }
        if (c == (inObject ? '}' : ']')) {
            pos++;
            depth--;
            return State.AFTER_VALUE;
        }
        throw malformed(inObject ? "expecting ',' or '}'" : "expecting ',' or ']'");
    }

    private void push(boolean object) {
        depth++;
        if (depth == isObject.length) {
            isObject = Arrays.copyOf(isObject, Math.min(2 * depth, JsonScanner.MAX_DEPTH + 2));
        }
        isObject[depth] = object;
    }

    /** A key and its colon; at depth 1, which field it names. */
    private void key() {
        if (peek() != '"') {
            throw malformed("expecting a key");
        }
        if (depth == 1) {
            readString(KEY_CAP);
            field = fieldOf(text);
        } else {
            readString(-1);
        }
        skipSpace();
        if (peek() != ':') {
            throw malformed("expecting ':'");
        }
        pos++;
    }

    /**
     * The field a key names, compared in ASCII without case. Python
     * lower-cases in Unicode and Go folds it, but the only non-ASCII
     * letters that fold to ASCII are K (Kelvin) and long s, and no field
     * name has a k or an s.
     */
    private static int fieldOf(CharSequence key) {
        for (int f = 0; f < FIELDS.length; f++) {
            String name = FIELDS[f];
            if (key.length() == name.length()) {
                int i = 0;
                while (i < name.length() && lowerAscii(key.charAt(i)) == name.charAt(i)) {
                    i++;
                }
                if (i == name.length()) {
                    return f;
                }
            }
        }
        return NONE;
    }

    private static char lowerAscii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
    }

    private void string(int f) {
        switch (f) {
            case OTHER_CLIENT, CONNECTION_ID -> {
                readString(NAME_CAP);
                if (text.length() > Utf8.NAME_MAX || Utf8.length(text) > Utf8.NAME_MAX) {
                    throw new DecodeException(FIELD_NAMES[f] + " is longer than "
                            + Utf8.NAME_MAX + " bytes");
                }
                if (f == OTHER_CLIENT) {
                    otherClient = text.toString();
                } else {
                    connectionId = text.toString();
                }
            }
            case DATA -> {
                readString(Integer.MAX_VALUE);
                data = StrictBase64.decode(text);
            }
            case META, LEVEL -> throw typeError(f);
            default -> readString(-1);
        }
    }

    /**
     * Reads the string at pos, checking its UTF-8; when {@code cap} is not
     * negative, its first {@code cap} characters (UTF-16 units) and one
     * more, if there are more, go to {@link #text}. The scanner has
     * checked the escapes, the surrogate pairs and the control characters.
     */
    private void readString(int cap) {
        text.setLength(0);
        pos++; // the opening quote
        while (true) {
            int run = pos;
            while (pos < end && (b[pos] & 0xff) >= 0x20 && b[pos] != '"' && b[pos] != '\\') {
                pos++;
            }
            if (Utf8.invalidAt(b, run, pos) >= 0) {
                throw new DecodeException("a JSON string is not valid UTF-8");
            }
            if (cap >= 0 && pos > run && text.length() <= cap) {
                // A character takes at most 4 bytes, so n bytes give the
                // characters wanted; a sequence cut at the end only adds a
                // replacement character past the cap.
                long wanted = (long) cap + 1 - text.length();
                int n = (int) Math.min(pos - run, 4 * wanted);
                text.append(new String(b, run, n, StandardCharsets.UTF_8));
            }
            if (pos >= end) {
                throw malformed("an unterminated string");
            }
            int c = b[pos++] & 0xff;
            if (c == '"') {
                return;
            }
            if (c != '\\') {
                throw malformed("a control character in a string");
            }
            char unescaped = escape();
            if (cap >= 0 && text.length() <= cap) {
                text.append(unescaped);
            }
        }
    }

    /** The character of the escape after a backslash (checked by the scanner). */
    private char escape() {
        int c = b[pos++] & 0xff;
        switch (c) {
            case 'b':
                return '\b';
            case 'f':
                return '\f';
            case 'n':
                return '\n';
            case 'r':
                return '\r';
            case 't':
                return '\t';
            case 'u':
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int d = pos < end ? JsonScanner.hexDigit(b[pos++] & 0xff) : -1;
                    if (d < 0) {
                        throw malformed("a bad \\u escape");
                    }
                    v = v << 4 | d;
                }
                return (char) v;
            case '"', '\\', '/':
                return (char) c;
            default:
                throw malformed("an invalid escape");
        }
    }

    /** A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    private void number(int f) {
        int first = pos;
        boolean negative = peek() == '-';
        if (negative) {
            pos++;
        }
        int digits = pos;
        if (peek() == '0') {
            pos++;
        } else if (peek() >= '1' && peek() <= '9') {
            skipDigits();
        } else {
            throw malformed("a number without digits");
        }
        int intDigits = pos - digits;
        boolean integer = true;
        if (peek() == '.') {
            pos++;
            requireDigits();
            integer = false;
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            requireDigits();
            integer = false;
        }
        if (integer && intDigits > MAX_INT_DIGITS) {
            throw malformed("an integer of more than " + MAX_INT_DIGITS + " digits");
        }
        if (f == META || f == LEVEL) {
            // digits only, as Go's strconv.ParseUint reads a uint8
            if (negative || !integer || intDigits > 3) {
                throw typeError(f);
            }
            int v = Integer.parseInt(new String(b, first, pos - first, StandardCharsets.US_ASCII));
            if (v > 255) {
                throw typeError(f);
            }
            if (f == META) {
                meta = v;
            } else {
                level = v;
            }
        } else if (f != NONE) {
            throw typeError(f);
        }
    }

    private void requireDigits() {
        if (peek() < '0' || peek() > '9') {
            throw malformed("a number with a bad fraction or exponent");
        }
        skipDigits();
    }

    private void skipDigits() {
        while (peek() >= '0' && peek() <= '9') {
            pos++;
        }
    }

    private void literal(String word) {
        for (int i = 0; i < word.length(); i++) {
            if (peek() != word.charAt(i)) {
                throw malformed("expecting '" + word + "'");
            }
            pos++;
        }
    }

    private void skipSpace() {
        while (pos < end && JsonScanner.isSpace(b[pos] & 0xff)) {
            pos++;
        }
    }

    /** The byte at pos, or -1 at the end of the object. */
    private int peek() {
        return pos < end ? b[pos] & 0xff : -1;
    }

    private static DecodeException typeError(int f) {
        return new DecodeException(switch (f) {
            case META, LEVEL -> FIELD_NAMES[f] + " must be an integer 0-255";
            case DATA -> "Data is neither null nor a string";
            default -> FIELD_NAMES[f] + " is not a string";
        });
    }

    private DecodeException malformed(String what) {
        return new DecodeException("malformed JSON: " + what + " at byte " + (pos - start)
                + " of the message");
    }
}
