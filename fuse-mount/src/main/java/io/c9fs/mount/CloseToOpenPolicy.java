package io.c9fs.mount;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Close-to-open consistency, as NFS gives it: an open sees every change that was complete on the
 * server when the open started. Cached pages survive an open only if the file's {@link FileStamp}
 * is unchanged since the previous open through this mount; otherwise the kernel drops them at
 * open (which also refreshes existing mappings). Between opens the page cache is trusted, and
 * entries and attributes for the configured timeouts.
 *
 * <p>Our own writes change mtime too, so a file this mount wrote is re-read after the next open:
 * correct, and the price of not trusting a post-write stamp that another writer may have raced.
 *
 * <p>Threads: any worker; the stamp map is concurrent, with no other state.
 */
public final class CloseToOpenPolicy implements CachePolicy {
    private final long entryNanos;
    private final long attrNanos;
    private final long negativeNanos;
    private final ConcurrentMap<Long, FileStamp> openedAt = new ConcurrentHashMap<>();

    /**
     * @param entryNanos    dentry timeout
     * @param attrNanos     attribute timeout
     * @param negativeNanos ENOENT cache timeout (0 disables negative entries)
     */
    public CloseToOpenPolicy(long entryNanos, long attrNanos, long negativeNanos) {
        this.entryNanos = entryNanos;
        this.attrNanos = attrNanos;
        this.negativeNanos = negativeNanos;
    }

    @Override
    public long entryTimeoutNanos() {
        return entryNanos;
    }

    @Override
    public long negativeTimeoutNanos() {
        return negativeNanos;
    }

    @Override
    public long attrTimeoutNanos() {
        return attrNanos;
    }

    @Override
    public boolean keepCacheOnOpen(long nodeid, FileStamp current) {
        FileStamp before = openedAt.put(nodeid, current);
        return current.equals(before);
    }

    @Override
    public void forget(long nodeid) {
        openedAt.remove(nodeid);
    }
}
