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

    private LeaseManager manager(Duration term) {
        return new LeaseManager(term, now::get, timer);
    }

    @Test
    void aWriteWaitsForEveryOtherHoldersAcknowledgement() throws Exception {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = new Client();
        Client b = new Client();
        Client w = new Client();
        m.grant(a, 42, LeaseManager.READ).get(1, TimeUnit.SECONDS);
        m.grant(b, 42, LeaseManager.READ).get(1, TimeUnit.SECONDS);
        CompletableFuture<Void> write = m.beforeWrite(w, 42, 4096, 100);
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

    @Test
    void theWritersOwnCacheIsNotRecalled() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = new Client();
        m.grant(a, 7, LeaseManager.WRITE);
        assertTrue(m.beforeWrite(a, 7, 0, 10).isDone());
        assertTrue(a.got.isEmpty());
    }

    @Test
    void readsRecallOnlyWritersUnlessTheReaderIsAWriter() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client reader = new Client();
        Client other = new Client();
        Client writer = new Client();
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
        Client a = new Client();
        Client b = new Client();
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
        Client slow = new Client();
        Client w = new Client();
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
        Client quiet = new Client();
        Client live = new Client();
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
        Client gone = new Client();
        Client w = new Client();
        m.grant(gone, 8, LeaseManager.READ);
        CompletableFuture<Void> write = m.beforeWrite(w, 8, 0, 1);
        assertFalse(write.isDone());
        m.disconnected(gone);
        assertTrue(write.isDone());
        assertEquals(0, m.counts().leases());
    }

    @Test
    void entryAndAttrRecallsNameWhatChanged() {
        LeaseManager m = manager(Duration.ofSeconds(10));
        Client a = new Client();
        m.grant(a, 100, LeaseManager.READ);
        m.beforeEntryChange(null, 100, "new.txt");
        m.localChange(100, Kind.ATTR, "");
        assertEquals(Kind.ENTRY, a.got.get(0).kind());
        assertEquals("new.txt", a.got.get(0).name());
        assertEquals(Kind.ATTR, a.got.get(1).kind());
    }
}
