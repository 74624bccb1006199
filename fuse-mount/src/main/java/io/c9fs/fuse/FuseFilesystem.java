package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * A filesystem served through FUSE. Methods mirror FUSE opcodes; nodeid 1 is the root (FUSE_ROOT_ID).
 * A method answers by returning, or fails with {@link FuseException} (the errno is replied). Any
 * other exception is logged and replied as EIO. Defaults reply ENOSYS; for OPEN/OPENDIR/FLUSH/
 * RELEASE/RELEASEDIR/FSYNC/FSYNCDIR the kernel then stops sending them and treats them as success.
 *
 * <p>Threads: every method may be called concurrently from several FUSE worker threads.
 * A method must not call {@link FuseNotifier} (it would deadlock: see docs/fuse.md) and must not
 * block on anything that waits for a notifier call to finish. A laundering WRITE
 * ({@code writeFlags & FUSE_WRITE_CACHE}) may arrive at any time, even during invalInode issued by
 * another thread, and should not fail: the kernel drops the page whatever the reply.
 */
public interface FuseFilesystem {
    /** Set in {@code writeFlags} for page-cache writeback (writepage, and laundering during invalInode). */
    int FUSE_WRITE_CACHE = 1;
    /** Under {@link #killsSuidgid}: the writer lacks CAP_FSETID, so the write clears setuid/setgid. */
    int FUSE_WRITE_KILL_SUIDGID = 4;
    /** rename flags. */
    int RENAME_NOREPLACE = 1;
    int RENAME_EXCHANGE = 2;

    /**
     * Called once, on the mounting thread, after INIT was answered and before any worker starts (so
     * before any other method). {@code session.notifier()} may be kept and used from non-worker threads.
     */
    default void init(FuseSession session) {
    }

    /** Called once when the session ends (DESTROY, or the device went away). */
    default void destroy() {
    }

    EntryOut lookup(FuseRequest r, long parent, String name) throws FuseException;

    /** The kernel dropped {@code nlookup} references to nodeid (FORGET, each BATCH_FORGET item). No reply. */
    default void forget(long nodeid, long nlookup) {
    }

    /** {@code fh} is -1 when the kernel did not name an open file. */
    AttrOut getattr(FuseRequest r, long nodeid, long fh) throws FuseException;

    default AttrOut setattr(FuseRequest r, long nodeid, SetattrIn in) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default String readlink(FuseRequest r, long nodeid) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default EntryOut symlink(FuseRequest r, long parent, String name, String target) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default EntryOut mknod(FuseRequest r, long parent, String name, int mode, int rdev, int umask)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default EntryOut mkdir(FuseRequest r, long parent, String name, int mode, int umask) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void unlink(FuseRequest r, long parent, String name) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void rmdir(FuseRequest r, long parent, String name) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** {@code flags}: {@link #RENAME_NOREPLACE}, {@link #RENAME_EXCHANGE} (RENAME2), 0 for plain RENAME. */
    default void rename(FuseRequest r, long parent, String name, long newParent, String newName, int flags)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default EntryOut link(FuseRequest r, long nodeid, long newParent, String newName) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** {@code flags}: the open(2) flags (O_ACCMODE, O_TRUNC with ATOMIC_O_TRUNC, ...). */
    default OpenOut open(FuseRequest r, long nodeid, int flags) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default CreateOut create(FuseRequest r, long parent, String name, int flags, int mode, int umask)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * Reads up to {@code size} bytes at {@code offset} into {@code dst} (direct, remaining() == size,
     * fill from its position). Returns the byte count; fewer than size means EOF.
     */
    default int read(FuseRequest r, long nodeid, long fh, long offset, int size, ByteBuffer dst)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * Writes {@code src} (its remaining bytes) at {@code offset}; returns the bytes written.
     * {@code writeFlags & FUSE_WRITE_CACHE}: page writeback or laundering. {@code fh} may be any
     * handle the kernel still holds for the inode.
     */
    default int write(FuseRequest r, long nodeid, long fh, long offset, ByteBuffer src, int writeFlags)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void flush(FuseRequest r, long nodeid, long fh, long lockOwner) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** The reply's errno is ignored by the kernel; release always "succeeds". */
    default void release(FuseRequest r, long nodeid, long fh, int flags, long lockOwner) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void fsync(FuseRequest r, long nodeid, long fh, boolean datasync) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default OpenOut opendir(FuseRequest r, long nodeid, int flags) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** Adds entries after cookie {@code offset} (0 = from the start) until the filler says full. */
    default void readdir(FuseRequest r, long nodeid, long fh, long offset, DirFiller out) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** Like readdir, with a full entry per name (each counts as a lookup). */
    default void readdirplus(FuseRequest r, long nodeid, long fh, long offset, DirPlusFiller out)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void releasedir(FuseRequest r, long nodeid, long fh) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void fsyncdir(FuseRequest r, long nodeid, long fh, boolean datasync) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default StatfsOut statfs(FuseRequest r, long nodeid) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** {@code mask}: R_OK 4, W_OK 2, X_OK 1, F_OK 0. ENOSYS makes the kernel stop asking (treated as allowed). */
    default void access(FuseRequest r, long nodeid, int mask) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** {@code flags}: XATTR_CREATE 1, XATTR_REPLACE 2. */
    default void setxattr(FuseRequest r, long nodeid, String name, byte[] value, int flags) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** The whole value; the layer answers size probes and ERANGE. ENODATA if absent. */
    default byte[] getxattr(FuseRequest r, long nodeid, String name) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** All names; the layer encodes them, answers size probes and ERANGE. */
    default List<String> listxattr(FuseRequest r, long nodeid) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void removexattr(FuseRequest r, long nodeid, String name) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * Asked once, before INIT: may the kernel cache POSIX ACLs (FUSE_POSIX_ACL)? It then asks for
     * an inode's system.posix_acl_access or _default once and keeps the answer, an absence too,
     * until the inode's attributes are fetched again or dropped (GETATTR, LOOKUP, READDIRPLUS,
     * FUSE_NOTIFY_INVAL_INODE), so such a filesystem must drop the attributes of a file whose ACL
     * changed elsewhere. It also makes the kernel check permissions itself from the mode, owner
     * and ACLs, as with {@code default_permissions}, which FUSE_POSIX_ACL implies.
     */
    default boolean cachesAcls() {
        return false;
    }

    /**
     * Asked once, before INIT: does this filesystem clear a file's setuid bit, and its setgid bit
     * when group-executable, where the kernel says so (FUSE_HANDLE_KILLPRIV_V2)? The kernel then
     * says so on a WRITE whose writer lacks CAP_FSETID (FUSE_WRITE_KILL_SUIDGID), an OPEN or
     * CREATE with O_TRUNC by such a caller ({@link FuseRequest#killSuidgid}), a SETATTR that
     * truncates for one or changes the owner ({@link SetattrIn#FATTR_KILL_SUIDGID}), and no longer
     * does it itself. Why a filesystem would: without it the kernel asks for the file's
     * security.capability (a GETXATTR round trip) before every write(2), because the superblock
     * lacks SB_NOSEC, which FUSE sets only for such filesystems; with it, once per inode.
     */
    default boolean killsSuidgid() {
        return false;
    }

    /** Returns the conflicting lock, or a lock of type F_UNLCK if {@code lock} could be placed. */
    default FileLock getlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * Places or removes a lock. {@code sleep} (SETLKW): wait for the lock, and stop waiting with
     * EINTR when {@link FuseRequest#onInterrupt} fires; otherwise fail with EAGAIN on conflict.
     */
    default void setlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock, boolean sleep)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    /** {@code whence}: SEEK_DATA 3 or SEEK_HOLE 4 (the kernel handles the others itself). */
    default long lseek(FuseRequest r, long nodeid, long fh, long offset, int whence) throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }

    default void fallocate(FuseRequest r, long nodeid, long fh, long offset, long length, int mode)
            throws FuseException {
        throw new FuseException(Errno.ENOSYS);
    }
}
