package io.c9fs.cache;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct memory for the page cache's blocks, outside the Java heap: a cache of a few hundred
 * megabytes of small arrays on the heap had the collector copying and marking them over and
 * over, and every load zeroed fresh arrays. Memory is taken from the JVM in slabs of several
 * blocks and handed out block by block; a freed block goes to a free list for the next load,
 * never back to the JVM, so the arena's size is the largest the cache plus the loads in flight
 * and the readers' pins ever needed at once.
 *
 * <p>Threads: any; lock-free.
 */
final class BlockArena {
    private static final int SLAB_BYTES = 1 << 20;

    private final int blockSize;
    private final int perSlab;
    private final ConcurrentLinkedQueue<ByteBuffer> free = new ConcurrentLinkedQueue<>();
    private final AtomicLong reserved = new AtomicLong();

    private final long limit;

    BlockArena(int blockSize) {
        this(blockSize, Long.MAX_VALUE);
    }

    /** An arena that takes at most {@code limit} bytes from the JVM (tests; the JVM's own bound otherwise). */
    BlockArena(int blockSize, long limit) {
        this.blockSize = blockSize;
        this.perSlab = Math.max(1, SLAB_BYTES / blockSize);
        this.limit = limit;
    }

    /**
     * A block's worth of memory, position 0 and limit the block size; its bytes are whatever was there.
     *
     * @throws OutOfMemoryError when the JVM's direct memory (or this arena's limit) is exhausted
     */
    ByteBuffer allocate() {
        ByteBuffer b = free.poll();
        if (b == null) {
            if (reserved.get() + (long) perSlab * blockSize > limit) {
                throw new OutOfMemoryError("block arena limit of " + limit + " bytes");
            }
            ByteBuffer slab = ByteBuffer.allocateDirect(perSlab * blockSize);
            reserved.addAndGet(slab.capacity());
            for (int i = 1; i < perSlab; i++) {
                free.add(slab.slice(i * blockSize, blockSize));
            }
            b = slab.slice(0, blockSize);
        }
        return b;
    }

    void free(ByteBuffer b) {
        free.add(b);
    }

    /** Blocks on the free list (counts them: for tests). */
    int freeBlocks() {
        return free.size();
    }

    /** Bytes of direct memory taken from the JVM so far. */
    long reserved() {
        return reserved.get();
    }
}
