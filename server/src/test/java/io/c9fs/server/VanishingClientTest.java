package io.c9fs.server;

import static io.c9fs.server.GraceTest.await;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rattach;
import io.c9fs.transport.proto.Message.Rlock;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tattach;
import io.c9fs.transport.proto.Message.Tlock;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Twalk;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Clients that go without a goodbye, at awkward moments: their fids and locks go at once, their
 * leases at the term after their last renewal (never later: others wait at most that long), and
 * nothing is left behind. A goodbye releases everything at once.
 */
class VanishingClientTest {
    private static final long TERM_MS = 1500;
    private static final int O_RDWR = 2;

    static ServedExport serve() throws Exception {
        return ServedExport.start(c -> c.withLeaseTerm(Duration.ofMillis(TERM_MS)));
    }

    /** A 9P2000.L.c9 connection holding a fid on "f" (an implicit read lease), never acknowledging. */
    static RawConn holder(ServedExport e) throws Exception {
        RawConn h = new RawConn(e.server.port());
        assertEquals("9P2000.L.c9", h.version("9P2000.L.c9", 65536).version());
        h.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
        h.call(2, new Twalk(0, 1, List.of("f")), Rwalk.class);
        return h;
    }

    static CompletableFuture<Rwrite> write(NinepClient c, int fid, String s) {
        return c.rpc(new Twrite(fid, 0, Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.UTF_8))), Rwrite.class);
    }

    static int openRw(NinepClient c) throws Exception {
        int f = walk(c, 0, "f");
        c.call(new Tlopen(f, O_RDWR), Rlopen.class);
        return f;
    }

    @Test
    void aGoodbyeReleasesLeasesAtOnce() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            try (RawConn h = holder(e)) {
                assertEquals(2, e.server.stats().leasesHeld(), "root and f");
                h.version("9P2000.L.c9", 65536);
                await(() -> e.server.stats().leasesHeld() == 0 && e.server.stats().fids() == 0, 1000,
                        "leases and fids released by the goodbye");
                NinepClient w = e.attached("9P2000.L");
                int f = openRw(w);
                long t0 = System.nanoTime();
                write(w, f, "new").get(10, TimeUnit.SECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms < TERM_MS / 2, "nobody to recall after a goodbye: " + ms + " ms");
            }
        }
    }

    @Test
    void anAbortKeepsLeasesForTheTermAndNoLonger() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            RawConn h = holder(e);
            long renewed = System.nanoTime(); // the lease was taken at most now
            h.abort();
            await(() -> e.server.stats().fids() == 0 && e.server.stats().vanished() == 1, 2000,
                    "the vanished client's fids released");
            assertEquals(2, e.server.stats().leasesHeld(), "its leases stand: it may only be partitioned");
            assertEquals(1, e.server.stats().leaseCounts().vanishedHolders());

            NinepClient w = e.attached("9P2000.L");
            int f = openRw(w);
            Rwrite r = write(w, f, "new").get(TERM_MS + 10_000, TimeUnit.MILLISECONDS);
            long sinceRenewal = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - renewed);
            assertEquals(3, r.count());
            assertTrue(sinceRenewal >= TERM_MS - 100, "the write waited for the term: " + sinceRenewal + " ms");
            assertTrue(sinceRenewal < TERM_MS + 5000, "but not much longer: " + sinceRenewal + " ms");
            await(() -> e.server.stats().leasesHeld() == 0, 3000, "leases gone after the term");
            assertEquals(0, e.server.stats().leaseCounts().holders());
            assertEquals(0, e.server.stats().recallsOutstanding());
        }
    }

    @Test
    void vanishingMidRecallFreesTheWaiterAtTheTerm() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            RawConn h = holder(e);
            long renewed = System.nanoTime();
            NinepClient w = e.attached("9P2000.L");
            int f = openRw(w);
            CompletableFuture<Rwrite> waiting = write(w, f, "new");
            await(() -> e.server.stats().recallsOutstanding() >= 1, 2000, "the recall sent");
            Thread.sleep(200);
            assertTrue(!waiting.isDone(), "the write waits for the holder's acknowledgement");
            h.abort(); // mid-recall
            waiting.get(TERM_MS + 10_000, TimeUnit.MILLISECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - renewed);
            assertTrue(ms < TERM_MS + 5000, "answered within the holder's term: " + ms + " ms");
            await(() -> e.server.stats().leasesHeld() == 0 && e.server.stats().recallsOutstanding() == 0,
                    3000, "nothing left of the holder");
            assertEquals("new", Files.readString(e.dir.resolve("f")));
        }
    }

    @Test
    void vanishingMidRequestLeavesNothingBehind() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            NinepClient holder = e.attached("9P2000.L.c9"); // recalled, never acknowledges
            walk(holder, 0, "f");
            try (RawConn w = new RawConn(e.server.port())) {
                w.version("9P2000.L", 65536);
                w.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
                w.call(2, new Twalk(0, 1, List.of("f")), Rwalk.class);
                w.call(3, new Tlopen(1, O_RDWR), Rlopen.class);
                w.send(4, new Twrite(1, 0, Unpooled.wrappedBuffer("mid".getBytes(StandardCharsets.UTF_8))));
                await(() -> e.server.stats().recallsOutstanding() >= 1, 2000, "the write waiting for a recall");
                assertEquals(1, e.server.stats().inFlight());
                w.abort(); // mid-request
            }
            await(() -> e.server.stats().inFlight() == 0, TERM_MS + 5000, "the parked request finished");
            await(() -> e.server.stats().connections() == 1, 2000, "the writer's connection gone");
            // The writer's fids are clunked once its last running request is done.
            await(() -> e.server.stats().fids() == 2, 5000, "only the holder's fids left");
            assertEquals("mid", Files.readString(e.dir.resolve("f")), "the write was applied before it waited");
            // Expired, or released when the silent holder was fenced: either way nobody waits.
            assertEquals(0, e.server.stats().recallsOutstanding());
        }
    }

    @Test
    void vanishingMidLockReleasesTheLockAtOnce() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            RawConn l = new RawConn(e.server.port());
            l.version("9P2000.L", 65536);
            l.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
            l.call(2, new Twalk(0, 1, List.of("f")), Rwalk.class);
            l.call(3, new Tlopen(1, O_RDWR), Rlopen.class);
            assertEquals(Rlock.SUCCESS, l.call(4, new Tlock(1, Tlock.WRLCK, 0, 0, 0, 9, "host-l"),
                    Rlock.class).status());
            NinepClient m = e.attached("9P2000.L");
            int fm = openRw(m);
            Tlock mine = new Tlock(fm, Tlock.WRLCK, Tlock.FLAGS_BLOCK, 0, 0, 1, "host-m");
            assertEquals(Rlock.BLOCKED, m.call(mine, Rlock.class).status());
            long t0 = System.nanoTime();
            l.abort();
            int status;
            do {
                Thread.sleep(20);
                status = m.call(mine, Rlock.class).status();
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the lock never came free");
            } while (status == Rlock.BLOCKED);
            assertEquals(Rlock.SUCCESS, status);
            assertEquals(1, e.server.stats().locksOfVanished(), "the vanished lock is on record");
        }
    }
}
