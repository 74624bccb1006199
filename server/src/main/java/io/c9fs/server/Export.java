package io.c9fs.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Qid;
import java.nio.file.Path;

/**
 * The exported directory: its root handle, the confined one-name walk every resolution is made
 * of, and the mapping from host files to qids.
 *
 * <p>Confinement: a walk step is one name, never containing '/', resolved by openat2(2) relative
 * to the directory's O_PATH descriptor with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS and O_PATH | O_NOFOLLOW: the kernel refuses anything that would leave
 * the directory, and a symlink is returned as itself, never followed. ".." is answered from the
 * handle chain (the directory the client came through), and stays at the root of the export.
 *
 * <p>Threading: immutable after construction; every method may be called from any thread.
 */
public final class Export {
    private static final long WALK_RESOLVE = Posix.RESOLVE_BENEATH | Posix.RESOLVE_NO_SYMLINKS
            | Posix.RESOLVE_NO_MAGICLINKS;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final Path dir;
    private final PathHandle root;
    private final long rootDevMix;
    private final boolean readOnly;
    private final boolean directReads;
    private final NodeTable nodes = new NodeTable();
    /** The export's file system keeps inodes in memory: stat of a held file never waits for I/O. */
    private final boolean localDisk;

    /**
     * statfs f_type of the file systems whose getattr answers from the in-memory inode: ext2/3/4,
     * xfs, btrfs, tmpfs, f2fs, zfs, overlayfs (over those). Network and FUSE file systems may
     * revalidate with their server on a stat.
     */
    private static final java.util.Set<Long> LOCAL_DISK_TYPES = java.util.Set.of(0xEF53L, 0x58465342L,
            0x9123683EL, 0x01021994L, 0xF2F52010L, 0x2FC12FC1L, 0x794C7630L);

    private Export(Path dir, PathHandle root, boolean readOnly, boolean directReads) {
        this.dir = dir;
        this.root = root;
        this.rootDevMix = mix(root.stat().dev());
        this.readOnly = readOnly;
        this.directReads = directReads;
        boolean local;
        try {
            local = LOCAL_DISK_TYPES.contains(Posix.fstatfs(root.fd()).getLong(0) & 0xFFFFFFFFL);
        } catch (ErrnoException e) {
            local = false;
        }
        this.localDisk = local;
    }

    /**
     * True if a stat of {@code h} is answered from memory, so an event loop may make it: the
     * export is on a local disk file system and {@code h} is on that same file system (not on a
     * network file system mounted somewhere beneath the export).
     */
    public boolean statNeverWaits(PathHandle h) {
        return localDisk && h.stat().dev() == root.stat().dev();
    }

    /**
     * Opens {@code dir} (which must be a directory) as the root of an export; with
     * {@code directReads}, large reads of what the page cache does not hold go around it
     * ({@link #readsDirect}).
     */
    public static Export open(Path dir, boolean readOnly, boolean directReads) throws ErrnoException {
        Path abs = dir.toAbsolutePath().normalize();
        int fd = Posix.openat(Posix.AT_FDCWD, abs.toString(),
                Posix.O_PATH | Posix.O_DIRECTORY | Posix.O_CLOEXEC, 0);
        HostStat st;
        try {
            st = Posix.fstat(fd);
        } catch (ErrnoException e) {
            Posix.close(fd);
            throw e;
        }
        return new Export(abs, new PathHandle(fd, null, "", st), readOnly, directReads);
    }

    public Path dir() {
        return dir;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /**
     * Whether a Tread of many bytes of {@code h} that the host's page cache does not hold may be
     * read with O_DIRECT ({@link Session}): the kernel's buffered read would fill the page cache
     * and copy out of it, half the server's CPU on a cold sequential read, for pages the client
     * caches itself. Only on the export's own file system, and only if that is a local disk one:
     * a network or FUSE file system mounted beneath the export has its own idea of direct I/O.
     */
    public boolean readsDirect(PathHandle h) {
        return directReads && statNeverWaits(h);
    }

    public NodeTable nodes() {
        return nodes;
    }

    /** A new reference to the root handle. */
    public PathHandle root() {
        return root.retain();
    }

    /** Fails with EROFS when the export is read-only: called before every mutation. */
    public void checkWritable() throws ErrnoException {
        if (readOnly) {
            throw new ErrnoException(Errno.EROFS, "read-only export");
        }
    }

    /**
     * One walk step from directory {@code from} to {@code name}: a new handle (the caller owns
     * one reference); {@code from} is not released.
     */
    public PathHandle step(PathHandle from, String name) throws ErrnoException {
        if (name.equals("..")) {
            return (from.parent() == null ? from : from.parent()).retain();
        }
        if (name.equals(".")) {
            return from.retain();
        }
        checkName(name);
        if (!from.stat().isDir()) {
            throw new ErrnoException(Errno.ENOTDIR, "walk from a non-directory");
        }
        int fd = Posix.openat2(from.fd(), name, Posix.O_PATH | Posix.O_NOFOLLOW | Posix.O_CLOEXEC,
                0, WALK_RESOLVE);
        try {
            HostStat st = Posix.fstat(fd);
            return new PathHandle(fd, from.retain(), name, st);
        } catch (ErrnoException e) {
            Posix.close(fd);
            throw e;
        }
    }

    /**
     * Opens (and with O_CREAT creates) {@code name} in {@code dir} for I/O, under the same
     * resolution rules as a walk step: a symlink in the name's place fails with ELOOP.
     */
    public int openBeneath(PathHandle dir, String name, int flags, int mode) throws ErrnoException {
        checkName(name);
        return Posix.openat2(dir.fd(), name, flags | Posix.O_NOFOLLOW, mode, WALK_RESOLVE);
    }

    /** A name a client may create or look up: one component, not "." or "..". */
    public static void checkName(String name) throws ErrnoException {
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
                || name.indexOf('\0') >= 0) {
            throw new ErrnoException(Errno.EINVAL, "bad name");
        }
        if (name.length() > 255) {
            throw new ErrnoException(Errno.ENAMETOOLONG, "name too long");
        }
    }

    /** qid.path: the inode, mixed with the device when the file is not on the root's device. */
    public long qidPath(HostStat st) {
        return st.ino() ^ mix(st.dev()) ^ rootDevMix;
    }

    /**
     * The qid of a host file. The version mixes mtime, ctime (both to the nanosecond) and size,
     * so changes by local processes show at the next stat, with the node's write counter, so
     * changes through this server show even within one timestamp tick.
     */
    public Qid qid(HostStat st, FileNode node) {
        long h = st.mtimeSec() * GOLDEN + st.mtimeNsec();
        h = (h ^ (h >>> 29)) * GOLDEN + st.ctimeSec();
        h = (h ^ (h >>> 29)) * GOLDEN + st.ctimeNsec();
        h = (h ^ (h >>> 29)) * GOLDEN + st.size();
        h = (h ^ (h >>> 29)) * GOLDEN + (node == null ? 0 : node.writes());
        h ^= h >>> 32;
        return new Qid(qidType(st), (int) h, qidPath(st));
    }

    /** The qid of a directory entry seen by readdir, whose stat is not taken: version 0. */
    public Qid direntQid(long ino, long dev, int dtype) {
        int type = dtype == DT_DIR ? Qid.QTDIR : dtype == DT_LNK ? Qid.QTSYMLINK : Qid.QTFILE;
        return new Qid(type, 0, ino ^ mix(dev) ^ rootDevMix);
    }

    static final int DT_DIR = 4, DT_LNK = 10;

    static int qidType(HostStat st) {
        return st.isDir() ? Qid.QTDIR : st.isSymlink() ? Qid.QTSYMLINK : Qid.QTFILE;
    }

    private static long mix(long dev) {
        long h = dev * GOLDEN;
        return h ^ (h >>> 31);
    }

    /** Releases the root; fids still holding handles keep their descriptors until clunked. */
    public void close() {
        root.release();
    }
}
