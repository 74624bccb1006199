package io.c9fs.mount;

import io.c9fs.transport.proto.Qid;

/**
 * One inode the kernel knows by a nodeid: the server file (qid) and a fid walked to it (never
 * opened: opens clone it). Files with the same qid.path are the same inode, so hard links share
 * one Node.
 *
 * <p>Threads: {@link #fid}, {@link #qid}, {@link #parent}, {@link #name} and {@link #walkedEpoch} are
 * read without a lock
 * by any worker; they change only under the {@link NodeTable} lock. {@link #lookups} is guarded by
 * that lock.
 */
final class Node {
    final long nodeid;
    final long qidPath;
    volatile Qid qid;
    volatile int fid;
    /** Last known place in the tree; for diagnostics and for nothing else. */
    volatile long parent;
    volatile String name;
    /** {@link NodeTable#epoch()} when {@link #fid} was walked: older than the table's means maybe stale. */
    volatile long walkedEpoch;
    /**
     * Write-back errors with Linux's errseq semantics: {@link #wbErrSeq} counts the written-back
     * pages the server refused (or that could not reach it: a soft mount's timeout, a file gone
     * stale across a reconnect), {@link #wbErrno} is the last one's errno. Each handle remembers
     * the count it has reported, so every descriptor open at the failure sees it once, at its
     * next fsync, msync or close (FLUSH).
     */
    final java.util.concurrent.atomic.AtomicLong wbErrSeq = new java.util.concurrent.atomic.AtomicLong();
    volatile int wbErrno;
    /** Kernel references: one per LOOKUP-like reply, returned by FORGET. Guarded by the table lock. */
    long lookups;

    Node(long nodeid, Qid qid, int fid, long parent, String name, long walkedEpoch) {
        this.walkedEpoch = walkedEpoch;
        this.nodeid = nodeid;
        this.qidPath = qid.path();
        this.qid = qid;
        this.fid = fid;
        this.parent = parent;
        this.name = name;
    }

    @Override
    public String toString() {
        return "node " + nodeid + " fid " + fid + " qid " + qid + " (" + parent + "/" + name + ")";
    }
}
