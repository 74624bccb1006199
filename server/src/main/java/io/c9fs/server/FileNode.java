package io.c9fs.server;

import java.util.HashMap;
import java.util.Map;

/**
 * The server's object for one file of the export, keyed by qid.path: which connections have it
 * open, and the one place every mutation of the file passes ({@link #mutated}). Leases will live
 * here: a write lease is granted to one opener, {@link #mutated} will recall the leases of the
 * other openers before the change becomes visible, and an inotify watcher will call it for
 * changes made by local processes.
 *
 * <p>Threading: all methods synchronize on the node; no other lock is taken while holding it
 * (lock order: connection state, then node, never the reverse).
 */
public final class FileNode {
    private final long qidPath;
    private final Map<Object, Integer> openers = new HashMap<>();
    private int refs;
    private int writes;

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
}
