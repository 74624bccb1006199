package io.c9fs.mount;

import io.c9fs.cache.KernelCache;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseNotifier;
import io.c9fs.fuse.FuseSession;
import io.c9fs.transport.Errno;
import java.io.IOException;

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

    KernelNotifications(NodeTable nodes, FuseSession session) {
        this.nodes = nodes;
        this.session = session;
        this.notifier = session.notifier();
    }

    @Override
    public void dropData(long path, long offset, long length) throws IOException {
        Node n = nodes.byQidPath(path);
        if (n != null) {
            inval(n.nodeid, offset, length);
        }
    }

    @Override
    public void dropAttr(long path) throws IOException {
        Node n = nodes.byQidPath(path);
        if (n != null) {
            // A negative offset drops attributes only (fuse_reverse_inval_inode).
            inval(n.nodeid, -1, 0);
        }
    }

    @Override
    public void dropEntry(long dirPath, String name) throws IOException {
        Node dir = nodes.byQidPath(dirPath);
        if (dir != null) {
            invalEntry(dir.nodeid, name);
        }
    }

    @Override
    public void flushDirty() throws IOException {
        try {
            session.syncfs();
        } catch (FuseException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    @Override
    public void dropAll() throws IOException {
        IOException first = null;
        for (Node n : nodes.snapshot()) {
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
