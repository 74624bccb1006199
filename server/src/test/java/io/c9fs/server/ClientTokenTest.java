package io.c9fs.server;

import static io.c9fs.server.GraceTest.await;
import static io.c9fs.server.VanishingClientTest.openRw;
import static io.c9fs.server.VanishingClientTest.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rattach;
import io.c9fs.transport.proto.Message.Rclient;
import io.c9fs.transport.proto.Message.Rlerror;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tattach;
import io.c9fs.transport.proto.Message.Tclient;
import io.c9fs.transport.proto.Message.Twalk;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Tclient (docs/protocol.md, "Client identity"): a connection presenting the token of a vanished
 * connection ends that connection's leases at once; a live connection's token settles nothing; no
 * token (or another one) leaves the vanished leases standing for their term, as before.
 */
class ClientTokenTest {
    /** Long enough that "at once" and "at the term" cannot be confused on a loaded machine. */
    private static final long TERM_MS = 5000;
    private static final Tclient TOKEN = new Tclient(0x0123456789abcdefL, 0x7edcba9876543210L);

    static ServedExport serve() throws Exception {
        return ServedExport.start(c -> c.withLeaseTerm(Duration.ofMillis(TERM_MS)));
    }

    /** A 9P2000.L.c9 connection with a fid on "f" (an implicit read lease), never acknowledging recalls. */
    static RawConn holder(ServedExport e, Tclient token) throws Exception {
        RawConn h = new RawConn(e.server.port());
        assertEquals("9P2000.L.c9", h.version("9P2000.L.c9", 65536).version());
        h.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
        if (token != null) {
            assertEquals(0, h.call(3, token, Rclient.class).settled(), "nothing of this token vanished yet");
        }
        h.call(2, new Twalk(0, 1, List.of("f")), Rwalk.class);
        return h;
    }

    /** A new connection of the same mount: attach, then the token. */
    static int comeBack(RawConn h, Tclient token) throws Exception {
        assertEquals("9P2000.L.c9", h.version("9P2000.L.c9", 65536).version());
        h.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
        return h.call(3, token, Rclient.class).settled();
    }

    @Test
    void theTokenOfAVanishedHolderEndsItsLeasesAtOnce() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            RawConn h = holder(e, TOKEN);
            h.abort();
            await(() -> e.server.stats().vanished() == 1 && e.server.stats().fids() == 0, 3000, "vanished");
            assertEquals(2, e.server.stats().leasesHeld(), "its leases stand until the term");
            try (RawConn back = new RawConn(e.server.port())) {
                long t0 = System.nanoTime();
                assertEquals(1, comeBack(back, TOKEN));
                assertEquals(0, e.server.stats().leaseCounts().vanishedHolders());
                assertEquals(1, e.server.stats().leasesHeld(), "only the new connection's root");
                NinepClient w = e.attached("9P2000.L");
                int f = openRw(w);
                Rwrite r = write(w, f, "new").get(TERM_MS + 10_000, TimeUnit.MILLISECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertEquals(3, r.count());
                assertTrue(ms < TERM_MS / 2, "no recall to the dead connection: " + ms + " ms");
                assertEquals(1, e.server.stats().reclaimedByToken());
                assertEquals(0, e.server.stats().recallsOutstanding());
            }
        }
    }

    @Test
    void aWaitingWriteGoesAheadWhenTheHolderComesBack() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            RawConn h = holder(e, TOKEN);
            NinepClient w = e.attached("9P2000.L");
            int f = openRw(w);
            CompletableFuture<Rwrite> waiting = write(w, f, "new");
            await(() -> e.server.stats().recallsOutstanding() >= 1, 3000, "the recall sent");
            h.abort();
            await(() -> e.server.stats().vanished() == 1, 3000, "vanished");
            Thread.sleep(200);
            assertFalse(waiting.isDone(), "the write waits for the vanished holder");
            try (RawConn back = new RawConn(e.server.port())) {
                long t0 = System.nanoTime();
                assertEquals(1, comeBack(back, TOKEN));
                waiting.get(TERM_MS + 10_000, TimeUnit.MILLISECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms < TERM_MS / 2, "released by the token, not the term: " + ms + " ms");
                assertEquals("new", Files.readString(e.dir.resolve("f")));
            }
        }
    }

    @Test
    void aLiveHoldersTokenSettlesNothingUntilItVanishes() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            try (RawConn h = holder(e, TOKEN); RawConn twin = new RawConn(e.server.port())) {
                assertEquals(0, comeBack(twin, TOKEN), "a live connection is never settled");
                assertEquals(3, e.server.stats().leasesHeld(), "both roots and f");
                NinepClient w = e.attached("9P2000.L");
                int f = openRw(w);
                CompletableFuture<Rwrite> waiting = write(w, f, "new");
                await(() -> e.server.stats().recallsOutstanding() >= 1, 3000, "the recall sent");
                Thread.sleep(300);
                assertFalse(waiting.isDone(), "the live holder is still recalled and waited for");
                // Its mount is already back on the twin connection: when the old one vanishes
                // (a half-open socket noticed late), nothing is left to wait for.
                long t0 = System.nanoTime();
                h.abort();
                waiting.get(TERM_MS + 10_000, TimeUnit.MILLISECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms < TERM_MS / 2, "settled when it vanished: " + ms + " ms");
            }
        }
    }

    @Test
    void noTokenOrAnotherTokenLeavesTheLeasesForTheTerm() throws Exception {
        try (ServedExport e = serve()) {
            Files.writeString(e.dir.resolve("f"), "old");
            RawConn anonymous = holder(e, null);
            RawConn other = holder(e, TOKEN);
            anonymous.abort();
            other.abort();
            await(() -> e.server.stats().vanished() == 2, 3000, "both vanished");
            try (RawConn back = new RawConn(e.server.port())) {
                assertEquals(0, comeBack(back, new Tclient(TOKEN.tokenHi(), TOKEN.tokenLo() + 1)));
                assertEquals(2, e.server.stats().leaseCounts().vanishedHolders(), "both stand until the term");
                assertEquals(0, e.server.stats().reclaimedByToken());
            }
        }
    }

    @Test
    void aTokenBeforeAnAttachIsRefused() throws Exception {
        try (ServedExport e = serve(); RawConn c = new RawConn(e.server.port())) {
            c.version("9P2000.L.c9", 65536);
            assertEquals(Errno.EACCES, c.call(1, TOKEN, Rlerror.class).ecode());
        }
    }
}
