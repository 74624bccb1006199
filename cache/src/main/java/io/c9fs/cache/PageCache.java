package io.c9fs.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
    private static final byte[] EMPTY = new byte[0];
    private static final long AFTER_RECALL = -1;

    private final int blockSize;
    private final int readaheadBlocks;
    private final Cache<BlockKey, Block> blocks;
    private final ConcurrentHashMap<BlockKey, CompletableFuture<Block>> loading = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, AtomicLong> generations = new ConcurrentHashMap<>();
    /** The indexes of each file's cached short blocks: where it ends, and empty ones past that. */
    private final ConcurrentHashMap<Long, java.util.Set<Long>> shortBlocks = new ConcurrentHashMap<>();
    /**
     * Where each file's last read ended, to tell sequential reads from random ones; after an
     * invalidation, {@link #AFTER_RECALL}: the first read of a recalled range fetches just what it
     * needs, since the file is being written elsewhere (and a readahead window of reads would
     * each recall the writer's pages again).
     */
    private final ConcurrentHashMap<Long, Long> lastEnds = new ConcurrentHashMap<>();

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
        if (blockSize < 4096 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two >= 4096: " + blockSize);
        }
        if (maxBytes < blockSize) {
            throw new IllegalArgumentException("cache smaller than one block: " + maxBytes);
        }
        this.blockSize = blockSize;
        this.readaheadBlocks = Math.max(0, readaheadBytes / blockSize);
        this.blocks = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((BlockKey k, Block b) -> b.weight())
                // Removal bookkeeping is two counter updates: run it inline rather than on the common pool.
                .executor(Runnable::run)
                .removalListener((BlockKey k, Block b, RemovalCause cause) -> {
                    if (cause.wasEvicted()) {
                        evictions.increment();
                    }
                })
                .build();
    }

    public int blockSize() {
        return blockSize;
    }

    /**
     * Reads up to {@code dst.remaining()} bytes of file {@code path} at {@code offset} into
     * {@code dst}, from the cache where it can and through {@code loader} where it must. The
     * future yields the number of bytes copied; fewer than asked means end of file was reached.
     */
    public CompletableFuture<Integer> read(long path, long offset, ByteBuffer dst, BlockLoader loader) {
        int length = dst.remaining();
        if (length == 0) {
            return CompletableFuture.completedFuture(0);
        }
        long first = offset / blockSize;
        long last = (offset + length - 1) / blockSize;
        boolean sequential = sequential(path, offset, length);
        List<CompletableFuture<Block>> parts = new ArrayList<>((int) (last - first + 1));
        Run run = new Run(path, loader);
        for (long i = first; i <= last; i++) {
            BlockKey key = new BlockKey(path, i);
            Block cached = blocks.getIfPresent(key);
            if (cached != null) {
                hits.increment();
                run.start();
                parts.add(CompletableFuture.completedFuture(cached));
                if (cached.length() < blockSize) {
                    break; // end of file is in this block
                }
                continue;
            }
            misses.increment();
            CompletableFuture<Block> mine = new CompletableFuture<>();
            CompletableFuture<Block> theirs = loading.putIfAbsent(key, mine);
            if (theirs != null) {
                run.start();
                parts.add(theirs);
            } else {
                run.add(i, mine);
                parts.add(mine);
            }
        }
        if (sequential) {
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
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
                .thenApply(v -> copyOut(parts, offset, dst));
    }

    /**
     * True if this read continues the file's previous one (allowing the reordering of the kernel's
     * concurrent readahead), and records where it ends. Random reads (mmap faults under
     * MADV_RANDOM, databases) load only the blocks they touch: reading a megabyte ahead of every
     * 4 KiB fault would multiply their cost.
     */
    private boolean sequential(long path, long offset, int length) {
        Long before = lastEnds.put(path, offset + length);
        if (before == null) {
            return offset == 0;
        }
        if (before == AFTER_RECALL) {
            return false;
        }
        long window = (readaheadBlocks + 1) * (long) blockSize;
        return offset >= before - window && offset <= before + window;
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
            CompletableFuture<byte[]> load;
            try {
                load = loader.load(path, first * blockSize, mine.size() * blockSize);
            } catch (RuntimeException e) {
                load = CompletableFuture.failedFuture(e);
            }
            load.whenComplete((data, err) -> finishLoad(path, first, mine, gen, data, err));
        }
    }

    private void finishLoad(long path, long start, List<CompletableFuture<Block>> mine, long gen,
                            byte[] data, Throwable err) {
        if (err == null) {
            bytesLoaded.add(data.length);
        }
        AtomicLong generation = generation(path);
        for (int k = 0; k < mine.size(); k++) {
            BlockKey key = new BlockKey(path, start + k);
            CompletableFuture<Block> f = mine.get(k);
            if (err != null) {
                loading.remove(key, f);
                f.completeExceptionally(err);
                continue;
            }
            int from = k * blockSize;
            int len = Math.max(0, Math.min(blockSize, data.length - from));
            byte[] copy = len == 0 ? EMPTY : Arrays.copyOfRange(data, from, from + len);
            Block b = new Block(copy, len);
            if (generation.get() == gen) {
                if (len < blockSize) {
                    shortBlocks.computeIfAbsent(path, p -> ConcurrentHashMap.newKeySet()).add(start + k);
                }
                blocks.put(key, b);
                // An invalidation bumps the generation before it removes blocks: if it ran
                // between the check and the put, it may have missed this block, so look again.
                if (generation.get() != gen) {
                    blocks.invalidate(key);
                }
            }
            loading.remove(key, f);
            f.complete(b);
        }
    }

    private int copyOut(List<CompletableFuture<Block>> parts, long offset, ByteBuffer dst) {
        int copied = 0;
        long pos = offset;
        for (CompletableFuture<Block> p : parts) {
            if (!dst.hasRemaining()) {
                break;
            }
            Block b = p.join();
            long blockStart = (pos / blockSize) * blockSize;
            int within = (int) (pos - blockStart);
            if (within >= b.length()) {
                break; // end of file
            }
            int n = Math.min(b.length() - within, dst.remaining());
            dst.put(b.data(), within, n);
            copied += n;
            pos += n;
            if (b.length() < blockSize) {
                break;
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
        lastEnds.put(path, AFTER_RECALL);
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
