package org.mpbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The test harness itself: a real broker starts, is reached, and stops cleanly. */
class TestBrokerTest {
    @RegisterExtension
    final Brokers brokers = new Brokers();

    @Test
    void startsConnectsAndStops() throws IOException {
        Path dir;
        try (TestBroker broker = TestBroker.startDefault()) {
            dir = broker.dir();
            assertTrue(broker.isRunning());
            String tcp = broker.address("binary", "tcp");
            assertTrue(tcp.startsWith("tcp:127.0.0.1:"), tcp);
            assertTrue(broker.address("json").startsWith("tcp:127.0.0.1:"));
            String unix = broker.address("auto", "unix");
            assertEquals("unix:" + dir.resolve("mp.sock"), unix);
            assertTrue(unix.length() < 108, unix);

            int port = Integer.parseInt(tcp.substring(tcp.lastIndexOf(':') + 1));
            int mark = broker.logMark();
            try (SocketChannel s = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                assertTrue(s.isConnected());
            }
            try (SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                assertTrue(s.connect(UnixDomainSocketAddress.of(unix.substring("unix:".length()))));
            }
            assertTrue(broker.logMark() >= mark);
            broker.stop();
            assertEquals(0, broker.exitStatus());
            assertFalse(broker.isRunning());
        }
        assertFalse(Files.exists(dir), "the broker's directory is removed");
    }

    @Test
    void extensionStopsWhatItStarted() {
        TestBroker broker = brokers.start();
        assertTrue(broker.waitLog("notice: ready", TestEnv.t(1)));
        assertFalse(broker.waitLog("no such line", TestEnv.t(0.1)));
        assertFalse(broker.listeners().isEmpty());
    }

    @Test
    void childProcessLines() {
        try (ChildProcess sh = ChildProcess.start(
                List.of("sh", "-c", "echo one; echo two >&2; read x; echo got $x"),
                Map.of(), true)) {
            assertEquals(List.of("one"), sh.waitOut("one", TestEnv.t(5)));
            sh.waitErr("two", TestEnv.t(5));
            sh.write("three\n");
            sh.waitOut("got three", TestEnv.t(5));
            assertEquals(0, sh.waitExit(TestEnv.t(5)));
        }
    }
}
