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
    private AttrBatch attrBatch;
    private int attrPos;
    private long attrCookie = -1;
    private AttrPrefetch prefetch;
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

    /**
     * Entries of a Treaddirattr and when it was sent (System.nanoTime): their attributes were
     * read after that instant, and may be trusted only for so long from it. {@code recallEpoch}
     * is {@link NodeTable#recallEpoch} before it was sent: a recall since may have meant some of
     * these attributes. {@code firstSpent}: the first entry's listing lease was already counted
     * on a node (the entry is being handed out again after the kernel's buffer filled).
     */
    record AttrBatch(List<io.c9fs.transport.proto.Message.AttrDirent> entries, long sentAt, long recallEpoch,
                     boolean firstSpent) {
    }

    /** A Treaddirattr sent ahead for the cookie {@code cookie}, while the kernel used the last batch. */
    record AttrPrefetch(long cookie, long sentAt, long recallEpoch,
                        java.util.concurrent.CompletableFuture<io.c9fs.transport.proto.Message.Rreaddirattr> reply) {
    }

    /** As {@link #pending}, for the entries of a Treaddirattr. */
    synchronized AttrBatch pendingAttr(long offset) {
        if (attrBatch == null || offset != attrCookie || attrPos >= attrBatch.entries().size()) {
            return null;
        }
        return new AttrBatch(attrBatch.entries().subList(attrPos, attrBatch.entries().size()), attrBatch.sentAt(),
                attrBatch.recallEpoch(), attrBatch.firstSpent() && attrPos == 0);
    }

    /** As {@link #keep}, for the entries of a Treaddirattr. */
    synchronized void keepAttr(long offset, AttrBatch entries) {
        attrBatch = entries;
        attrPos = 0;
        attrCookie = offset;
    }

    /** The Treaddirattr sent ahead for {@code cookie}, taken (null if none was, or for another cookie). */
    synchronized AttrPrefetch takePrefetch(long cookie) {
        AttrPrefetch p = prefetch;
        prefetch = null;
        return p != null && p.cookie() == cookie ? p : null;
    }

    synchronized void prefetch(AttrPrefetch p) {
        prefetch = p;
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
