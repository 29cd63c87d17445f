package org.mpbroker.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The login of one session: Auth out, AuthOk or AuthFailure back, within
 * the connect timeout. An answer in another format than the client's says
 * which format the listener speaks.
 */
final class Login {
    /** The broker's AuthFailure when another session holds the name. */
    static final String NAME_TAKEN = "name already in use";
    /** How an auto listener's line starts when it does not know the client's format. */
    private static final String REFUSAL_PREFIX = "mpbroker: ";
    /** The most of the answer kept to explain a refusal. */
    private static final int HINT_BYTES = 256;

    private final Address address;
    private final Format format;
    private final Transport transport;
    private final Decoder decoder;
    private final ByteArrayOutputStream firstBytes = new ByteArrayOutputStream();

    Login(Address address, Format format, Transport transport, Decoder decoder) {
        this.address = address;
        this.format = format;
        this.transport = transport;
        this.decoder = decoder;
    }

    /**
     * Sends the Auth and waits for the answer until {@code deadlineNanos};
     * the bytes after the answer stay in the decoder.
     *
     * @return the name now owned (AuthOk's other_client)
     */
    String run(String name, byte[] secret, long deadlineNanos) {
        AtomicBoolean timedOut = new AtomicBoolean();
        ScheduledFuture<?> timer = Timers.after(java.time.Duration.ofNanos(deadlineNanos - System.nanoTime()),
                () -> {
                    timedOut.set(true);
                    transport.close();
                });
        try {
            transport.write(ByteBuffer.wrap(format.codec().encode(new Message(Meta.AUTH, name, "", secret))));
            return judge(name, readAnswer());
        } catch (IOException e) {
            if (timedOut.get()) {
                throw new ConnectTimeoutException("cannot log in at " + address
                        + ": no answer to the login within the connect timeout");
            }
            throw new ConnectFailedException("cannot log in at " + address + ": " + Dialer.describe(e), e);
        } finally {
            timer.cancel(false);
        }
    }

    private Message readAnswer() throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        while (true) {
            Message answer;
            try {
                answer = decoder.next();
            } catch (DecodeException e) {
                throw mismatchOr(new ConnectFailedException("cannot log in at " + address
                        + ": the broker's answer is not valid " + format.wireName() + ": " + e.getMessage()));
            }
            if (answer != null) {
                return answer;
            }
            buffer.clear();
            int n = transport.read(buffer);
            if (n < 0) {
                throw mismatchOr(new ConnectFailedException("cannot log in at " + address
                        + ": the broker closed the connection without answering the login"));
            }
            buffer.flip();
            keepFirst(buffer);
            String hint = wrongFormatHint(false);
            if (hint != null) {
                throw new FormatMismatchException("cannot log in at " + address + ": " + hint);
            }
            decoder.feed(buffer);
        }
    }

    private void keepFirst(ByteBuffer buffer) {
        int room = HINT_BYTES - firstBytes.size();
        if (room > 0) {
            firstBytes.write(buffer.array(), buffer.position(), Math.min(room, buffer.remaining()));
        }
    }

    /** The error to throw: a format mismatch when the bytes say so, else {@code other}. */
    private ConnectFailedException mismatchOr(ConnectFailedException other) {
        String hint = wrongFormatHint(true);
        return hint == null ? other : new FormatMismatchException("cannot log in at " + address + ": " + hint);
    }

    /**
     * Why the first bytes of the answer cannot be in the client's format,
     * and what to do; null when they may be. {@code complete}: the answer
     * will not grow (the socket closed or the decoder gave up).
     */
    private String wrongFormatHint(boolean complete) {
        byte[] first = firstBytes.toByteArray();
        if (first.length == 0) {
            return null;
        }
        String text = new String(first, StandardCharsets.UTF_8);
        if (text.startsWith("m")) {
            int newline = text.indexOf('\n');
            if (REFUSAL_PREFIX.startsWith(text) && !complete) {
                return null;
            }
            if (text.startsWith(REFUSAL_PREFIX) && (newline >= 0 || complete)) {
                String line = printable(newline >= 0 ? text.substring(0, newline) : text);
                return "the broker refused this client's wire format (" + format.wireName() + "): it said '"
                        + line + "'; use a Format the listener speaks, or another listener";
            }
            if (text.startsWith(REFUSAL_PREFIX)) {
                return null;
            }
        }
        Format answered = Format.sniff(first[0]);
        if (answered == format) {
            return null;
        }
        if (answered == Format.JSON) {
            return "the broker answered in JSON: this listener speaks JSON, not binary; use Format.JSON,"
                    + " or a binary or \"auto\" listener";
        }
        if (answered == Format.BINARY) {
            return "the broker answered in the binary format: this listener speaks binary, not JSON; use"
                    + " Format.BINARY, or a JSON or \"auto\" listener";
        }
        return "the broker's answer is not " + format.wireName() + " ('" + printable(text)
                + "'): is this an mpbroker listener?";
    }

    private static String printable(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints().limit(200).forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return out.toString();
    }

    private String judge(String name, Message answer) {
        if (answer.meta() == Meta.AUTH_OK) {
            return answer.otherClient().isEmpty() ? name : answer.otherClient();
        }
        if (answer.meta() == Meta.AUTH_FAILURE) {
            String reason = answer.data() == null ? "" : new String(answer.data(), StandardCharsets.UTF_8);
            if (reason.equals(NAME_TAKEN)) {
                throw new NameTakenException(reason, "the broker refused the login as '" + name + "' at "
                        + address + ": " + reason + " (another session holds the name, and the broker's"
                        + " duplicate_names is \"reject\")");
            }
            throw new AuthException(reason, "the broker refused the login as '" + name + "' at " + address
                    + ": " + reason + hint(reason));
        }
        throw new ConnectFailedException("cannot log in at " + address + ": the broker answered the login with "
                + answer + ", not AuthOk or AuthFailure");
    }

    private static String hint(String reason) {
        if (reason.endsWith(AuthException.RETRY_LATER)) {
            return "";
        }
        if (reason.contains("name or secret")) {
            return " (check the name and the secret the broker's authenticators accept)";
        }
        return "";
    }
}
