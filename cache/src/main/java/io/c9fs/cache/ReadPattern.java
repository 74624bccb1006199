package io.c9fs.cache;

/**
 * How one file is being read, which decides what a miss loads besides the blocks it needs:
 * readahead past a sequential reader, and read-around, an aligned unit of blocks, for a random
 * one.
 *
 * <p><b>Read-around.</b> A random miss costs a round trip, and on a link where a round trip
 * moves far more than a block (loopback: about 250 us against 25 us for 64 KiB) the blocks
 * beside the missing one cost little more once the trip is paid, if they are read later. A
 * random reader of a large file touches few of them (a database's pages, an index lookup); a
 * reader that faults many pages of a mapping in random order touches most. Which it is shows in
 * how many of its random reads find their block already loaded: after every {@link #WINDOW}
 * random reads, if a quarter or more were hits the unit doubles (up to the cap), if fewer than
 * an eighth it halves (down to one block). The sparse reader stays at one block per miss; the
 * dense one soon loads a megabyte per miss, the readahead's size. It is Linux's read-around of
 * a mapping, turned on by evidence instead of off by MADV_RANDOM, which a FUSE daemon never
 * sees.
 *
 * <p>After a recall the file is being written elsewhere: the next read is random whatever its
 * offset, and read-around starts again from one block, so neither readahead nor read-around
 * pulls in, and recalls the writer's pages for, bytes nobody asked for.
 *
 * <p>Threads: any reader of the file; a few field updates under the monitor, never held while
 * anything loads.
 */
final class ReadPattern {
    /** Random reads between two decisions on the read-around unit. */
    static final int WINDOW = 16;

    private long lastEnd = -1;
    private boolean afterRecall;
    private int around = 1;
    private int reads;
    private int hits;

    /**
     * True if a read of {@code length} bytes at {@code offset} continues the previous one within
     * {@code window} bytes either way (the kernel's concurrent readahead arrives out of order),
     * or is the first read and starts the file; records where it ends.
     */
    synchronized boolean sequential(long offset, int length, long window) {
        long before = lastEnd;
        boolean recalled = afterRecall;
        lastEnd = offset + length;
        afterRecall = false;
        if (recalled) {
            return false;
        }
        if (before < 0) {
            return offset == 0;
        }
        return offset >= before - window && offset <= before + window;
    }

    /** The read-around unit, in blocks: a power of two. */
    synchronized int around() {
        return around;
    }

    /**
     * Counts a random read: a hit if every block it needed was cached or already loading. At the
     * end of a window, grows or shrinks the unit (at most {@code max} blocks).
     */
    synchronized void random(boolean hit, int max) {
        reads++;
        if (hit) {
            hits++;
        }
        if (reads < WINDOW) {
            return;
        }
        if (hits * 4 >= reads) {
            around = Math.min(around * 2, max);
        } else if (hits * 8 < reads) {
            around = Math.max(around / 2, 1);
        }
        reads = 0;
        hits = 0;
    }

    /** The file was invalidated (a recall, a write): start over as described above. */
    synchronized void recalled() {
        afterRecall = true;
        around = 1;
        reads = 0;
        hits = 0;
    }
}
