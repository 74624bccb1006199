package io.c9fs.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The client's page cache of file data, shared by every handle and process of a mount: blocks of
 * {@code blockSize} bytes keyed by (qid.path, block index), bounded in bytes (Caffeine's
 * size-based eviction by weight).
 *
 * <p>Reads that miss are filled by a {@link BlockLoader} in runs of contiguous missing blocks,
 * extended by readahead, so one kernel READ of 128 KiB becomes one 9P read of up to
 * {@code readaheadBytes}. Concurrent readers of a block being loaded wait for the same load
 * instead of issuing their own.
 *
 * <p>The cache holds clean data only. Writes pass through to the server and then
 * {@link #invalidate} the blocks they touch; dirty bytes never live here, so eviction never
 * loses data and never has to wait on the network.
 *
 * <p><b>Invalidation races.</b> Each file has a generation, bumped by every invalidation before
 * its blocks are removed. A load records the generation when it starts and caches its result only
 * if the generation is unchanged when it completes: bytes read from the server before a recall
 * was processed can never be cached after it. Readers that were already waiting still receive
 * those bytes; their read overlapped the change, so either answer is linearizable.
 *
 * <p>A generation is one small object per file ever read, kept for the life of the cache:
 * dropping it while a load is in flight would let that load cache stale bytes.
 *
 * <p><b>Threads.</b> Every method may be called from any thread. No lock of this class is held
 * while a loader runs or while a caller's future completes. Loads complete on the loader's
 * thread (for 9P, a Netty event loop), which only copies bytes and completes futures.
 */
public final class PageCache {
    /**
     * The largest read-around unit ({@link ReadPattern}): a megabyte, one Tread at the mounts'
     * msize, as much as a round trip of loopback or a LAN carries in about its own time.
     */
    private static final int MAX_AROUND_BYTES = 1 << 20;

    private final int blockSize;
    private final int readaheadBlocks;
    private final int maxAround;
    private final BlockArena arena;
    private final Cache<BlockKey, Block> blocks;
    private final ConcurrentHashMap<BlockKey, CompletableFuture<Block>> loading = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, AtomicLong> generations = new ConcurrentHashMap<>();
    /** The indexes of each file's cached short blocks: where it ends, and empty ones past that. */
    private final ConcurrentHashMap<Long, java.util.Set<Long>> shortBlocks = new ConcurrentHashMap<>();
    /** How each file is being read: sequential or random, and its read-around unit. */
    private final ConcurrentHashMap<Long, ReadPattern> patterns = new ConcurrentHashMap<>();

    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder loads = new LongAdder();
    private final LongAdder bytesLoaded = new LongAdder();
    private final LongAdder evictions = new LongAdder();

    /**
     * @param maxBytes       bound on the bytes of cached blocks
     * @param blockSize      bytes per block, a power of two and a multiple of 4096
     * @param readaheadBytes how far past a miss to read in the same load (0: no readahead)
     */
    public PageCache(long maxBytes, int blockSize, int readaheadBytes) {
        this(maxBytes, blockSize, readaheadBytes, new BlockArena(blockSize));
    }

    PageCache(long maxBytes, int blockSize, int readaheadBytes, BlockArena arena) {
        if (blockSize < 4096 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two >= 4096: " + blockSize);
        }
        if (maxBytes < blockSize) {
            throw new IllegalArgumentException("cache smaller than one block: " + maxBytes);
        }
        this.blockSize = blockSize;
        this.readaheadBlocks = Math.max(0, readaheadBytes / blockSize);
        this.maxAround = Math.max(1, MAX_AROUND_BYTES / blockSize);
        this.arena = arena;
        this.blocks = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((BlockKey k, Block b) -> b.weight())
                // Removal bookkeeping is two counter updates: run it inline rather than on the common pool.
                .executor(Runnable::run)
                .removalListener((BlockKey k, Block b, RemovalCause cause) -> {
                    if (cause.wasEvicted()) {
                        evictions.increment();
                    }
                    b.unpin();
                })
                .build();
    }

    /** The blocks' memory (tests check that every block comes back). */
    BlockArena arena() {
        return arena;
    }

    public int blockSize() {
        return blockSize;
    }

    /**
     * Reads up to {@code dst.remaining()} bytes of file {@code path} at {@code offset} into
     * {@code dst}, from the cache where it can and through {@code loader} where it must. The
     * future yields the number of bytes copied; fewer than asked means end of file was reached.
     * The bytes are copied on the thread that completes the last load (for 9P, an event loop):
     * a caller that waits anyway should use {@link #read(long, long, ByteBuffer, BlockLoader, long)}.
     */
    public CompletableFuture<Integer> read(long path, long offset, ByteBuffer dst, BlockLoader loader) {
        if (!dst.hasRemaining()) {
            return CompletableFuture.completedFuture(0);
        }
        List<CompletableFuture<Block>> parts = pinned(path, offset, dst.remaining(), loader);
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            if (err != null) {
                release(parts);
                throw err instanceof CompletionException ce ? ce : new CompletionException(err);
            }
            return copyOut(parts, offset, dst);
        });
    }

    /**
     * {@link #read(long, long, ByteBuffer, BlockLoader)} for a caller that waits: the bytes are
     * copied on the calling thread, not on the loader's, which stays free to receive the next
     * loads. Waits at most {@code timeoutNanos}.
     *
     * @throws ExecutionException   a load failed (its cause)
     * @throws TimeoutException     the loads took longer; they go on and are cached when done
     * @throws InterruptedException the caller was interrupted
     */
    public int read(long path, long offset, ByteBuffer dst, BlockLoader loader, long timeoutNanos)
            throws ExecutionException, TimeoutException, InterruptedException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        List<CompletableFuture<Block>> parts = pinned(path, offset, dst.remaining(), loader);
        try {
            CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (ExecutionException | TimeoutException | InterruptedException e) {
            release(parts);
            throw e;
        }
        return copyOut(parts, offset, dst);
    }

    /**
     * The blocks covering {@code length} bytes at {@code offset}, each pinned for this reader once
     * its future completes, starting the loads they (and readahead) need.
     */
    private List<CompletableFuture<Block>> pinned(long path, long offset, int length, BlockLoader loader) {
        long first = offset / blockSize;
        long last = (offset + length - 1) / blockSize;
        ReadPattern pattern = patterns.computeIfAbsent(path, p -> new ReadPattern());
        boolean sequential = pattern.sequential(offset, length, (readaheadBlocks + 1) * (long) blockSize);
        // Read-around of a random read: the aligned unit around the blocks it needs.
        long lo = first;
        long hi = last;
        if (!sequential) {
            int around = pattern.around();
            lo = Math.min(first, first / around * around);
            hi = Math.max(last, (last / around + 1) * around - 1);
        }
        List<CompletableFuture<Block>> parts = new ArrayList<>((int) (last - first + 1));
        Run run = new Run(path, loader);
        boolean hit = true;
        for (long i = lo; i <= hi; i++) {
            BlockKey key = new BlockKey(path, i);
            if (i < first || i > last) {
                // Around the read: loaded in its run if nobody has it or loads it, not waited for.
                CompletableFuture<Block> around;
                if (blocks.getIfPresent(key) != null || loading.containsKey(key)
                        || loading.putIfAbsent(key, around = new CompletableFuture<>()) != null) {
                    run.start();
                } else {
                    run.add(i, around);
                }
                continue;
            }
            CompletableFuture<Block> part = null;
            while (part == null) {
                Block cached = blocks.getIfPresent(key);
                if (cached != null && cached.pin()) {
                    hits.increment();
                    run.start();
                    part = CompletableFuture.completedFuture(cached);
                    break;
                }
                CompletableFuture<Block> mine = new CompletableFuture<>();
                CompletableFuture<Block> theirs = loading.putIfAbsent(key, mine);
                if (theirs == null) {
                    misses.increment();
                    hit = false;
                    run.add(i, mine);
                    part = mine.thenApply(PageCache::pinOrNull);
                    break;
                }
                run.start();
                part = theirs.thenApply(PageCache::pinOrNull);
                if (part.isDone() && !part.isCompletedExceptionally() && part.join() == null) {
                    // Their load was over before we came, and the block has been evicted since:
                    // its memory may be another block's. Forget the finished load and look again.
                    loading.remove(key, theirs);
                    part = null;
                } else {
                    misses.increment();
                }
            }
            parts.add(part);
            if (part.isDone() && !part.isCompletedExceptionally() && part.join().length() < blockSize) {
                break; // end of file is in this block
            }
        }
        if (!sequential) {
            pattern.random(hit, maxAround);
        } else {
            // Readahead, also when every block was a hit: keep readaheadBytes loaded or loading
            // past the reader, so a sequential reader finds its blocks there instead of waiting
            // a round trip at each window's end. One run: contiguous blocks nobody has or loads.
            boolean claimed = !run.isEmpty();
            for (long i = last + 1; i <= last + readaheadBlocks; i++) {
                BlockKey key = new BlockKey(path, i);
                boolean present = blocks.getIfPresent(key) != null || loading.containsKey(key);
                if (present) {
                    if (claimed) {
                        break;
                    }
                    continue;
                }
                CompletableFuture<Block> ahead = new CompletableFuture<>();
                if (loading.putIfAbsent(key, ahead) != null) {
                    break;
                }
                run.add(i, ahead);
                claimed = true;
            }
        }
        run.start();
        return parts;
    }

    /**
     * A reader's pin on a block its future yielded. Runs on the loading thread while the load
     * still holds its reference (so it cannot fail there), or on the reader's thread if the load
     * was already over, when the block may have gone: null then.
     */
    private static Block pinOrNull(Block b) {
        return b.pin() ? b : null;
    }

    /** Drops this reader's pins, now for the parts that are done and later for the others. */
    private static void release(List<CompletableFuture<Block>> parts) {
        for (CompletableFuture<Block> p : parts) {
            p.thenAccept(b -> {
                if (b != null) {
                    b.unpin();
                }
            });
        }
    }

    /** Contiguous blocks claimed in {@link #loading} by one reader, loaded with one loader call. */
    private final class Run {
        private final long path;
        private final BlockLoader loader;
        private long start = -1;
        private List<CompletableFuture<Block>> claimed = new ArrayList<>();

        Run(long path, BlockLoader loader) {
            this.path = path;
            this.loader = loader;
        }

        boolean isEmpty() {
            return claimed.isEmpty();
        }

        void add(long index, CompletableFuture<Block> f) {
            if (claimed.isEmpty()) {
                start = index;
            }
            claimed.add(f);
        }

        /** Issues the load of the blocks claimed so far, if any, and begins a new run. */
        void start() {
            if (claimed.isEmpty()) {
                return;
            }
            List<CompletableFuture<Block>> mine = claimed;
            long first = start;
            claimed = new ArrayList<>();
            start = -1;
            long gen = generation(path).get();
            loads.increment();
            ByteBuffer[] memory = new ByteBuffer[mine.size()];
            CompletableFuture<Integer> load;
            try {
                for (int k = 0; k < memory.length; k++) {
                    memory[k] = arena.allocate();
                }
            } catch (OutOfMemoryError e) {
                // Direct memory exhausted (-XX:MaxDirectMemorySize): fail these blocks' readers
                // now rather than leave their loads claimed and never finished.
                for (int k = 0; k < memory.length && memory[k] != null; k++) {
                    arena.free(memory[k]);
                }
                failLoad(path, first, mine, new java.io.IOException("page cache: " + e.getMessage()));
                return;
            }
            try {
                load = loader.load(path, first * blockSize, new Blocks(memory));
            } catch (RuntimeException e) {
                load = CompletableFuture.failedFuture(e);
            }
            load.whenComplete((count, err) -> finishLoad(path, first, mine, gen, memory, count, err));
        }
    }

    /** The blocks of one load, seen by the loader as one range of bytes. */
    private final class Blocks implements BlockLoader.Destination {
        private final ByteBuffer[] memory;

        Blocks(ByteBuffer[] memory) {
            this.memory = memory;
        }

        @Override
        public int length() {
            return memory.length * blockSize;
        }

        @Override
        public void put(int at, ByteBuffer src) {
            int n = src.remaining();
            if (at < 0 || n > length() - at) {
                throw new IndexOutOfBoundsException(n + " bytes at " + at + " of " + length());
            }
            int from = src.position();
            while (n > 0) {
                int within = at % blockSize;
                int step = Math.min(n, blockSize - within);
                memory[at / blockSize].put(within, src, from, step);
                at += step;
                from += step;
                n -= step;
            }
        }
    }

    private void failLoad(long path, long start, List<CompletableFuture<Block>> mine, Throwable err) {
        for (int k = 0; k < mine.size(); k++) {
            loading.remove(new BlockKey(path, start + k), mine.get(k));
            mine.get(k).completeExceptionally(err);
        }
    }

    private void finishLoad(long path, long start, List<CompletableFuture<Block>> mine, long gen,
                            ByteBuffer[] memory, Integer count, Throwable err) {
        if (err == null) {
            bytesLoaded.add(count);
        }
        AtomicLong generation = generation(path);
        for (int k = 0; k < mine.size(); k++) {
            BlockKey key = new BlockKey(path, start + k);
            CompletableFuture<Block> f = mine.get(k);
            if (err != null) {
                arena.free(memory[k]);
                loading.remove(key, f);
                f.completeExceptionally(err);
                continue;
            }
            int len = Math.max(0, Math.min(blockSize, count - k * blockSize));
            Block b;
            if (len == 0) {
                arena.free(memory[k]);
                b = new Block(null, 0, arena);
            } else {
                b = new Block(memory[k], len, arena);
            }
            if (generation.get() == gen) {
                if (len < blockSize) {
                    shortBlocks.computeIfAbsent(path, p -> ConcurrentHashMap.newKeySet()).add(start + k);
                }
                b.pin(); // the cache's reference, dropped by the removal listener
                blocks.put(key, b);
                // An invalidation bumps the generation before it removes blocks: if it ran
                // between the check and the put, it may have missed this block, so look again.
                if (generation.get() != gen) {
                    blocks.invalidate(key);
                }
            }
            loading.remove(key, f);
            // Waiters pin the block here, on this thread, while the load's reference holds it.
            f.complete(b);
            b.unpin();
        }
    }

    /** Copies the parts' bytes to {@code dst} and drops this reader's pins on them. */
    private int copyOut(List<CompletableFuture<Block>> parts, long offset, ByteBuffer dst) {
        int copied = 0;
        long pos = offset;
        boolean ended = false;
        for (CompletableFuture<Block> p : parts) {
            Block b = p.join();
            try {
                if (ended || !dst.hasRemaining()) {
                    continue;
                }
                long blockStart = (pos / blockSize) * blockSize;
                int within = (int) (pos - blockStart);
                if (within >= b.length()) {
                    ended = true; // end of file
                    continue;
                }
                int n = Math.min(b.length() - within, dst.remaining());
                b.copyTo(within, dst, n);
                copied += n;
                pos += n;
                ended = b.length() < blockSize;
            } finally {
                b.unpin();
            }
        }
        return copied;
    }

    /**
     * Drops the cached blocks of {@code path} that overlap [{@code offset}, {@code offset + length});
     * {@code length} 0 means to end of file. Loads in flight for the file will not be cached.
     */
    public void invalidate(long path, long offset, long length) {
        generation(path).incrementAndGet();
        patterns.computeIfAbsent(path, p -> new ReadPattern()).recalled();
        long first = offset / blockSize;
        long last = length == 0 ? Long.MAX_VALUE : (offset + length - 1) / blockSize;
        // Loads in flight are forgotten too: a reader that comes after this invalidation must start
        // its own load, not wait for bytes that left the server before it (those readers that
        // already wait still get them: their read overlapped the change).
        loading.keySet().removeIf(k -> k.path() == path && k.index() >= first && k.index() <= last);
        if (last - first < 64) {
            for (long i = first; i <= last; i++) {
                blocks.invalidate(new BlockKey(path, i));
            }
        } else {
            blocks.asMap().keySet().removeIf(k -> k.path() == path && k.index() >= first && k.index() <= last);
        }
        // A block cached as "short" (end of file) before a write or extend further on is no
        // longer where the file ends: drop it too.
        java.util.Set<Long> eof = shortBlocks.remove(path);
        if (eof != null) {
            eof.forEach(i -> blocks.invalidate(new BlockKey(path, i)));
        }
    }

    /** Drops every cached block of every file; loads in flight will not be cached. */
    public void invalidateAll() {
        generations.values().forEach(AtomicLong::incrementAndGet);
        loading.clear();
        blocks.invalidateAll();
    }

    /** Drops every cached block of {@code path}. */
    public void invalidateFile(long path) {
        invalidate(path, 0, 0);
    }

    private AtomicLong generation(long path) {
        return generations.computeIfAbsent(path, p -> new AtomicLong());
    }

    public Stats stats() {
        return new Stats(blocks.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L),
                hits.sum(), misses.sum(), loads.sum(), bytesLoaded.sum(), evictions.sum());
    }

    /** Counters for {@code c9fs stats}. */
    public record Stats(long bytes, long hits, long misses, long loads, long bytesLoaded, long evictions) {
        public double hitRatio() {
            long total = hits + misses;
            return total == 0 ? 0 : (double) hits / total;
        }
    }
}
