package io.c9fs.cache;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bytes of one cached block, in direct memory of a {@link BlockArena}, immutable once loaded.
 * {@code length} is below the block size only for the block holding end of file, so a short
 * block also caches "EOF is here".
 *
 * <p>Its memory goes back to the arena when the last reference is dropped, and is then reused for
 * other blocks: whoever copies bytes out must hold a reference ({@link #pin}) for the whole copy.
 * References: the load that filled the block, until it has handed the block to its waiters; the
 * cache, from put until removal; each reader, from {@link #pin} to {@link #unpin}. A block whose
 * count reached zero cannot be pinned again.
 */
final class Block {
    private final ByteBuffer data;
    private final int length;
    private final BlockArena arena;
    private final AtomicInteger refs = new AtomicInteger(1);

    /** A block holding {@code length} bytes of {@code data} (null when empty); one reference, the creator's. */
    Block(ByteBuffer data, int length, BlockArena arena) {
        this.data = data;
        this.length = length;
        this.arena = arena;
    }

    int length() {
        return length;
    }

    /** Takes a reference; false if the block was already released (its memory may be another block's now). */
    boolean pin() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) {
                return false;
            }
            if (refs.compareAndSet(r, r + 1)) {
                return true;
            }
        }
    }

    void unpin() {
        int r = refs.decrementAndGet();
        if (r == 0) {
            if (data != null) {
                arena.free(data);
            }
        } else if (r < 0) {
            throw new IllegalStateException("block released twice");
        }
    }

    /** Copies {@code n} bytes from {@code within} to {@code dst} at its position, which advances. Hold a pin. */
    void copyTo(int within, ByteBuffer dst, int n) {
        int at = dst.position();
        dst.put(at, data, within, n);
        dst.position(at + n);
    }

    int weight() {
        // The whole slot of arena memory, short or not, plus the objects around it.
        return (data == null ? 0 : data.capacity()) + 96;
    }
}
