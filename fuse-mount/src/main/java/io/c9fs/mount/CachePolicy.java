package io.c9fs.mount;

/**
 * Every "is the kernel's cached view still valid" decision of the filesystem, in one place, so a
 * coherence layer (leases with server callbacks that invalidate through the FUSE notifier from a
 * thread of its own) can replace the default {@link CloseToOpenPolicy} without touching the
 * request paths.
 *
 * <p>Threads: called concurrently from FUSE workers; implementations must not block on the
 * network or call the FUSE notifier from these methods (a worker must never notify).
 */
public interface CachePolicy {
    /** How long the kernel may trust a name-to-inode binding. */
    long entryTimeoutNanos();

    /** How long the kernel may trust that a name does not exist (0: never cache ENOENT). */
    long negativeTimeoutNanos();

    /** How long the kernel may trust an inode's attributes. */
    long attrTimeoutNanos();

    /**
     * Called at every OPEN of a regular file with attributes fetched from the server during that
     * open. True lets the kernel keep the inode's cached pages (FOPEN_KEEP_CACHE); false makes it
     * drop them before the open returns.
     */
    boolean keepCacheOnOpen(long nodeid, FileStamp current);

    /** The kernel forgot the inode: its pages are gone with it. */
    void forget(long nodeid);
}
