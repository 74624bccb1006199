package io.c9fs.server;

import io.c9fs.transport.Errno;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference-counted O_PATH descriptor of one file of the export, with the directory handle it
 * was reached through and its name there: the server's dentry. Fids hold handles, never path
 * strings, so a rename racing a walk cannot redirect a fid outside the export: every later
 * resolution starts from a descriptor the kernel already confined.
 *
 * <p>{@code parent} and {@code name} are where the file was when it was reached; a name-based
 * operation (unlink, rename) first checks that the name still denotes {@link #stat} 's inode
 * ({@link #checkName}), so a stale name never removes another file. ".." walks use the parent
 * handle (9P names are lexical); the root's parent is itself.
 *
 * <p>Threading: immutable apart from the reference count; {@link #retain}/{@link #release} from
 * any thread. The descriptor is closed when the last reference goes.
 */
public final class PathHandle {
    private final int fd;
    private final PathHandle parent;
    private final String name;
    private final HostStat stat;
    private final AtomicInteger refs = new AtomicInteger(1);

    PathHandle(int fd, PathHandle parent, String name, HostStat stat) {
        this.fd = fd;
        this.parent = parent;
        this.name = name;
        this.stat = stat;
    }

    /** The O_PATH descriptor. */
    public int fd() {
        return fd;
    }

    /** The directory this file was reached through; null for the export root. */
    public PathHandle parent() {
        return parent;
    }

    public String name() {
        return name;
    }

    /** The host stat taken when the handle was opened: device, inode and type never change. */
    public HostStat stat() {
        return stat;
    }

    public PathHandle retain() {
        if (refs.getAndIncrement() <= 0) {
            throw new IllegalStateException("retain of a released handle");
        }
        return this;
    }

    public void release() {
        int left = refs.decrementAndGet();
        if (left == 0) {
            Posix.close(fd);
            if (parent != null) {
                parent.release();
            }
        } else if (left < 0) {
            throw new IllegalStateException("handle released twice");
        }
    }

    /**
     * Fails with ENOENT unless {@code name} in {@code parent} is still this file: the guard of every
     * operation addressed by name.
     */
    public void checkName() throws ErrnoException {
        if (parent == null) {
            throw new ErrnoException(Errno.EBUSY, "the export root has no name");
        }
        HostStat now = Posix.fstatat(parent.fd, name, Posix.AT_SYMLINK_NOFOLLOW);
        if (!now.sameFile(stat)) {
            throw new ErrnoException(Errno.ENOENT, "renamed away: " + name);
        }
    }
}
