package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.mount.ReconnectTest.Prog;
import io.c9fs.server.FileServer;
import io.c9fs.server.ServerConfig;
import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A mount that comes back to the same running server (docs/reconnect.md, "Coming back to the same
 * server"): after its link broke, its client token ends the leases the server still kept for the
 * dead connection, so nobody waits a term for recalls to it; and a writer fenced while it could
 * not answer (paused longer than the term) writes again once it renews, without reopening.
 */
@Tag("mount")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LeaseTransferTest {
    static final int PAGE = 4096;
    static final long TERM_MS = 5000;
    static final int O_RDWR = 2;

    Path scratch;
    Path export;
    Path mnt;
    Path log;
    FileServer server;
    TcpRelay proxy;
    Process daemon;
    Prog prog;
    NinepClient other;

    @BeforeEach
    void setUp() throws Exception {
        TestEnv.requireFuse();
        TestEnv.requireGcc();
        scratch = TestEnv.freshDir("leasexfer");
        export = Files.createDirectory(scratch.resolve("export"));
        mnt = Files.createDirectory(scratch.resolve("mnt"));
        log = scratch.resolve("mount.log");
        StringBuilder b = new StringBuilder();
        for (int p = 0; p < 4; p++) {
            String head = "P" + p + ":";
            b.append(head).append(String.valueOf((char) ('a' + p)).repeat(PAGE - head.length()));
        }
        Files.writeString(export.resolve("f"), b.toString());
        server = FileServer.start(ServerConfig.of(export, NinepAddress.tcp("127.0.0.1", 0)).withLeases(true)
                .withLeaseTerm(Duration.ofMillis(TERM_MS)));
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (daemon != null && daemon.isAlive()) {
                signal("CONT");
            }
            if (prog != null) {
                prog.close();
            }
            if (other != null) {
                other.close();
            }
        } finally {
            try {
                if (MountedFs.isMounted(mnt)) {
                    TestEnv.forceUnmount(mnt);
                }
                if (daemon != null) {
                    daemon.destroyForcibly();
                    daemon.waitFor(10, TimeUnit.SECONDS);
                }
            } finally {
                if (proxy != null) {
                    proxy.close();
                }
                server.close();
                TestEnv.delete(scratch);
            }
        }
    }

    void mount(int port) throws Exception {
        daemon = MountDaemon.start("127.0.0.1:" + port, mnt, "hard,timeout=30", log);
    }

    void signal(String sig) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(daemon.pid())).inheritIO().start();
        assertTrue(k.waitFor(10, TimeUnit.SECONDS) && k.exitValue() == 0, "kill -" + sig);
    }

    /** Another client of the server (plain 9P2000.L, no leases), with "f" open for writing as fid 1. */
    NinepClient otherClient() throws Exception {
        NinepClient c = NinepClient.connect(server.address(), ClientConfig.defaults());
        c.attach(0, System.getProperty("user.name", "root"), "");
        c.call(new Message.Twalk(0, 1, List.of("f")), Message.Rwalk.class);
        c.call(new Message.Tlopen(1, O_RDWR), Message.Rlopen.class);
        return c;
    }

    /** Writes {@code text} at {@code offset} through {@link #other}; returns how long it took, in ms. */
    long otherWrites(long offset, String text, long boundMs) throws Exception {
        long t0 = System.nanoTime();
        Message.Rwrite w = other.rpc(new Message.Twrite(1, offset,
                Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.US_ASCII))), Message.Rwrite.class)
                .get(boundMs, TimeUnit.MILLISECONDS);
        assertEquals(text.length(), w.count());
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    void awaitLog(String what, long seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!Files.readString(log).contains(what)) {
            assertTrue(System.nanoTime() < deadline, "no \"" + what + "\" in the log: " + Files.readString(log));
            Thread.sleep(20);
        }
    }

    String onServer(int offset, int n) throws IOException {
        return Files.readString(export.resolve("f")).substring(offset, offset + n);
    }

    @Test
    void aMountWhoseLinkBrokeDoesNotMakeOthersWaitForItsOldLeases() throws Exception {
        proxy = new TcpRelay(server.port(), 0);
        mount(proxy.port());
        prog = new Prog(TestEnv.compile("mount-reconnect"));
        prog.ok("open " + mnt.resolve("f")); // O_RDWR and mapped: the mount holds f's write lease
        assertEquals("DATA P0:aa", prog.cmd("load 0 5"));
        prog.ok("pwrite 0 MINE");
        other = otherClient();

        proxy.cut(); // the server sees the connection end without a goodbye: vanished
        awaitLog("reconnected to", 60); // logged once the restore, token included, is done

        long ms = otherWrites(PAGE, "THEIRS", TERM_MS + 10_000);
        System.out.println("LeaseTransferTest: another client's write after the reconnect took " + ms + " ms");
        assertTrue(ms < TERM_MS / 2, "the other client's write waited " + ms + " ms (term " + TERM_MS + ")");
        assertEquals(1, server.stats().reclaimedByToken(), "the old connection was settled by the token");
        assertEquals(0, server.stats().leaseCounts().vanishedHolders(), "nothing left of the dead connection");
        assertEquals("DATA THEIRS", prog.cmd("pread " + PAGE + " 6"), "the mount sees it");
        assertEquals("DATA THEIRS", prog.cmd("load " + PAGE + " 6"), "through its mapping too");
        prog.ok("pwrite " + (2 * PAGE) + " AGAIN");
        assertEquals("AGAIN", onServer(2 * PAGE, 5));
        assertEquals("MINE", onServer(0, 4));
        prog.ok("close");
    }

    @Test
    void aFencedWriterWritesAgainOnceItRenews() throws Exception {
        mount(server.port());
        prog = new Prog(TestEnv.compile("mount-reconnect"));
        prog.ok("open " + mnt.resolve("f"));
        prog.ok("pwrite 0 BEFORE");
        other = otherClient();

        signal("STOP"); // paused longer than the term: its recall expires, the server fences it
        try {
            long ms = otherWrites(PAGE, "THEIRS", TERM_MS + 15_000);
            // Until the recall expired, or the server fenced the silent holder (a term after its
            // last Tcallback, which may be up to a third of a term before the pause).
            assertTrue(ms >= TERM_MS / 4, "the write waited for the paused writer: " + ms + " ms");
        } finally {
            signal("CONT");
        }
        // The first writes may still meet the fence (ESTALE); once the mount has renewed and
        // taken its write lease again, writes through the same descriptor work.
        List<String> answers = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String got;
        while (!(got = prog.cmd("pwrite " + (2 * PAGE) + " AFTER")).equals("OK")) {
            answers.add(got);
            assertTrue(got.equals("ERR 116"), "only the fence may refuse it: " + answers);
            assertTrue(System.nanoTime() < deadline, "writes never worked again: " + answers.size()
                    + " refused, the last with " + got);
            Thread.sleep(200);
        }
        System.out.println("LeaseTransferTest: writes refused by the fence after SIGCONT: " + answers.size());
        assertEquals("AFTER", onServer(2 * PAGE, 5));
        assertEquals("THEIRS", onServer(PAGE, 6));
        assertEquals("DATA THEIRS", prog.cmd("pread " + PAGE + " 6"));
        prog.ok("pwrite " + (3 * PAGE) + " STILL");
        assertEquals("STILL", onServer(3 * PAGE, 5));
        assertTrue(daemon.isAlive());
    }
}
