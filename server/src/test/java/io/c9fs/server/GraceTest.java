package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rlock;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Tlock;
import io.c9fs.transport.proto.Message.Tlopen;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Grace after a start, and reclaims of locks held by connections that vanished: granted when
 * nobody took a conflicting lock since (or, within grace, when there is no record at all),
 * refused when someone did.
 */
class GraceTest {
    private static final int O_RDWR = 2;
    private static final int RECLAIM = Tlock.FLAGS_RECLAIM;

    /** Opens "f" read-write on a new fid of {@code c}. */
    static int open(NinepClient c) throws Exception {
        int f = walk(c, 0, "f");
        c.call(new Tlopen(f, O_RDWR), Rlopen.class);
        return f;
    }

    static int lock(NinepClient c, int fid, int type, int flags, long start, long len, String client) throws Exception {
        return c.call(new Tlock(fid, type, flags, start, len, 1, client), Rlock.class).status();
    }

    static void await(BooleanSupplier cond, long ms, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out waiting: " + what);
            Thread.sleep(10);
        }
    }

    @Test
    void duringGraceOnlyReclaimsAreGranted() throws Exception {
        try (ServedExport e = ServedExport.start(c -> c.withGrace(Duration.ofMillis(1500)))) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            NinepClient a = e.attached("9P2000.L");
            NinepClient b = e.attached("9P2000.L");
            int fa = open(a);
            int fb = open(b);
            assertTrue(e.server.stats().graceLeftMillis() > 0);
            assertEquals(Rlock.GRACE, lock(b, fb, Tlock.WRLCK, 0, 0, 10, "b"), "a new lock waits for grace");
            assertEquals(Rlock.GRACE, lock(b, fb, Tlock.RDLCK, Tlock.FLAGS_BLOCK, 0, 10, "b"));
            assertEquals(Rlock.SUCCESS, lock(a, fa, Tlock.WRLCK, RECLAIM, 0, 5, "a"),
                    "no record after a start: a reclaim within grace is granted");
            assertEquals(Rlock.ERROR, lock(b, fb, Tlock.WRLCK, RECLAIM, 0, 10, "b"),
                    "a reclaim of a range someone else reclaimed is lost");
            assertEquals(Rlock.SUCCESS, lock(b, fb, Tlock.UNLCK, 0, 0, 10, "b"), "unlocks always pass");
            assertEquals(1, e.server.stats().reclaimsGranted());
            assertTrue(e.server.stats().graceRefusals() >= 2);
            await(() -> e.server.stats().graceLeftMillis() == 0, 10_000, "grace to end");
            assertEquals(Rlock.BLOCKED, lock(b, fb, Tlock.WRLCK, 0, 0, 10, "b"), "a's reclaimed lock holds");
            assertEquals(Rlock.SUCCESS, lock(b, fb, Tlock.WRLCK, 0, 5, 5, "b"), "after grace, locks as usual");
            assertEquals(Rlock.ERROR, lock(b, fb, Tlock.RDLCK, RECLAIM, 20, 5, "b"),
                    "outside grace a reclaim with no record is refused");
        }
    }

    @Test
    void aVanishedOwnerReclaimsWhatNobodyTookMeanwhile() throws Exception {
        try (ServedExport e = ServedExport.start()) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            NinepClient a = e.attached("9P2000.L");
            int fa = open(a);
            assertEquals(Rlock.SUCCESS, lock(a, fa, Tlock.WRLCK, 0, 0, 10, "host-a"));
            assertEquals(1, e.server.stats().locksHeld());
            a.close(); // no goodbye: vanished
            await(() -> e.server.stats().locksOfVanished() == 1 && e.server.stats().locksHeld() == 0, 5000,
                    "the lock on record, its descriptor closed");
            assertEquals(0, e.server.stats().locksHeld());

            NinepClient other = e.attached("9P2000.L");
            int fo = open(other);
            assertEquals(Rlock.SUCCESS, lock(other, fo, Tlock.WRLCK, 0, 20, 5, "host-b"),
                    "a disjoint range does not break the record");

            NinepClient back = e.attached("9P2000.L");
            int fb = open(back);
            assertEquals(Rlock.SUCCESS, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"));
            assertEquals(0, e.server.stats().locksOfVanished(), "the record is consumed");
            assertEquals(Rlock.BLOCKED, lock(other, fo, Tlock.WRLCK, 0, 0, 1, "host-b"), "and the lock is real");
            assertEquals(Rlock.ERROR, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"),
                    "a second reclaim finds no record");
        }
    }

    @Test
    void aReclaimAfterAConflictingGrantIsRefused() throws Exception {
        try (ServedExport e = ServedExport.start()) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            NinepClient a = e.attached("9P2000.L");
            int fa = open(a);
            assertEquals(Rlock.SUCCESS, lock(a, fa, Tlock.WRLCK, 0, 0, 10, "host-a"));
            assertEquals(Rlock.SUCCESS, lock(a, fa, Tlock.RDLCK, 0, 100, 10, "host-a"));
            a.close();
            await(() -> e.server.stats().locksOfVanished() == 2 && e.server.stats().locksHeld() == 0, 5000,
                    "the locks on record, their descriptor closed");

            // Another client takes and releases a conflicting lock before a comes back: it may
            // have written the range, so a's reclaim would hide a lost update.
            NinepClient c = e.attached("9P2000.L");
            int fc = open(c);
            assertEquals(Rlock.SUCCESS, lock(c, fc, Tlock.WRLCK, 0, 5, 1, "host-c"));
            assertEquals(Rlock.SUCCESS, lock(c, fc, Tlock.UNLCK, 0, 5, 1, "host-c"));
            assertEquals(Rlock.SUCCESS, lock(c, fc, Tlock.RDLCK, 0, 100, 10, "host-c"),
                    "a read lock does not conflict with a's read lock");
            assertEquals(Rlock.SUCCESS, lock(c, fc, Tlock.UNLCK, 0, 100, 10, "host-c"));

            NinepClient back = e.attached("9P2000.L");
            int fb = open(back);
            assertEquals(Rlock.ERROR, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"));
            assertEquals(Rlock.SUCCESS, lock(back, fb, Tlock.RDLCK, RECLAIM, 100, 10, "host-a"),
                    "the range nobody conflicted with comes back");
            assertEquals(Rlock.ERROR, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-z"),
                    "another owner has nothing to reclaim");
            assertEquals(1, e.server.stats().reclaimsGranted());
            assertEquals(2, e.server.stats().reclaimsRefused());
        }
    }

    /** The owner is back on a new connection before its old one is seen dead: retry, then reclaim. */
    @Test
    void aReclaimRunningIntoTheOwnersOldConnectionIsToldToRetry() throws Exception {
        try (ServedExport e = ServedExport.start()) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            NinepClient old = e.attached("9P2000.L");
            int fo = open(old);
            assertEquals(Rlock.SUCCESS, lock(old, fo, Tlock.WRLCK, 0, 0, 10, "host-a"));
            NinepClient back = e.attached("9P2000.L");
            int fb = open(back);
            assertEquals(Rlock.GRACE, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"),
                    "the old connection still holds it");
            assertEquals(Rlock.ERROR, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-z"),
                    "someone else's lock is lost, not retried");
            old.close(); // now seen gone: its lock goes on record
            await(() -> e.server.stats().locksOfVanished() == 1 && e.server.stats().locksHeld() == 0, 5000,
                    "the old lock on record, its descriptor closed");
            assertEquals(Rlock.SUCCESS, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"));
        }
    }

    @Test
    void aGoodbyeLeavesNothingToReclaim() throws Exception {
        try (ServedExport e = ServedExport.start()) {
            Files.writeString(e.dir.resolve("f"), "0123456789");
            try (RawConn raw = new RawConn(e.server.port())) {
                raw.version("9P2000.L", 8192);
                raw.call(1, new io.c9fs.transport.proto.Message.Tattach(0, -1, "root", "", -1),
                        io.c9fs.transport.proto.Message.Rattach.class);
                raw.call(2, new io.c9fs.transport.proto.Message.Twalk(0, 1, java.util.List.of("f")),
                        io.c9fs.transport.proto.Message.Rwalk.class);
                raw.call(3, new Tlopen(1, O_RDWR), Rlopen.class);
                assertEquals(Rlock.SUCCESS, raw.call(4, new Tlock(1, Tlock.WRLCK, 0, 0, 10, 1, "host-a"),
                        Rlock.class).status());
                assertEquals(1, e.server.stats().locksHeld());
                raw.version("9P2000.L", 8192); // goodbye
                await(() -> e.server.stats().locksHeld() == 0, 5000, "the lock released");
                assertEquals(0, e.server.stats().locksOfVanished(), "a goodbye is no vanish");
                assertEquals(1, e.server.stats().goodbyes());
            }
            NinepClient back = e.attached("9P2000.L");
            int fb = open(back);
            assertEquals(Rlock.ERROR, lock(back, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"));
        }
    }

    @Test
    void graceOnlyAfterARunThatMayHaveLeftLocks() throws Exception {
        Path state = Files.createTempDirectory("c9fs-grace-state");
        try {
            Files.createDirectories(ServedExport.SCRATCH);
            Path base = Files.createTempDirectory(ServedExport.SCRATCH, "g");
            try {
                Files.writeString(base.resolve("f"), "0123456789");
                ServerConfig cfg = ServerConfig.of(base, NinepAddress.tcp("127.0.0.1", 0))
                        .withGrace(Duration.ofSeconds(5)).withStateDir(state);
                FileServer s1 = FileServer.start(cfg);
                NinepClient a;
                try {
                    assertTrue(s1.grace().isZero(), "a first start has nothing to reclaim");
                    a = connect(s1);
                    int fa = open(a);
                    assertEquals(Rlock.SUCCESS, lock(a, fa, Tlock.WRLCK, 0, 0, 10, "host-a"));
                    assertEquals(1L, countFiles(state), "locks held are noted");
                    // A stop with a client holding a lock: the next start gives it grace.
                } finally {
                    s1.close();
                }
                a.close();
                FileServer s2 = FileServer.start(cfg);
                try {
                    assertEquals(Duration.ofSeconds(5), s2.grace());
                    NinepClient b = connect(s2);
                    int fb = open(b);
                    assertEquals(Rlock.SUCCESS, lock(b, fb, Tlock.WRLCK, RECLAIM, 0, 10, "host-a"));
                    clunk(b, fb);
                    await(() -> countFiles(state) == 0, 5000, "the note removed with the last lock");
                    b.close();
                } finally {
                    s2.close();
                }
                FileServer s3 = FileServer.start(cfg);
                try {
                    assertTrue(s3.grace().isZero(), "no lock was held at the last stop");
                    assertFalse(s3.stats().graceLeftMillis() > 0);
                } finally {
                    s3.close();
                }
            } finally {
                deleteTree(base);
            }
        } finally {
            deleteTree(state);
        }
    }

    private static NinepClient connect(FileServer s) throws Exception {
        NinepClient c = NinepClient.connect(s.address(), io.c9fs.transport.client.ClientConfig.defaults()
                .withVersion("9P2000.L").withRequestTimeout(Duration.ofSeconds(10)));
        c.attach(c.allocFid(), "root", "");
        return c;
    }

    private static long countFiles(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void deleteTree(Path base) throws java.io.IOException {
        try (Stream<Path> walk = Files.walk(base)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
