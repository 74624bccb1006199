package io.c9fs.server;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The server's object for one file of the export, keyed by qid.path: which connections have it
 * open, and the one place every mutation of the file passes ({@link #mutated}).
 *
 * <p>It also tells the {@link LocalChanges} watcher which inotify events the server caused
 * itself: a mutation is bracketed by {@link #changing()} and {@link #changed(int)}, which records
 * the qid.version the file has afterwards; an event that finds a change in progress, or the
 * version recorded, is the server's own and recalls nothing ({@link #showsOnlyOwnChanges}).
 *
 * <p>Threading: all methods synchronize on the node; no other lock is taken while holding it
 * (lock order: connection state, then node, never the reverse). {@link #data} is a leaf too,
 * held only around one read or write system call.
 */
public final class FileNode {
    private final long qidPath;

    /**
     * Makes a Tread and a Twrite of the file atomic with respect to each other, as POSIX asks of
     * read(2) and write(2): the host's page cache does not (ext4 copies a page into and out of the
     * cache with no lock between a buffered read and a write, and a read concurrent with a write
     * of the same page sees part of each: measured on this machine, docs/coherence.md). Without
     * it, a client reading what another client is writing could be answered a torn page. Reads
     * share it; a write holds it alone for its one pwritev.
     */
    final ReentrantReadWriteLock data = new ReentrantReadWriteLock();
    private final Map<Object, Integer> openers = new HashMap<>();
    private int refs;
    private int writes;
    private int changing;
    private long changesBegun;
    private int ownVersion;
    private boolean ownVersionKnown;

    FileNode(long qidPath) {
        this.qidPath = qidPath;
    }

    public long qidPath() {
        return qidPath;
    }

    synchronized int ref(int delta) {
        refs += delta;
        return refs;
    }

    /** {@code connection} opened the file (one count per open fid). */
    public synchronized void opened(Object connection) {
        openers.merge(connection, 1, Integer::sum);
    }

    public synchronized void closed(Object connection) {
        openers.computeIfPresent(connection, (k, n) -> n == 1 ? null : n - 1);
    }

    /** Number of connections that have the file open. */
    public synchronized int openerCount() {
        return openers.size();
    }

    /**
     * The file's data, size or metadata changed through this server: bumps the counter that
     * {@link Export#qid} folds into qid.version, so the change is visible even within the host's
     * timestamp granularity.
     */
    public synchronized void mutated(Object byConnection) {
        writes++;
    }

    synchronized int writes() {
        return writes;
    }

    /** The server is about to change the file. Pair with {@link #changed(int)}. */
    synchronized void changing() {
        changing++;
        changesBegun++;
    }

    /**
     * How many changes the server has begun on the file, or {@link #IN_PROGRESS} if one is going
     * on: taken before a stat, for {@link #showsOnlyOwnChanges}.
     */
    synchronized long changesBegun() {
        return changing > 0 ? IN_PROGRESS : changesBegun;
    }

    /**
     * A change was in progress before the stat: the stat may have caught it half done (a pwrite
     * extends the file page by page), a state no version was ever recorded for, even when the
     * change is over by the time the event is judged. Judging that as a local change recalled a
     * writer's own file every few megabytes of a sequential write.
     */
    static final long IN_PROGRESS = -1;

    /** The server's change is done; the file's qid.version is now {@code version}. */
    synchronized void changed(int version) {
        changing--;
        ownVersion = version;
        ownVersionKnown = true;
    }

    /** The server's change is done but the version could not be read (the file is gone). */
    synchronized void changeFailed() {
        changing--;
    }

    /**
     * True if the file, found as {@code st} after an inotify event, shows nothing but the
     * server's own changes: one is in progress, one was when the stat began
     * ({@code begunBeforeStat} is {@link #IN_PROGRESS}), one began since {@code begunBeforeStat}
     * (then the stat may predate it, and compares with nothing), or its qid.version is what the
     * last one left.
     */
    synchronized boolean showsOnlyOwnChanges(Export export, HostStat st, long begunBeforeStat) {
        return changing > 0 || begunBeforeStat == IN_PROGRESS || changesBegun != begunBeforeStat
                || (ownVersionKnown && ownVersion == export.qid(st, this).version());
    }
}
