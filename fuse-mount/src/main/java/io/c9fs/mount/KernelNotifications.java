package io.c9fs.mount;

import io.c9fs.cache.KernelCache;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseNotifier;
import io.c9fs.fuse.FuseSession;
import io.c9fs.transport.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * {@link KernelCache} over FUSE notifications: a recall names a file by qid.path, the kernel knows
 * it by nodeid; a file the kernel does not hold (no node, or ENOENT from the notification) has
 * nothing cached, so there is nothing to do.
 *
 * <p>Threads: the {@link io.c9fs.cache.LeaseClient}'s threads only, never a FUSE worker (the
 * notifier refuses those). Takes the {@link NodeTable} lock only to look a node up, never across
 * a notification: a laundering WRITE answered by a worker may need that lock while the
 * notification waits for it (FINDINGS.md Q4h).
 */
final class KernelNotifications implements KernelCache {
    private final NodeTable nodes;
    private final FuseSession session;
    private final FuseNotifier notifier;
    /** The recall thread's stats and the flush thread's syncfs, made by helper processes. */
    private final OwnMountCalls stats = new OwnMountCalls("stat", OwnMountCalls.STAT);
    private final OwnMountCalls syncs = new OwnMountCalls("syncfs", OwnMountCalls.SYNCFS);
    private static final long STAT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    private static final long SYNCFS_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);

    KernelNotifications(NodeTable nodes, FuseSession session) {
        this.nodes = nodes;
        this.session = session;
        this.notifier = session.notifier();
    }

    @Override
    public void close() {
        stats.close();
        syncs.close();
    }

    @Override
    public void dropData(long path, long offset, long length) throws IOException {
        nodes.recalled();
        Node n = nodes.byQidPath(path);
        if (n != null) {
            n.attrsChanged();
            if (length == 0) {
                // Local changes on the server arrive as this alone, xattrs included.
                n.xattrsChanged();
            }
            inval(n.nodeid, offset, length);
            if (length == 0) {
                // Whole-file recalls come with truncation and local changes: sizes that moved.
                // A write that moved the end of the file is recalled as an attribute too.
                refreshSize(n);
            }
        }
    }

    @Override
    public void dropAttr(long path) throws IOException {
        nodes.recalled();
        Node n = nodes.byQidPath(path);
        if (n != null) {
            n.attrsChanged();
            n.xattrsChanged();
            // A negative offset drops attributes only (fuse_reverse_inval_inode).
            inval(n.nodeid, -1, 0);
            refreshSize(n);
        }
    }

    /**
     * Makes the kernel learn a file's new size now. Dropping its attributes is not enough for a
     * process that only touches the file through a mapping: a page fault checks the size the
     * kernel holds and never asks for attributes, so a file another client extended would still
     * SIGBUS past its old end (clause 5 of docs/coherence.md). A stat through the mount makes the
     * kernel send GETATTR, and the answer sets the inode's size; a worker answers it. The stat is
     * made by a helper process ({@link OwnMountCalls}): no thread of the daemon makes a system
     * call on its own mount.
     */
    private void refreshSize(Node n) {
        if (n.qid.isDir() || n.qid.isSymlink() || n.nodeid == NodeTable.ROOT) {
            return;
        }
        List<String> names = nodes.pathOf(n);
        if (names == null) {
            return;
        }
        Path p = session.mountpoint();
        for (String name : names) {
            p = p.resolve(name);
        }
        // Renamed or removed meanwhile: its size is the next lookup's business.
        stats.call(p.toString(), STAT_NANOS);
    }

    @Override
    public void dropEntry(long dirPath, String name) throws IOException {
        Node dir = nodes.byQidPath(dirPath);
        if (dir != null) {
            dir.namesUnknown();
            invalEntry(dir.nodeid, name);
            if (dir.listingCacheable) {
                // The kernel may hold a listing of the directory (FOPEN_CACHE_DIR) in the
                // directory's pages: a listing that finds one missing reads afresh. The next
                // OPENDIR drops it too (namesUnknown moved the listing's generation), but a handle
                // already open would go on reading it after a rewind; INVAL_ENTRY resets it only
                // when the kernel has a dentry of that name.
                inval(dir.nodeid, 0, 0);
            }
        }
    }

    @Override
    public void flushDirty() throws IOException {
        // As FuseSession.syncfs, but by a helper process (see refreshSize).
        if (!syncs.call(session.mountpoint().toString(), SYNCFS_NANOS)) {
            throw new IOException("syncfs of " + session.mountpoint() + " by its helper failed");
        }
    }

    @Override
    public void dropAll() throws IOException {
        nodes.droppedAll();
        IOException first = null;
        for (Node n : nodes.snapshot()) {
            n.attrsChanged();
            n.xattrsChanged();
            n.namesUnknown();
            try {
                inval(n.nodeid, 0, 0);
                if (n.nodeid != NodeTable.ROOT) {
                    invalEntry(n.parent, n.name);
                }
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void invalEntry(long parent, String name) throws IOException {
        try {
            notifier.invalEntry(parent, name);
        } catch (FuseException e) {
            if (e.errno() != Errno.ENOENT) {
                throw new IOException("inval_entry " + parent + "/" + name + ": " + e.getMessage(), e);
            }
        }
    }

    private void inval(long nodeid, long offset, long length) throws IOException {
        try {
            notifier.invalInode(nodeid, offset, length);
        } catch (FuseException e) {
            if (e.errno() != Errno.ENOENT) {
                throw new IOException("inval_inode " + nodeid + ": " + e.getMessage(), e);
            }
        }
    }
}
