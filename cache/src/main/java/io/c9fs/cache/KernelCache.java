package io.c9fs.cache;

import java.io.IOException;

/**
 * The caches a recall must empty besides the {@link PageCache}: the kernel's page, attribute and
 * dentry caches of a FUSE mount. fuse-mount implements it over FUSE notifications
 * (FUSE_NOTIFY_INVAL_INODE, FUSE_NOTIFY_INVAL_ENTRY) and syncfs(2); files are named by qid.path,
 * the implementation maps them to its nodeids.
 *
 * <p>Called only from the {@link LeaseClient}'s own threads, never from a FUSE request thread: a
 * notification from a READ or WRITE handler deadlocks the kernel, and {@link #dropData}
 * launders dirty mapped pages through WRITE requests that FUSE workers must be free to answer
 * (shared/fuse-experiments/FINDINGS.md, Q2 and Q4).
 */
public interface KernelCache {
    /**
     * Launders the dirty pages of file {@code path} in [offset, offset + length) (length 0: to end
     * of file) and drops its cached pages there. Returns after the laundering WRITEs were answered.
     */
    void dropData(long path, long offset, long length) throws IOException;

    /** Drops the cached attributes of {@code path}. */
    void dropAttr(long path) throws IOException;

    /** Drops the cached name {@code name} (positive or negative) of directory {@code dirPath}. */
    void dropEntry(long dirPath, String name) throws IOException;

    /** Writes back every dirty page without dropping any (syncfs): bounds how long a store stays local. */
    void flushDirty() throws IOException;

    /** Drops everything cached, the lease term having passed without renewal. */
    void dropAll() throws IOException;

    /** The lease client is closing: whatever this keeps for the calls above goes. */
    default void close() {
    }
}
