package io.c9fs.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.testing.ScriptedServer;
import io.c9fs.transport.testing.ScriptedServer.Request;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The recall loop against a scripted 9P2000.L.c9 server: what it drops, in which order, and when it gives up. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LeaseClientTest {
    ScriptedServer server;
    NinepClient client;
    LeaseClient leases;
    final BlockingQueue<String> kernelCalls = new LinkedBlockingQueue<>();
    final PageCache pages = new PageCache(16 << 20, 64 * 1024, 0);

    final KernelCache kernel = new KernelCache() {
        @Override public void dropData(long path, long offset, long length) {
            kernelCalls.add("data " + path + " " + offset + " " + length);
        }
        @Override public void dropAttr(long path) {
            kernelCalls.add("attr " + path);
        }
        @Override public void dropEntry(long dirPath, String name) {
            kernelCalls.add("entry " + dirPath + " " + name);
        }
        @Override public void flushDirty() {
            kernelCalls.add("flush");
        }
        @Override public void dropAll() {
            kernelCalls.add("all");
        }
    };

    @BeforeEach
    void connect() throws Exception {
        server = new ScriptedServer(EnumSet.allOf(Dialect.class), 65536);
        client = NinepClient.connect(server.address(),
                ClientConfig.defaults().withVersion(Dialect.P9P2000_L_C9.version()));
        leases = new LeaseClient(client, pages, kernel, Duration.ofMillis(50));
        leases.start();
    }

    @AfterEach
    void close() throws Exception {
        leases.close();
        client.close();
        server.close();
    }

    private Request expect(Class<? extends Message> type) throws InterruptedException {
        Request r = server.next();
        assertInstanceOf(type, r.fcall().message(), r.fcall().toString());
        return r;
    }

    @Test
    void recallsAreCarriedOutThenAcknowledged() throws Exception {
        assertFalse(leases.trusted(), "nothing renewed yet");
        Request cb = expect(Message.Tcallback.class);
        // Fill this mount's cache for file 7, so the recall has something to drop.
        byte[] before = {1, 2, 3};
        pages.read(7, 0, ByteBuffer.allocate(3), (p, o, l) -> CompletableFuture.completedFuture(PageCacheTest.FakeServer.store(before, l))).get();
        cb.conn().reply(cb.tag(), new Message.Rcallback(10_000, List.of(
                new Recall(11, Recall.DATA, 7, 4096, 100, ""),
                new Recall(12, Recall.ENTRY, 1, 0, 0, "new.txt"),
                new Recall(13, Recall.ATTR, 7, 0, 0, ""))));
        // The spare, sent at once so that the server answers the first without holding it; it
        // is the outstanding one while the recalls are carried out.
        Request next = expect(Message.Tcallback.class);
        assertEquals("data 7 4096 100", kernelCalls.poll(5, TimeUnit.SECONDS));
        Request ack = expect(Message.Trecalled.class);
        assertEquals(11, ((Message.Trecalled) ack.fcall().message()).id());
        ack.conn().reply(ack.tag(), new Message.Rrecalled());
        assertEquals("entry 1 new.txt", kernelCalls.poll(5, TimeUnit.SECONDS));
        assertEquals(12, ((Message.Trecalled) expect(Message.Trecalled.class).fcall().message()).id());
        assertEquals("attr 7", kernelCalls.poll(5, TimeUnit.SECONDS));
        assertEquals(13, ((Message.Trecalled) expect(Message.Trecalled.class).fcall().message()).id());
        assertTrue(leases.trusted());
        // The DATA recall also emptied this mount's own cache of file 7: the next read loads again.
        byte[] after = {9, 9, 9};
        ByteBuffer dst = ByteBuffer.allocate(3);
        pages.read(7, 0, dst, (p, o, l) -> CompletableFuture.completedFuture(PageCacheTest.FakeServer.store(after, l))).get();
        assertEquals(9, dst.get(0));
        assertEquals(3, leases.stats().recalls());
        next.conn().reply(next.tag(), new Message.Rcallback(10_000, List.of()));
    }

    @Test
    void anUnrenewedTermDropsEveryCache() throws Exception {
        Request cb = expect(Message.Tcallback.class);
        cb.conn().reply(cb.tag(), new Message.Rcallback(300, List.of()));
        expect(Message.Tcallback.class); // never answered: the server is gone quiet
        long t0 = System.nanoTime();
        String call;
        do {
            call = kernelCalls.poll(5, TimeUnit.SECONDS);
        } while (call != null && !call.equals("all"));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("all", call);
        assertTrue(waited < 1000, "dropped after " + waited + " ms for a 300 ms term");
        assertFalse(leases.trusted());
        assertEquals(1, leases.stats().expiries());
    }

    @Test
    void writeLeasesAreCountedAndFlushedWhileHeld() throws Exception {
        Request cb = expect(Message.Tcallback.class);
        Request spare = expect(Message.Tcallback.class);
        CompletableFuture<Message.Rlease> got = CompletableFuture.supplyAsync(() -> {
            try {
                return leases.acquire(5, 77, Message.LEASE_WRITE);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Request t = expect(Message.Tlease.class);
        // a write lease, asking whether it is the file's only one
        assertEquals(Message.LEASE_WRITE | Message.LEASE_SOLE, ((Message.Tlease) t.fcall().message()).mode());
        t.conn().reply(t.tag(), new Message.Rlease(Message.LEASE_WRITE, 1, 10_000, new io.c9fs.transport.proto.Qid(0, 1, 77)));
        got.get(5, TimeUnit.SECONDS);
        assertTrue(leases.writeLeased(77));
        String call;
        do {
            call = kernelCalls.poll(5, TimeUnit.SECONDS);
        } while (call != null && !call.equals("flush"));
        assertEquals("flush", call, "dirty pages of a write-leased file are flushed periodically");
        CompletableFuture<Void> rel = CompletableFuture.runAsync(() -> {
            try {
                leases.release(5, 77);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Request r = expect(Message.Tlease.class);
        assertEquals(Message.LEASE_READ, ((Message.Tlease) r.fcall().message()).mode());
        r.conn().reply(r.tag(), new Message.Rlease(Message.LEASE_READ, 1, 10_000, new io.c9fs.transport.proto.Qid(0, 1, 77)));
        rel.get(5, TimeUnit.SECONDS);
        assertFalse(leases.writeLeased(77));
        cb.conn().reply(cb.tag(), new Message.Rcallback(10_000, List.of()));
        spare.conn().reply(spare.tag(), new Message.Rcallback(10_000, List.of()));
    }

    /**
     * A sole write lease lets the mount write behind until any recall of the file; a SHARE recall
     * drops nothing and is acknowledged only once the writes in flight are answered, without the
     * recall thread waiting for them (the next recall is carried out meanwhile).
     */
    @Test
    void aShareRecallIsAcknowledgedOnceTheWritesInFlightAreAnswered() throws Exception {
        CompletableFuture<Void> inFlight = new CompletableFuture<>();
        List<Long> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
        leases.beforeAcknowledging(path -> {
            asked.add(path);
            return path == 78 ? inFlight : null;
        });
        Request cb = expect(Message.Tcallback.class);
        Request spare = expect(Message.Tcallback.class);
        cb.conn().reply(cb.tag(), new Message.Rcallback(10_000, List.of()));
        CompletableFuture<Message.Rlease> got = CompletableFuture.supplyAsync(() -> {
            try {
                return leases.acquire(6, 78, Message.LEASE_WRITE);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Request t = expect(Message.Tlease.class);
        t.conn().reply(t.tag(), new Message.Rlease(Message.LEASE_WRITE | Message.LEASE_SOLE, 1, 10_000,
                new io.c9fs.transport.proto.Qid(0, 1, 78)));
        got.get(5, TimeUnit.SECONDS);
        assertTrue(leases.writeBehind(78), "a sole write lease");
        spare.conn().reply(spare.tag(), new Message.Rcallback(10_000, List.of(
                new Recall(21, Recall.SHARE, 78, 0, 0, ""),
                new Recall(22, Recall.ATTR, 9, 0, 0, ""))));
        expect(Message.Tcallback.class);
        assertEquals("attr 9", kernelCalls.poll(5, TimeUnit.SECONDS), "the SHARE drops nothing and does not hold the next recall");
        assertFalse(leases.writeBehind(78));
        Request ack = expect(Message.Trecalled.class);
        assertEquals(22, ((Message.Trecalled) ack.fcall().message()).id(), "the SHARE waits for the writes in flight");
        inFlight.complete(null);
        assertEquals(21, ((Message.Trecalled) expect(Message.Trecalled.class).fcall().message()).id());
        assertEquals(List.of(78L, 9L), asked);
    }

    /** Takes the write lease of file {@code path} through fid {@code fid}, answering the Tlease. */
    private void writeLease(int fid, long path) throws Exception {
        CompletableFuture<Message.Rlease> got = CompletableFuture.supplyAsync(() -> {
            try {
                return leases.acquire(fid, path, Message.LEASE_WRITE);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Request t = expect(Message.Tlease.class);
        t.conn().reply(t.tag(), new Message.Rlease(Message.LEASE_WRITE, 1, 10_000,
                new io.c9fs.transport.proto.Qid(0, 1, path)));
        got.get(5, TimeUnit.SECONDS);
    }

    /** The next Tlease the server gets, Tcallbacks before it held (never answered). */
    private Message.Tlease nextTlease() throws Exception {
        while (true) {
            Request r = server.next();
            if (r.fcall().message() instanceof Message.Tlease l) {
                r.conn().reply(r.tag(), new Message.Rlease(l.mode(), 2, 10_000,
                        new io.c9fs.transport.proto.Qid(0, 1, 77)));
                return l;
            }
            assertInstanceOf(Message.Tcallback.class, r.fcall().message(), r.fcall().toString());
        }
    }

    private String nextKernelCall(String prefix) throws InterruptedException {
        String call;
        do {
            call = kernelCalls.poll(5, TimeUnit.SECONDS);
        } while (call != null && !call.startsWith(prefix));
        return call;
    }

    @Test
    void aWriteRefusedAsFencedDropsTheFileThenLeasesItAgain() throws Exception {
        Request cb = expect(Message.Tcallback.class);
        cb.conn().reply(cb.tag(), new Message.Rcallback(10_000, List.of()));
        Request spare = expect(Message.Tcallback.class); // held: the leases stay renewed
        writeLease(5, 77);
        leases.writeRefused(78); // not write-leased here: nothing to take again
        leases.writeRefused(77);
        assertEquals("data 77 0 0", nextKernelCall("data "), "the file's pages from before the fence go first");
        Message.Tlease again = nextTlease();
        assertEquals(5, again.fid());
        assertEquals(Message.LEASE_WRITE, again.mode());
        assertEquals(1, leases.stats().retakes());
        assertTrue(leases.writeLeased(77));
        spare.conn().reply(spare.tag(), new Message.Rcallback(10_000, List.of()));
    }

    @Test
    void aWriterRenewedAfterItsTermPassedLeasesAgain() throws Exception {
        Request cb = expect(Message.Tcallback.class);
        cb.conn().reply(cb.tag(), new Message.Rcallback(10_000, List.of()));
        Request spare = expect(Message.Tcallback.class);
        writeLease(5, 77);
        spare.conn().reply(spare.tag(), new Message.Rcallback(300, List.of()));
        Request quiet = expect(Message.Tcallback.class); // not answered for a whole term
        assertEquals("all", nextKernelCall("all"), "the term passed: every cache dropped");
        assertEquals(0, leases.stats().retakes(), "nothing retaken before a renewal");
        quiet.conn().reply(quiet.tag(), new Message.Rcallback(10_000, List.of()));
        Message.Tlease again = nextTlease();
        assertEquals(5, again.fid());
        assertEquals(Message.LEASE_WRITE, again.mode());
        assertEquals(1, leases.stats().retakes());
    }
}
