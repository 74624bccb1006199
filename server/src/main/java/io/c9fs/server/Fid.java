package io.c9fs.server;

import java.io.ByteArrayOutputStream;

/**
 * The server side of one fid: the file it names (a {@link PathHandle} and its {@link FileNode}),
 * and, once opened, the I/O descriptor. Special fids (xattr, auth) carry their buffers.
 *
 * <p>Threading: a fid is touched only by the request currently running for it; requests naming
 * the same fid are serialized by {@link RequestQueue}, so the fields need no lock.
 */
final class Fid {
    /** What the fid stands for. */
    enum Kind { FILE, XATTR_READ, XATTR_WRITE, AUTH }

    final int id;
    final Kind kind;
    PathHandle handle;
    FileNode node;
    /** The user the fid was attached as (9P2000.u/.L n_uname), or -1. */
    final int uid;

    /** Descriptor opened for I/O, -1 until opened. */
    int ioFd = -1;
    /**
     * The same file opened O_DIRECT for reads that go around the page cache: -1 until the first,
     * {@link #NO_DIRECT} when the file system refused it (then this fid reads buffered only).
     */
    int directFd = -1;
    static final int NO_DIRECT = -2;
    int openFlags;
    boolean removeOnClunk;
    DirCursor dir;
    /**
     * Where this fid's last Twrite ended, and from where its sequential run's dirty pages have not
     * yet been handed to write-back (see Session#startWriteback); -1 before any write.
     */
    long writeEnd = -1;
    long writebackFrom;
    /** Byte-range locks taken through this fid (null until the first), for reclaims after a vanish. */
    LockTable.Held locks;

    /** xattr read: the value or the name list; xattr write: the name, flags and bytes so far. */
    byte[] xattrValue;
    String xattrName;
    int xattrFlags;
    long xattrSize;
    ByteArrayOutputStream written;

    Fid(int id, Kind kind, PathHandle handle, FileNode node, int uid) {
        this.id = id;
        this.kind = kind;
        this.handle = handle;
        this.node = node;
        this.uid = uid;
    }

    boolean isOpen() {
        return ioFd >= 0;
    }

    boolean readable() {
        return isOpen() && (openFlags & Posix.O_ACCMODE) != Posix.O_WRONLY;
    }

    boolean writable() {
        return isOpen() && (openFlags & Posix.O_ACCMODE) != Posix.O_RDONLY;
    }
}
