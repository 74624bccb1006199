package io.c9fs.server.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.server.lease.LeaseManager.Holder;
import io.c9fs.server.lease.LeaseManager.Kind;
import io.c9fs.server.lease.LeaseManager.Recall;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LeaseManagerTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final AtomicLong now = new AtomicLong();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    static final class Client implements Holder {
        final List<Recall> got = new CopyOnWriteArrayList<>();

        @Override
        public void recall(Recall r) {
            got.add(r);
        }
    }

    private LeaseManager manager;

    private LeaseManager manager(Duration term) {
        manager = new LeaseManager(term, now::get, timer);
        return manager;
    }

    /** A registered holder of the last manager made. */
    private Client client() {
        Client c = new Client();
        manager.register(c);
        return c;
    }

    /**
     * {@code from} holds the write lease of {@code path}, then {@code to} takes it: {@code from}'s
     * recall is acknowledged and forgotten, so what it receives next is new.
     */
    private static void handOver(LeaseManager m, Client from, Client to, long path) throws Exception {
        m.grant(from, path, LeaseManager.WRITE).get(1, TimeUnit.SECONDS);
        CompletableFuture<Integer> second = m.grant(to, path, LeaseManager.WRITE);
        m.acknowledge(from, from.got.get(0).id());
        second.get(1, TimeUnit.SECONDS);
        from.got.clear();
    }

    @Test
    void aWriteWaitsForEveryOtherHoldersAcknowledgement() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client b = client();
        Client w = client();
        m.grant(a, 42, LeaseManager.READ).get(1, TimeUnit.SECONDS);
        m.grant(b, 42, LeaseManager.READ).get(1, TimeUnit.SECONDS);
        CompletableFuture<Void> write = m.afterWrite(w, 42, 4096, 100);
        assertEquals(1, a.got.size());
        assertEquals(1, b.got.size());
        Recall ra = a.got.get(0);
        assertEquals(Kind.DATA, ra.kind());
        assertEquals(4096, ra.offset());
        assertEquals(100, ra.length());
        m.acknowledge(a, ra.id());
        assertFalse(write.isDone(), "b has not acknowledged");
        m.acknowledge(a, b.got.get(0).id()); // not a's recall: ignored
        assertFalse(write.isDone());
        m.acknowledge(b, b.got.get(0).id());
        assertTrue(write.isDone());
        assertEquals(0, m.counts().recallsOutstanding());
    }

    /**
     * A write lease asked for as sole is sole while no other holder has any lease on the file;
     * another holder's first fid on it recalls the writer (SHARE) and its request waits for the
     * acknowledgement (the writer's writes in flight landing).
     */
    @Test
    void aSoleWriteLeaseEndsAtAnotherHoldersFirstFid() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client w = client();
        Client b = client();
        m.reference(w, 7);
        assertEquals(LeaseManager.WRITE, m.grant(w, 7, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS));
        assertTrue(m.sole(w, 7));
        CompletableFuture<Void> joined = m.reference(b, 7);
        assertFalse(m.sole(w, 7));
        assertEquals(1, w.got.size());
        assertEquals(Kind.SHARE, w.got.get(0).kind());
        assertFalse(joined.isDone(), "b's walk is answered only once the writer's writes landed");
        m.acknowledge(w, w.got.get(0).id());
        assertTrue(joined.isDone());
        // b holds a lease now: the writer's next write lease is not sole, and b's second fid waits for nothing
        CompletableFuture<Integer> again = m.grant(w, 7, LeaseManager.WRITE, true);
        m.acknowledge(b, b.got.get(b.got.size() - 1).id()); // the write lease's recall of b's data
        again.get(1, TimeUnit.SECONDS);
        assertFalse(m.sole(w, 7));
        assertEquals(null, m.reference(b, 7));
        // b gone: sole again
        m.unreference(b, 7);
        m.unreference(b, 7);
        m.grant(w, 7, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS);
        assertTrue(m.sole(w, 7));
        // a plain write lease is never sole
        m.grant(w, 7, LeaseManager.WRITE).get(1, TimeUnit.SECONDS);
        assertFalse(m.sole(w, 7));
    }

    /**
     * A listing (or create) by another holder recalls every sole writer first, and while it runs
     * no write lease is granted sole: its stats of files it holds no lease on yet must not miss
     * writes answered behind.
     */
    @Test
    void aListingEndsSoleWriteLeasesAndNoneIsGrantedWhileItRuns() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client w = client();
        Client b = client();
        m.reference(w, 8);
        m.grant(w, 8, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS);
        assertTrue(m.sole(w, 8));
        CompletableFuture<Void> listing = m.beforeForeignAttrs(b);
        assertFalse(listing.isDone());
        assertEquals(Kind.SHARE, w.got.get(0).kind());
        m.acknowledge(w, w.got.get(0).id());
        assertTrue(listing.isDone());
        m.reference(w, 9);
        m.grant(w, 9, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS);
        assertFalse(m.sole(w, 9), "granted during another client's listing");
        m.afterForeignAttrs(b);
        m.grant(w, 9, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS);
        assertTrue(m.sole(w, 9));
        // the writer's own listing ends nothing of its own
        assertTrue(m.beforeForeignAttrs(w).isDone());
        m.grant(w, 10, LeaseManager.WRITE, true).get(1, TimeUnit.SECONDS);
        assertTrue(m.sole(w, 10), "its own listing does not keep a writer from a sole lease");
        m.afterForeignAttrs(w);
        assertTrue(m.sole(w, 9));
    }

    /**
     * A page written back on its own (syncfs) waits for another writer's recall; that writer's read
     * then recalls the first one, whose recall handling waits for its own write-back: the write is
     * laundering from that moment and stops waiting (found by the demo in CI: a cycle until expiry).
     */
    @Test
    void aWaitingWriteStopsWaitingWhenItsHolderIsRecalled() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client b = client();
        handOver(m, a, b, 6);
        CompletableFuture<Void> writeback = m.afterWrite(a, 6, 0, 4096);
        assertFalse(writeback.isDone(), "a plain write waits for b");
        CompletableFuture<Void> read = m.beforeRead(b, 6, 0, 4096);
        assertEquals(1, a.got.size(), "b's read recalls a");
        writeback.get(5, TimeUnit.SECONDS); // released: a is laundering now
        assertFalse(read.isDone(), "b's read still waits for a's acknowledgement");
        m.acknowledge(a, a.got.get(0).id());
        assertTrue(read.isDone());
    }

    /**
     * Two writers of one file read it at once (a's store faults a page in, b pread()s): each read
     * recalls the other writer, whose kernel cannot drop the range while its own read holds the
     * page. The earlier read stops waiting when the later one recalls its holder; the later one
     * still waits for that holder's acknowledgement (found by the demo: both recalls expired and
     * the store was lost to the fence).
     */
    @Test
    void twoReadsThatRecallEachOtherDoNotWaitOnEachOther() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client b = client();
        handOver(m, a, b, 8);
        CompletableFuture<Void> readA = m.beforeRead(a, 8, 0, 4096);
        assertEquals(1, b.got.size(), "a's read recalls b");
        assertFalse(readA.isDone(), "a's read waits for b");
        CompletableFuture<Void> readB = m.beforeRead(b, 8, 0, 4096);
        assertEquals(1, a.got.size(), "b's read recalls a");
        readA.get(5, TimeUnit.SECONDS); // released: b, which it waits for, waits for a
        assertFalse(readB.isDone(), "b's read still waits for a's acknowledgement");
        m.acknowledge(a, a.got.get(0).id());
        readB.get(1, TimeUnit.SECONDS);
        m.acknowledge(b, b.got.get(0).id());
        assertEquals(0, m.counts().recallsOutstanding());
        assertEquals(0, m.counts().recallsExpired());
    }

    /** A read is released only by a read of a holder it waits for, not by that holder's laundering write. */
    @Test
    void aWaitingReadKeepsWaitingThroughTheLaunderingItWaitsFor() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client b = client();
        handOver(m, a, b, 5);
        CompletableFuture<Void> readA = m.beforeRead(a, 5, 0, 4096);
        assertTrue(m.afterWrite(b, 5, 0, 4096).isDone(), "b launders without waiting");
        Thread.sleep(100);
        assertFalse(readA.isDone(), "a's read waits until b acknowledges");
        m.acknowledge(b, b.got.get(0).id());
        readA.get(1, TimeUnit.SECONDS);
    }

    /**
     * A writer laundering for a reader (its recall outstanding) appends: the size's recall to the
     * reader is sent but not waited for — the reader acknowledges only once its read, which waits
     * for the writer, is answered (found by the demo: a cycle until expiry).
     */
    @Test
    void anAttributeChangeWhileLaunderingDoesNotWait() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client writer = client();
        Client reader = client();
        handOver(m, writer, reader, 5);
        CompletableFuture<Void> read = m.beforeRead(reader, 5, 0, 4096);
        assertFalse(read.isDone(), "the writer launders first");
        assertTrue(m.afterWrite(writer, 5, 0, 4096).isDone(), "its laundering write does not wait");
        assertTrue(m.attrChanged(writer, 5).isDone(), "nor does the size it moved");
        assertTrue(reader.got.stream().anyMatch(r -> r.kind() == LeaseManager.Kind.ATTR), "but the reader is told");
        assertFalse(m.attrChanged(null, 5).isDone(), "anyone else's change waits as usual");
    }

    @Test
    void theWritersOwnCacheIsNotRecalled() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        m.grant(a, 7, LeaseManager.WRITE);
        assertTrue(m.beforeWrite(a, 7, 0, 10).isDone());
        assertTrue(m.afterWrite(a, 7, 0, 10).isDone());
        assertTrue(a.got.isEmpty());
    }

    @Test
    void readsRecallOnlyWritersUnlessTheReaderIsAWriter() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client reader = client();
        Client other = client();
        Client writer = client();
        m.grant(reader, 9, LeaseManager.READ);
        m.grant(other, 9, LeaseManager.READ);
        m.grant(writer, 9, LeaseManager.WRITE);
        reader.got.clear();
        other.got.clear();
        m.beforeRead(reader, 9, 0, 4096);
        assertTrue(other.got.isEmpty(), "readers share pages");
        assertEquals(1, writer.got.size(), "the writer launders and drops the range");
        m.beforeRead(writer, 9, 0, 4096);
        assertEquals(1, reader.got.size(), "a writer may dirty what it reads: readers drop it");
        assertEquals(1, other.got.size());
    }

    @Test
    void grantingAWriteLeaseRecallsTheWholeFileFromOthers() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client b = client();
        m.grant(a, 5, LeaseManager.READ);
        CompletableFuture<Integer> g = m.grant(b, 5, LeaseManager.WRITE);
        assertFalse(g.isDone());
        Recall r = a.got.get(0);
        assertEquals(0, r.offset());
        assertEquals(0, r.length(), "length 0: to end of file");
        m.acknowledge(a, r.id());
        assertEquals(LeaseManager.WRITE, g.join());
    }

    @Test
    void anUnacknowledgedRecallExpiresAfterTheTermAndFencesItsHolder() throws Exception {
        LeaseManager m = manager(Duration.ofMillis(150));
        Client slow = client();
        Client w = client();
        m.grant(slow, 3, LeaseManager.WRITE);
        long t0 = System.nanoTime();
        m.beforeWrite(w, 3, 0, 1).get(5, TimeUnit.SECONDS);
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(waited >= 140, "waited " + waited + " ms, the term is 150 ms");
        assertTrue(m.fenced(slow, 3));
        assertEquals(LeaseManager.NONE, m.mode(slow, 3));
        m.acknowledge(slow, slow.got.get(0).id()); // too late: ignored
        m.grant(slow, 3, LeaseManager.READ).get(1, TimeUnit.SECONDS);
        assertFalse(m.fenced(slow, 3), "a new lease lifts the fence");
    }

    @Test
    void aHolderThatStopsRenewingLosesEveryLeaseAndIsFenced() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client quiet = client();
        Client live = client();
        m.grant(quiet, 1, LeaseManager.READ);
        m.grant(quiet, 2, LeaseManager.WRITE);
        m.grant(live, 1, LeaseManager.READ);
        now.addAndGet(Duration.ofSeconds(6).toNanos());
        m.renew(live);
        now.addAndGet(Duration.ofSeconds(6).toNanos());
        m.expireSilentHolders();
        assertEquals(LeaseManager.NONE, m.mode(quiet, 1));
        assertEquals(LeaseManager.NONE, m.mode(quiet, 2));
        assertTrue(m.fenced(quiet, 2));
        assertEquals(LeaseManager.READ, m.mode(live, 1));
        assertFalse(m.fenced(live, 1));
    }

    @Test
    void aDisconnectReleasesWaitersAtOnce() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client gone = client();
        Client w = client();
        m.grant(gone, 8, LeaseManager.READ);
        CompletableFuture<Void> write = m.afterWrite(w, 8, 0, 1);
        assertFalse(write.isDone());
        m.disconnected(gone);
        assertTrue(write.isDone());
        assertEquals(0, m.counts().leases());
    }

    @Test
    void entryAndAttrRecallsNameWhatChanged() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        m.grant(a, 100, LeaseManager.READ);
        m.entryChanged(null, 100, "new.txt");
        m.localChange(100, Kind.ATTR, "");
        assertEquals(Kind.ENTRY, a.got.get(0).kind());
        assertEquals("new.txt", a.got.get(0).name());
        assertEquals(Kind.ATTR, a.got.get(1).kind());
    }

    @Test
    void phaseOneRecallsOnlyWritersAndPhaseTwoEveryone() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client reader = client();
        Client writer = client();
        m.reference(reader, 4);
        m.grant(writer, 4, LeaseManager.WRITE);
        reader.got.clear();
        m.beforeWrite(null, 4, 0, 8);
        assertTrue(reader.got.isEmpty(), "a reader has nothing dirty to launder");
        assertEquals(1, writer.got.size());
        m.afterWrite(null, 4, 0, 8);
        assertEquals(1, reader.got.size(), "phase 2 drops every cached copy");
        assertEquals(2, writer.got.size());
    }

    @Test
    void aFidIsAnImplicitReadLeaseUntilItsLastReferenceGoes() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        m.reference(a, 11);
        m.reference(a, 11);
        assertEquals(LeaseManager.READ, m.mode(a, 11));
        m.grant(a, 11, LeaseManager.WRITE).join();
        assertEquals(LeaseManager.WRITE, m.mode(a, 11));
        m.grant(a, 11, LeaseManager.NONE).join();
        assertEquals(LeaseManager.READ, m.mode(a, 11), "releasing the explicit mode keeps the fids' read lease");
        m.unreference(a, 11);
        assertEquals(LeaseManager.READ, m.mode(a, 11));
        m.unreference(a, 11);
        assertEquals(LeaseManager.NONE, m.mode(a, 11));
        assertEquals(0, m.counts().leases());
        m.afterWrite(null, 11, 0, 1);
        assertTrue(a.got.isEmpty());
    }

    @Test
    void anUnregisteredHolderTakesNoLease() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client gone = client();
        m.disconnected(gone);
        m.reference(gone, 12);
        assertEquals(LeaseManager.NONE, m.grant(gone, 12, LeaseManager.WRITE).join());
        assertEquals(0, m.counts().holders());
        assertTrue(m.afterWrite(null, 12, 0, 1).isDone(), "nobody to wait for");
    }

    @Test
    void aFencedHoldersFidsComeBackWithTheNextLease() throws Exception {
        LeaseManager m = manager(Duration.ofMillis(100));
        Client slow = client();
        m.reference(slow, 13);
        m.afterWrite(null, 13, 0, 1).get(5, TimeUnit.SECONDS);
        assertTrue(m.fenced(slow, 13));
        assertEquals(LeaseManager.NONE, m.mode(slow, 13));
        assertTrue(m.afterWrite(null, 13, 0, 1).isDone(), "a fenced holder is not recalled");
        assertEquals(1, m.counts().recallsExpired());
        m.grant(slow, 13, LeaseManager.NONE).join();
        assertFalse(m.fenced(slow, 13));
        assertEquals(LeaseManager.READ, m.mode(slow, 13), "its fid still counts");
    }

    @Test
    void acknowledgementsAreTimed() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        m.reference(a, 14);
        for (int i = 0; i < 100; i++) {
            m.afterWrite(null, 14, 0, 1);
            now.addAndGet(i < 99 ? 1000 : 50_000);
            m.acknowledge(a, a.got.get(i).id());
        }
        assertEquals(1000, m.recallRoundTrip().medianNanos());
        assertEquals(1000, m.recallRoundTrip().p99Nanos());
        assertEquals(100, m.recallRoundTrip().samples());
        assertEquals(100, m.counts().recallsSent());
    }
    /**
     * A holder whose connection vanished keeps its leases (its fids' implicit ones included,
     * though the fids are released) until the term after its last renewal: a partitioned client
     * still trusts its cache until then. A conflicting change waits for it that long, no longer.
     */
    @Test
    void aVanishedHolderKeepsItsLeasesUntilTheEndOfItsTerm() throws Exception {
        LeaseManager m = manager(Duration.ofMillis(600));
        Client a = client();
        Client w = client();
        m.reference(a, 42);
        m.grant(a, 43, LeaseManager.WRITE).get(1, TimeUnit.SECONDS);
        now.set(TimeUnit.MILLISECONDS.toNanos(200)); // a renewed 200 ms ago: 400 ms are left
        long t0 = System.nanoTime();
        m.vanished(a);
        m.unreference(a, 42); // its fids are clunked
        assertTrue(m.isVanished(a));
        assertEquals(LeaseManager.READ, m.mode(a, 42), "the fid's read lease stands");
        assertEquals(LeaseManager.WRITE, m.mode(a, 43));
        LeaseManager.Counts c = m.counts();
        assertEquals(2, c.leases());
        assertEquals(1, c.readLeases());
        assertEquals(1, c.writeLeases());
        assertEquals(1, c.vanishedHolders());
        assertEquals(2, c.vanishedLeases());
        m.reference(a, 44); // a request finishing late takes nothing new
        assertEquals(LeaseManager.NONE, m.mode(a, 44));

        CompletableFuture<Void> write = m.afterWrite(w, 42, 0, 10);
        assertEquals(1, a.got.size(), "recalled (nobody will answer)");
        assertFalse(write.isDone());
        write.get(5, TimeUnit.SECONDS);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= 300, "released before the term ended: " + ms + " ms");
        assertTrue(ms < 3000, "released long after the term: " + ms + " ms");
        assertEquals(1, m.counts().holders(), "only w is left");
        assertEquals(0, m.counts().recallsOutstanding());
        assertEquals(0, m.counts().recallsExpired(), "a released recall is no expiry");
    }

    @Test
    void aHolderThatVanishesAfterItsTermIsGoneAtOnce() {
        LeaseManager m = manager(Duration.ofMillis(500));
        Client a = client();
        m.reference(a, 42);
        now.set(TimeUnit.MILLISECONDS.toNanos(501));
        m.vanished(a);
        assertEquals(0, m.counts().holders());
        assertEquals(0, m.counts().leases());
    }

    @Test
    void aGoodbyeEndsLeasesAtOnceAndFreesWaiters() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = client();
        Client w = client();
        m.reference(a, 42);
        CompletableFuture<Void> write = m.afterWrite(w, 42, 0, 10);
        assertFalse(write.isDone());
        m.disconnected(a);
        assertTrue(write.isDone(), "nobody waits for a client that said goodbye");
        assertEquals(0, m.counts().leases());
    }
}
