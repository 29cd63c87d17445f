package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpbroker.client.HostileBroker.t;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A broker that answers the login badly, or not at all: each a clear,
 * typed exception from connect(), in time (the Python client's
 * Client._login and _wrong_format_hint).
 */
class HostileLoginTest {
    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Connects a client of {@code fmt} to {@code fake}, whose session reads
     * the Auth and then sends {@code answer(session)}, and returns what
     * connect() threw (failing if it did not throw).
     */
    private static MpException connectAnswered(HostileBroker fake, Format fmt, Duration connectTimeout,
            Function<FakeSession, byte[]> answer) throws Exception {
        CompletableFuture<FakeSession> accepting = fake.acceptAsync(t(10)).thenApply(s -> {
            try {
                s.readAuth(t(10));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            byte[] bytes = answer.apply(s);
            if (bytes != null) {
                s.send(bytes).join();
            }
            return s;
        });
        MpClient.Builder b = MpClient.builder(fake.address(), "victim", "secret")
                .format(fmt).connectTimeout(connectTimeout);
        MpException e = assertThrows(MpException.class, b::connect);
        HostileBroker.get(accepting, t(10));
        return e;
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void authFailureGivesItsReason(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            MpException e = connectAnswered(fake, fmt, t(10),
                    s -> s.frame(Meta.AUTH_FAILURE, s.name(), "", utf8("bad secret")));
            AuthException auth = assertInstanceOf(AuthException.class, e);
            assertFalse(auth instanceof NameTakenException, auth.toString());
            assertEquals("bad secret", auth.reason());
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void nameInUseIsNameTaken(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            MpException e = connectAnswered(fake, fmt, t(10),
                    s -> s.frame(Meta.AUTH_FAILURE, s.name(), "", utf8("name already in use")));
            NameTakenException taken = assertInstanceOf(NameTakenException.class, e);
            assertEquals("name already in use", taken.reason());
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void watForALoginFailsTheConnect(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            MpException e = connectAnswered(fake, fmt, t(10),
                    s -> s.frame(Meta.WAT, "", "", utf8("what?")));
            assertConnectFailedNow(e);
            assertTrue(e.getMessage().contains("meta 1") || e.getMessage().contains("WAT"),
                    e.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void closingWithoutAnAnswerFailsTheConnect(Format fmt) throws Exception {
        try (HostileBroker fake = new HostileBroker(fmt)) {
            MpException e = connectAnswered(fake, fmt, t(10), s -> {
                s.close();
                return null;
            });
            assertConnectFailedNow(e);
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void noAnswerIsAConnectTimeoutWithinTheConnectTimeout(Format fmt) throws Exception {
        Duration timeout = Duration.ofMillis(500);
        try (HostileBroker fake = new HostileBroker(fmt)) {
            long start = System.nanoTime();
            MpException e = connectAnswered(fake, fmt, timeout, s -> null);
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertInstanceOf(ConnectTimeoutException.class, e);
            assertTrue(took.compareTo(timeout) >= 0, "gave up after " + took);
            assertTrue(took.compareTo(timeout.plus(t(5))) < 0, "gave up after " + took);
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void aListenerOfTheOtherFormatIsNamed(Format fmt) throws Exception {
        Format other = fmt == Format.BINARY ? Format.JSON : Format.BINARY;
        try (HostileBroker fake = new HostileBroker(fmt)) {
            // The other format's listener would answer a login: here an
            // AuthOk, which leaves the socket open (no end of stream to
            // stop a client that waits for more).
            MpException e = connectAnswered(fake, fmt, t(30),
                    s -> FakeWire.encode(other, Meta.AUTH_OK, s.name(), "", null));
            assertConnectFailedNow(e);
            String text = e.getMessage();
            assertTrue(text.contains("this listener speaks " + other.wireName().replace("json", "JSON")),
                    text);
            assertTrue(text.contains("use Format." + other.name()), text); // which format to use
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void aRefusedFormatQuotesTheBroker(Format fmt) throws Exception {
        String line = "mpbroker: unknown wire format; this listener speaks: protobuf\n";
        try (HostileBroker fake = new HostileBroker(fmt)) {
            MpException e = connectAnswered(fake, fmt, t(30), s -> utf8(line));
            assertConnectFailedNow(e);
            assertTrue(e.getMessage().contains("this listener speaks: protobuf"), e.getMessage());
        }
    }

    /** A ConnectFailedException, and not the timeout's (the tests give 10 s
     *  or more: a client that waited for it has not seen the problem). */
    private static void assertConnectFailedNow(MpException e) {
        assertInstanceOf(ConnectFailedException.class, e);
        assertFalse(e instanceof ConnectTimeoutException, e.toString());
    }

    private static <T> T assertInstanceOf(Class<T> type, Object actual) {
        return org.junit.jupiter.api.Assertions.assertInstanceOf(type, actual,
                () -> "got " + actual);
    }
}
