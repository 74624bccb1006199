package io.c9fs.fuse;

import java.nio.ByteBuffer;

/**
 * Kernel cache notifications (FUSE_NOTIFY_*), written on the session's /dev/fuse descriptor.
 *
 * <p>Threads: call from any thread that is NOT a FUSE worker of this session; a worker gets
 * {@link IllegalStateException}. The kernel may need a worker to answer a READ or a laundering
 * WRITE before the notification completes (invalInode waits for locked and under-writeback pages),
 * so a worker that notifies can wait on itself forever. For the same reason, do not call while
 * holding a lock that any filesystem method may need. Calls may be concurrent.
 * Failures carry the kernel's errno (ENOENT: the kernel does not know the inode; ENODEV: unmounted).
 */
public interface FuseNotifier {
    /**
     * Drops cached pages of nodeid in [offset, offset+length) (rounded out to pages; length 0 = to EOF)
     * and its cached attributes; offset &lt; 0 drops attributes only. Dirty pages, including dirty
     * MAP_SHARED pages, are first written back as WRITEs with FUSE_WRITE_CACHE, synchronously.
     */
    void invalInode(long nodeid, long offset, long length) throws FuseException;

    /** Drops the cached dentry {@code name} in directory {@code parent}. */
    void invalEntry(long parent, String name) throws FuseException;

    /** Like invalEntry, and if the dentry points at {@code child}, also deletes it (inotify sees a delete). */
    void delete(long parent, long child, String name) throws FuseException;

    /** Copies {@code data} (its remaining bytes) into nodeid's page cache at offset, mapped pages included. */
    void store(long nodeid, long offset, ByteBuffer data) throws FuseException;
}
