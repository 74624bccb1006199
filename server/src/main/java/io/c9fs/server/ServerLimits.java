package io.c9fs.server;

import io.c9fs.transport.proto.Message;

/**
 * Per-connection limits: fids a client may hold, requests it may have in flight before the
 * server stops reading its socket (backpressure, not errors), and the largest msize granted.
 */
public record ServerLimits(int maxFids, int maxInFlight, int maxMsize) {
    public ServerLimits {
        if (maxFids < 1 || maxInFlight < 1 || maxMsize < 4096) {
            throw new IllegalArgumentException("limits too small");
        }
    }

    /**
     * 65536 fids (a client holds one per inode its kernel caches: `ls -l` of a large directory
     * takes one per entry, as with diod), 256 requests in flight, msize 1 MiB of data plus the I/O
     * header.
     */
    public static ServerLimits defaults() {
        return new ServerLimits(1 << 16, 256, (1 << 20) + Message.IOHDRSZ);
    }
}
