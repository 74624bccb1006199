package io.c9fs.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class PageCacheTest {
    private static final int BS = 64 * 1024;

    /** A file held in memory, standing in for the server; records every load. */
    static final class FakeServer implements BlockLoader {
        byte[] file;
        final List<long[]> loads = new ArrayList<>();
        final List<CompletableFuture<Void>> held = new ArrayList<>();
        boolean hold;

        FakeServer(int size, long seed) {
            file = new byte[size];
            new Random(seed).nextBytes(file);
        }

        @Override
        public synchronized CompletableFuture<Integer> load(long path, long offset, Destination into) {
            loads.add(new long[] {offset, into.length()});
            byte[] snapshot = slice(offset, into.length());
            if (hold) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                held.add(f);
                return f.thenApply(x -> store(snapshot, into));
            }
            return CompletableFuture.completedFuture(store(snapshot, into));
        }

        static int store(byte[] bytes, Destination into) {
            into.put(0, ByteBuffer.wrap(bytes));
            return bytes.length;
        }

        byte[] slice(long offset, int length) {
            int from = (int) Math.min(offset, file.length);
            int to = (int) Math.min(offset + length, file.length);
            return Arrays.copyOfRange(file, from, to);
        }
    }

    private static byte[] read(PageCache c, long path, long offset, int len, BlockLoader l) throws Exception {
        ByteBuffer dst = ByteBuffer.allocateDirect(len);
        int n = c.read(path, offset, dst, l).get(5, TimeUnit.SECONDS);
        assertEquals(n, dst.position());
        byte[] out = new byte[n];
        dst.flip().get(out);
        return out;
    }

    @Test
    void missLoadsTheRunPlusReadaheadAndLaterReadsHit() throws Exception {
        FakeServer srv = new FakeServer(8 * BS, 1);
        PageCache c = new PageCache(64L << 20, BS, 2 * BS);
        assertArrayEquals(srv.slice(0, 4096), read(c, 7, 0, 4096, srv));
        assertEquals(1, srv.loads.size());
        assertEquals(3L * BS, srv.loads.get(0)[1], "one block asked for, two read ahead");
        assertArrayEquals(srv.slice(BS + 10, BS), read(c, 7, BS + 10, BS, srv));
        assertEquals(2, srv.loads.size());
        assertEquals(3L * BS, srv.loads.get(1)[0], "blocks 1 and 2 came from readahead; it moves on past them");
        assertTrue(c.stats().hits() >= 2);
    }

    @Test
    void randomReadsLoadOnlyWhatTheyTouch() throws Exception {
        FakeServer srv = new FakeServer(64 * BS, 7);
        PageCache c = new PageCache(64L << 20, BS, 8 * BS);
        assertArrayEquals(srv.slice(40L * BS + 8, 4096), read(c, 7, 40L * BS + 8, 4096, srv));
        assertArrayEquals(srv.slice(3L * BS, 4096), read(c, 7, 3L * BS, 4096, srv));
        assertArrayEquals(srv.slice(57L * BS, 4096), read(c, 7, 57L * BS, 4096, srv));
        assertEquals(3, srv.loads.size());
        for (long[] l : srv.loads) {
            assertEquals(BS, l[1], "a random read loads its own block, no readahead");
        }
        read(c, 7, 57L * BS + 4096, 4096, srv); // continues the last read: sequential from here
        assertEquals(4, srv.loads.size());
        assertEquals(58L * BS, srv.loads.get(3)[0]);
        assertEquals(8L * BS, srv.loads.get(3)[1], "readahead once reads run on");
        read(c, 7, 58L * BS, 4096, srv);
        assertEquals(66L * BS, srv.loads.get(4)[0], "and keeps a window ahead of the reader");
    }

    /** The 4 KiB pages of a 16 MiB file in 16 KiB blocks, all of them, in random order: a dense random reader. */
    private static FakeServer readEveryPageAtRandom(PageCache c, long seed) throws Exception {
        FakeServer srv = new FakeServer(16 << 20, seed);
        List<Integer> pages = new ArrayList<>();
        for (int p = 0; p < (16 << 20) / 4096; p++) {
            pages.add(p);
        }
        java.util.Collections.shuffle(pages, new Random(seed));
        for (int p : pages) {
            assertArrayEquals(srv.slice(p * 4096L, 4096), read(c, 9, p * 4096L, 4096, srv));
        }
        return srv;
    }

    @Test
    void denseRandomReadsGrowTheReadAroundUnit() throws Exception {
        int bs = 16 * 1024;
        PageCache c = new PageCache(64L << 20, bs, 8 * bs);
        FakeServer srv = readEveryPageAtRandom(c, 3);
        long largest = srv.loads.stream().mapToLong(l -> l[1]).max().orElseThrow();
        assertTrue(largest > bs, "a random reader that finds its neighbours loaded reads around: largest load " + largest);
        assertTrue(largest <= 1 << 20, "never more than a megabyte around a read: " + largest);
        for (long[] l : srv.loads) {
            assertEquals(0, l[0] % bs, "loads start on a block");
        }
        int oneBlockEach = (16 << 20) / bs;
        assertTrue(srv.loads.size() < oneBlockEach / 2,
                srv.loads.size() + " loads, against " + oneBlockEach + " at one block per miss");
    }

    @Test
    void sparseRandomReadsLoadOneBlockPerMiss() throws Exception {
        int bs = 16 * 1024;
        FakeServer srv = new FakeServer(16 << 20, 5);
        PageCache c = new PageCache(64L << 20, bs, 8 * bs);
        int blocks = (16 << 20) / bs;
        for (int k = 1; k <= 300; k++) {
            long at = (k * 37L % blocks) * bs + 4096; // 300 blocks far apart, none read twice
            assertArrayEquals(srv.slice(at, 4096), read(c, 9, at, 4096, srv));
        }
        assertEquals(300, srv.loads.size());
        for (long[] l : srv.loads) {
            assertEquals(bs, l[1], "no read found a neighbour loaded: nothing is read around");
        }
    }

    @Test
    void aRecallStartsReadAroundAgainFromOneBlock() throws Exception {
        int bs = 16 * 1024;
        PageCache c = new PageCache(64L << 20, bs, 8 * bs);
        FakeServer srv = readEveryPageAtRandom(c, 4);
        c.invalidateFile(9);
        int before = srv.loads.size();
        assertArrayEquals(srv.slice(5L * bs + 4096, 4096), read(c, 9, 5L * bs + 4096, 4096, srv));
        assertEquals(before + 1, srv.loads.size());
        assertEquals(bs, srv.loads.get(before)[1], "the file is written elsewhere: load what is read");
    }

    @Test
    void shortReadAtEndOfFileAndNothingBeyond() throws Exception {
        FakeServer srv = new FakeServer(100_000, 2);
        PageCache c = new PageCache(64L << 20, BS, 0);
        assertArrayEquals(srv.slice(99_000, 1000), read(c, 1, 99_000, 4096, srv));
        assertEquals(0, read(c, 1, 200_000, 4096, srv).length);
        int loadsBefore = srv.loads.size();
        assertArrayEquals(srv.slice(99_500, 500), read(c, 1, 99_500, 8192, srv));
        assertEquals(loadsBefore, srv.loads.size(), "the short block also cached where the file ends");
    }

    @Test
    void invalidationDuringALoadKeepsItsBytesOutOfTheCache() throws Exception {
        FakeServer srv = new FakeServer(4 * BS, 3);
        PageCache c = new PageCache(64L << 20, BS, 0);
        srv.hold = true;
        ByteBuffer dst = ByteBuffer.allocate(4096);
        CompletableFuture<Integer> pending = c.read(9, 0, dst, srv);
        c.invalidate(9, 0, 4096);          // a recall arrives while the old bytes are on the wire
        srv.file[0] ^= 0x55;               // the server's copy has changed
        srv.hold = false;
        srv.held.get(0).complete(null);
        assertEquals(4096, pending.get(5, TimeUnit.SECONDS));
        assertEquals(srv.file[0], read(c, 9, 0, 1, srv)[0], "stale bytes were not cached");
        assertEquals(2, srv.loads.size());
    }

    /** A read after a recall must not be answered by a load that left the server before it. */
    @Test
    void aReadAfterAnInvalidationDoesNotJoinALoadFromBeforeIt() throws Exception {
        FakeServer srv = new FakeServer(2 * BS, 8);
        PageCache c = new PageCache(64L << 20, BS, 0);
        srv.hold = true;
        CompletableFuture<Integer> early = c.read(3, 0, ByteBuffer.allocate(4), srv);
        byte old = srv.file[0];
        srv.file[0] ^= 0x5a;               // the change...
        c.invalidate(3, 0, 4);             // ...and its recall, while the early load is on the wire
        srv.hold = false;
        ByteBuffer late = ByteBuffer.allocate(4);
        assertEquals(4, c.read(3, 0, late, srv).get(5, TimeUnit.SECONDS));
        assertEquals(srv.file[0], late.get(0), "the late read loaded again");
        assertEquals(2, srv.loads.size());
        srv.held.get(0).complete(null);
        assertEquals(4, early.get(5, TimeUnit.SECONDS));
        ByteBuffer again = ByteBuffer.allocate(4);
        c.read(3, 0, again, srv).get(5, TimeUnit.SECONDS);
        assertEquals(srv.file[0], again.get(0), "nor did the early load's old bytes get cached");
        assertTrue(old != srv.file[0]);
    }

    @Test
    void concurrentReadersOfALoadingBlockShareOneLoad() throws Exception {
        FakeServer srv = new FakeServer(2 * BS, 4);
        PageCache c = new PageCache(64L << 20, BS, 0);
        srv.hold = true;
        CompletableFuture<Integer> a = c.read(3, 0, ByteBuffer.allocate(100), srv);
        CompletableFuture<Integer> b = c.read(3, 50, ByteBuffer.allocate(100), srv);
        assertEquals(1, srv.loads.size());
        srv.held.get(0).complete(null);
        assertEquals(100, a.get(5, TimeUnit.SECONDS));
        assertEquals(100, b.get(5, TimeUnit.SECONDS));
    }

    @Test
    void failedLoadFailsTheReadAndIsRetriedNextTime() throws Exception {
        FakeServer srv = new FakeServer(BS, 5);
        PageCache c = new PageCache(64L << 20, BS, 0);
        BlockLoader failing = (p, o, l) -> CompletableFuture.failedFuture(new java.io.IOException("server gone"));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> c.read(4, 0, ByteBuffer.allocate(10), failing).get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("server gone"));
        assertArrayEquals(srv.slice(0, 10), read(c, 4, 0, 10, srv));
    }

    @Test
    void staysWithinItsByteBound() throws Exception {
        FakeServer srv = new FakeServer(64 * BS, 6);
        PageCache c = new PageCache(8L * BS + 1024, BS, 0);
        for (int i = 0; i < 64; i++) {
            read(c, 5, (long) i * BS, BS, srv);
        }
        long bytes = c.stats().bytes();
        assertTrue(bytes <= 8L * BS + 1024, "cache holds " + bytes);
        assertTrue(c.stats().evictions() > 0);
    }

    /** Every block's memory is back on the arena's free list once nothing caches, loads or reads it. */
    private static void assertNoBlockHeld(PageCache c) {
        c.invalidateAll();
        BlockArena a = c.arena();
        assertEquals(a.reserved(), (long) a.freeBlocks() * c.blockSize(), "a block is still referenced");
    }

    @Test
    void aWaitingReadCopiesOnItsOwnThreadAndLeavesNothingPinned() throws Exception {
        FakeServer srv = new FakeServer(5 * BS + 123, 12);
        PageCache c = new PageCache(64L << 20, BS, 2 * BS);
        ByteBuffer dst = ByteBuffer.allocateDirect(3 * BS);
        assertEquals(3 * BS, c.read(2, 10, dst, srv, TimeUnit.SECONDS.toNanos(5)));
        byte[] got = new byte[3 * BS];
        dst.flip().get(got);
        assertArrayEquals(srv.slice(10, 3 * BS), got);
        ByteBuffer tail = ByteBuffer.allocate(BS);
        assertEquals(100, c.read(2, 5L * BS + 23, tail, srv, TimeUnit.SECONDS.toNanos(5)), "short at end of file");
        assertNoBlockHeld(c);
    }

    @Test
    void aReadThatTimesOutReleasesItsBlocksWhenTheLoadEnds() throws Exception {
        FakeServer srv = new FakeServer(4 * BS, 13);
        PageCache c = new PageCache(64L << 20, BS, 0);
        srv.hold = true;
        assertThrows(java.util.concurrent.TimeoutException.class,
                () -> c.read(6, 0, ByteBuffer.allocate(2 * BS), srv, TimeUnit.MILLISECONDS.toNanos(20)));
        srv.hold = false;
        srv.held.get(0).complete(null);
        assertArrayEquals(srv.slice(0, 2 * BS), read(c, 6, 0, 2 * BS, srv), "the late load was cached all the same");
        assertEquals(1, srv.loads.size());
        assertNoBlockHeld(c);
    }

    /** A block evicted while a reader copies from it keeps its memory until that reader is done. */
    @Test
    void aPinnedBlockIsNotReusedUntilUnpinned() {
        BlockArena a = new BlockArena(BS);
        ByteBuffer mem = a.allocate();
        Block b = new Block(mem, BS, a);
        int free = a.freeBlocks();
        assertTrue(b.pin());
        b.unpin();                      // the creator's reference: the reader still holds one
        assertEquals(free, a.freeBlocks());
        b.unpin();
        assertEquals(free + 1, a.freeBlocks());
        assertTrue(!b.pin(), "a released block cannot be pinned again");
        assertThrows(IllegalStateException.class, b::unpin);
    }

    @Test
    void aLoadStoresAcrossBlockBoundaries() throws Exception {
        PageCache c = new PageCache(64L << 20, BS, 0);
        byte[] file = new byte[3 * BS];
        new Random(14).nextBytes(file);
        // A loader that stores in odd-sized pieces, as Treads of another iounit would.
        BlockLoader pieces = (p, o, into) -> {
            int at = 0;
            while (at < into.length()) {
                int n = Math.min(5000, into.length() - at);
                into.put(at, ByteBuffer.wrap(file, (int) o + at, n).slice());
                at += n;
            }
            return CompletableFuture.completedFuture(into.length());
        };
        ByteBuffer dst = ByteBuffer.allocate(3 * BS);
        assertEquals(3 * BS, c.read(8, 0, dst, pieces, TimeUnit.SECONDS.toNanos(5)));
        assertArrayEquals(file, dst.array());
        BlockLoader overflow = (p, o, into) -> {
            into.put(into.length() - 1, ByteBuffer.allocate(2));
            return CompletableFuture.completedFuture(into.length());
        };
        assertThrows(ExecutionException.class,
                () -> c.read(9, 0, ByteBuffer.allocate(10), overflow, TimeUnit.SECONDS.toNanos(5)));
        assertNoBlockHeld(c);
    }

    /** Out of direct memory: the read fails, its blocks are not left claimed, and later reads work. */
    @Test
    void aLoadWithoutMemoryFailsItsReadersAndLeavesNothingClaimed() throws Exception {
        FakeServer srv = new FakeServer(64 * BS, 16);
        PageCache c = new PageCache(64L << 20, BS, 0, new BlockArena(BS, 1 << 20)); // one slab: 16 blocks
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> c.read(5, 0, ByteBuffer.allocate(32 * BS), srv, TimeUnit.SECONDS.toNanos(5)));
        assertTrue(e.getCause() instanceof java.io.IOException, e.getCause().toString());
        c.invalidateAll();
        assertArrayEquals(srv.slice(0, 3 * BS), read(c, 5, 0, 3 * BS, srv), "the blocks of the failed load load again");
        assertNoBlockHeld(c);
    }

    /**
     * Readers on several threads, a cache of a few blocks (so blocks are evicted while others copy
     * from them) and invalidations: every read returns the file's bytes, and no block stays held.
     */
    @Test
    void concurrentReadersEvictionAndInvalidationAgreeWithTheFile() throws Exception {
        byte[] file = new byte[32 * BS];
        new Random(15).nextBytes(file);
        PageCache c = new PageCache(3L * BS, BS, 2 * BS);
        java.util.concurrent.ExecutorService loaders = java.util.concurrent.Executors.newFixedThreadPool(2);
        BlockLoader async = (p, o, into) -> CompletableFuture.supplyAsync(() -> {
            int n = (int) Math.max(0, Math.min(into.length(), file.length - o));
            if (n > 0) {
                // Readahead may ask past the end of the file: a server answers that with 0 bytes.
                into.put(0, ByteBuffer.wrap(file, (int) o, n).slice());
            }
            return n;
        }, loaders);
        java.util.concurrent.ExecutorService readers = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long seed = t;
                done.add(readers.submit(() -> {
                    Random rnd = new Random(seed);
                    for (int i = 0; i < 300; i++) {
                        long off = rnd.nextInt(file.length);
                        int len = 1 + rnd.nextInt(2 * BS);
                        ByteBuffer dst = ByteBuffer.allocate(len);
                        int n = c.read(1, off, dst, async, TimeUnit.SECONDS.toNanos(10));
                        byte[] want = Arrays.copyOfRange(file, (int) off, (int) Math.min(file.length, off + len));
                        assertArrayEquals(want, Arrays.copyOf(dst.array(), n));
                        if (i % 50 == 0) {
                            c.invalidate(1, off, len);
                        }
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            readers.shutdownNow();
            loaders.shutdown();
            assertTrue(loaders.awaitTermination(10, TimeUnit.SECONDS));
        }
        assertNoBlockHeld(c);
    }

    /** Random reads, writes (server-side change followed by invalidation) and truncations agree with the file. */
    @Property(tries = 60)
    void readsAlwaysMatchTheServerAfterInvalidation(@ForAll long seed, @ForAll @IntRange(min = 1, max = 5) int readaheadBlocks) throws Exception {
        Random rnd = new Random(seed);
        FakeServer srv = new FakeServer(rnd.nextInt(6 * BS), seed);
        PageCache c = new PageCache(4L * BS, BS, readaheadBlocks * BS);
        for (int step = 0; step < 60; step++) {
            int op = rnd.nextInt(10);
            if (op < 6) {
                long off = rnd.nextInt(7 * BS);
                int len = 1 + rnd.nextInt(3 * BS);
                assertArrayEquals(srv.slice(off, len), read(c, 11, off, len, srv), "step " + step);
            } else if (op < 9) {
                int off = rnd.nextInt(7 * BS);
                int len = 1 + rnd.nextInt(BS);
                byte[] grown = Arrays.copyOf(srv.file, Math.max(srv.file.length, off + len));
                for (int i = off; i < off + len; i++) {
                    grown[i] = (byte) rnd.nextInt();
                }
                srv.file = grown;
                c.invalidate(11, off, len);
            } else {
                int size = rnd.nextInt(7 * BS);
                srv.file = Arrays.copyOf(srv.file, size);
                c.invalidate(11, size, 0);
            }
        }
        assertNoBlockHeld(c);
    }
}
