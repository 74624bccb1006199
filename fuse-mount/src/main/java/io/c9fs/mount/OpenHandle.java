package io.c9fs.mount;

import io.c9fs.transport.proto.Dirent;
import java.util.List;

/**
 * One FUSE file handle: an opened fid of its own (9P opens are per fid, and a handle's fid is
 * clunked at RELEASE), the iounit the server gave for it, and for directories the batch of
 * entries fetched but not yet taken by the kernel.
 *
 * <p>Threads: the immutable fields from any worker. The directory cursor is guarded by the handle's
 * monitor (the kernel may send READDIRs on one handle from several threads); no 9P round trip is
 * made under it.
 */
final class OpenHandle {
    final long fh;
    final Node node;
    final int fid;
    /** Largest payload of one Tread/Twrite on this fid. */
    final int chunk;
    /** Opened for writing: holds the file's write lease until RELEASE. Set before the open returns. */
    volatile boolean writer;
    /** The node's write-back error count this handle has reported (errseq: from its open on). */
    final java.util.concurrent.atomic.AtomicLong wbSeen;

    private List<Dirent> batch = List.of();
    private List<io.c9fs.transport.proto.Message.AttrDirent> attrBatch = List.of();
    private int attrPos;
    private long attrCookie = -1;
    private int batchPos;
    /** The cookie the kernel passes to continue at batch[batchPos]. */
    private long batchCookie = -1;

    OpenHandle(long fh, Node node, int fid, int chunk) {
        this.fh = fh;
        this.node = node;
        this.fid = fid;
        this.chunk = chunk;
        this.wbSeen = new java.util.concurrent.atomic.AtomicLong(node.wbErrSeq.get());
    }

    /** The errno of a write-back failure this handle has not reported yet (and marks it reported), or 0. */
    int takeWritebackError() {
        long now = node.wbErrSeq.get();
        long seen = wbSeen.get();
        if (now != seen && wbSeen.compareAndSet(seen, now)) {
            return node.wbErrno;
        }
        return 0;
    }

    /** As {@link #pending}, for the entries of a Treaddirattr. */
    synchronized List<io.c9fs.transport.proto.Message.AttrDirent> pendingAttr(long offset) {
        if (offset != attrCookie || attrPos >= attrBatch.size()) {
            return null;
        }
        return attrBatch.subList(attrPos, attrBatch.size());
    }

    /** As {@link #keep}, for the entries of a Treaddirattr. */
    synchronized void keepAttr(long offset, List<io.c9fs.transport.proto.Message.AttrDirent> entries) {
        attrBatch = entries;
        attrPos = 0;
        attrCookie = offset;
    }

    /** The fetched entries that follow cookie {@code offset}, or null if none are held. */
    synchronized List<Dirent> pending(long offset) {
        if (offset != batchCookie || batchPos >= batch.size()) {
            return null;
        }
        return batch.subList(batchPos, batch.size());
    }

    /** Keeps {@code entries}, which continue after cookie {@code offset}, for the next READDIR. */
    synchronized void keep(long offset, List<Dirent> entries) {
        batch = entries;
        batchPos = 0;
        batchCookie = offset;
    }
}
