package io.c9fs.transport.client;

import io.c9fs.transport.proto.Message;

/**
 * Fid numbers of one connection: freed fids are reused first (LIFO, keeping the server's fid
 * table small), fresh ones count up from 0 and never reach NOFID. Thread-safe (synchronized).
 */
final class FidPool {
    private int[] free = new int[64];
    private int nfree;
    private int next;

    synchronized int alloc() {
        if (nfree > 0) {
            return free[--nfree];
        }
        if (next == Message.NOFID) {
            throw new IllegalStateException("all 2^32-1 fids in use");
        }
        return next++;
    }

    synchronized void free(int fid) {
        if (fid == Message.NOFID) {
            throw new IllegalArgumentException("NOFID is not an allocated fid");
        }
        if (nfree == free.length) {
            free = java.util.Arrays.copyOf(free, nfree * 2);
        }
        free[nfree++] = fid;
    }
}
