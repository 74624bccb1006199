package io.c9fs.server;

import io.c9fs.transport.Errno;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * The Linux system calls the server makes, through jnr-ffi, each failing with an
 * {@link ErrnoException} carrying the host errno. Only x86_64 layouts are handled (struct stat,
 * statfs, flock, open_how, linux_dirent64).
 *
 * <p>Threading: every method may be called from any thread. errno is read with
 * {@link Runtime#getLastError()} right after the failing call, before any other native call of
 * the same thread. Scratch buffers for structures are per thread.
 */
public final class Posix {
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3,
            O_CREAT = 0100, O_EXCL = 0200, O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000,
            O_NONBLOCK = 04000, O_DSYNC = 010000, O_DIRECT = 040000, O_LARGEFILE = 0100000,
            O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_NOATIME = 01000000,
            O_CLOEXEC = 02000000, O_SYNC = 04010000, O_PATH = 010000000;
    public static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200,
            AT_SYMLINK_FOLLOW = 0x400, AT_EMPTY_PATH = 0x1000;
    public static final long RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02,
            RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;
    public static final int F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_DUPFD_CLOEXEC = 1030;
    public static final short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    public static final int SEEK_SET = 0;
    public static final long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    public static final int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public static final int SYNC_FILE_RANGE_WRITE = 2;

    private static final long SYS_OPENAT2 = 437;
    private static final long SYS_GETDENTS64 = 217;
    /** getxattrat(2), Linux 6.13: an xattr of a name relative to a directory descriptor. */
    private static final long SYS_GETXATTRAT = 464;
    /** Cleared for good once it proves missing: an older kernel, or a seccomp filter that refuses it. */
    private static volatile boolean haveGetxattrat = true;

    /** cachestat(2), Linux 6.5: what the page cache holds of a range of a file. */
    private static final long SYS_CACHESTAT = 451;
    /** Cleared for good once it proves missing (an older kernel, or a seccomp filter that refuses it). */
    private static volatile boolean haveCachestat = true;

    /** The libc entry points; variadic ones (fcntl, syscall) are declared with the x86_64 integer ABI. */
    public interface LibC {
        long syscall(long number, int dirfd, String path, @In ByteBuffer how, long size);
        long syscall(long number, int fd, @Out ByteBuffer buf, long count);
        long syscall(long number, int dirfd, String path, int atFlags, String name, @In ByteBuffer args, long size);
        long syscall(long number, int fd, @In ByteBuffer range, @Out ByteBuffer cstat, int flags);
        int openat(int dirfd, String path, int flags, int mode);
        int close(int fd);
        int fstatat(int dirfd, String path, @Out ByteBuffer stat, int flags);
        int fstatfs(int fd, @Out ByteBuffer statfs);
        int mkdirat(int dirfd, String path, int mode);
        int unlinkat(int dirfd, String path, int flags);
        int renameat(int olddirfd, String oldpath, int newdirfd, String newpath);
        int linkat(int olddirfd, String oldpath, int newdirfd, String newpath, int flags);
        int symlinkat(String target, int newdirfd, String linkpath);
        long readlinkat(int dirfd, String path, @Out ByteBuffer buf, long size);
        int mknodat(int dirfd, String path, int mode, long dev);
        int fchmodat(int dirfd, String path, int mode, int flags);
        int fchownat(int dirfd, String path, int uid, int gid, int flags);
        int utimensat(int dirfd, String path, @In ByteBuffer times, int flags);
        int truncate(String path, long length);
        long pread(int fd, @Out ByteBuffer buf, long count, long offset);
        long preadv2(int fd, @In long[] iov, int iovcnt, long offset, int flags);
        long pwrite(int fd, @In ByteBuffer buf, long count, long offset);
        long pwritev(int fd, @In ByteBuffer iov, int iovcnt, long offset);
        int fsync(int fd);
        int sync_file_range(int fd, long offset, long nbytes, int flags);
        int fdatasync(int fd);
        long lseek(int fd, long offset, int whence);
        int fcntl(int fd, int cmd, ByteBuffer flock);
        int fcntl(int fd, int cmd, int arg);
        long getxattr(String path, String name, @Out ByteBuffer value, long size);
        long lgetxattr(String path, String name, @Out ByteBuffer value, long size);
        long listxattr(String path, @Out ByteBuffer list, long size);
        int setxattr(String path, String name, @In ByteBuffer value, long size, int flags);
        int removexattr(String path, String name);
        int geteuid();

        int getrlimit(int resource, @Out long[] rlim);

        int setrlimit(int resource, @In long[] rlim);
    }

    private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    private static final ThreadLocal<ByteBuffer> SCRATCH = ThreadLocal.withInitial(
            () -> ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN));

    private Posix() {
    }

    private static final int RLIMIT_NOFILE = 7;

    /**
     * Raises this process's open-file limit as far as it may go, and returns the new soft limit:
     * every fid holds descriptors, and a client's kernel may cache tens of thousands of inodes
     * (one fid each). Root may raise the hard limit too, up to /proc/sys/fs/nr_open.
     */
    public static long raiseOpenFileLimit() {
        long[] lim = new long[2];
        if (LIBC.getrlimit(RLIMIT_NOFILE, lim) != 0) {
            return -1;
        }
        long want = lim[1];
        if (LIBC.geteuid() == 0) {
            try {
                want = Math.max(want, Long.parseLong(java.nio.file.Files.readString(
                        java.nio.file.Path.of("/proc/sys/fs/nr_open")).trim()));
            } catch (java.io.IOException | NumberFormatException e) {
                // keep the hard limit
            }
        }
        long[] raised = {want, want};
        if (LIBC.setrlimit(RLIMIT_NOFILE, raised) == 0) {
            return want;
        }
        long[] soft = {lim[1], lim[1]};
        return LIBC.setrlimit(RLIMIT_NOFILE, soft) == 0 ? lim[1] : lim[0];
    }

    private static ByteBuffer scratch() {
        ByteBuffer b = SCRATCH.get();
        b.clear();
        return b;
    }

    private static int check(int r, String what) throws ErrnoException {
        if (r < 0) {
            throw new ErrnoException(RUNTIME.getLastError(), what);
        }
        return r;
    }

    private static long check(long r, String what) throws ErrnoException {
        if (r < 0) {
            throw new ErrnoException(RUNTIME.getLastError(), what);
        }
        return r;
    }

    /** openat2(2): resolves {@code path} relative to {@code dirfd} under the RESOLVE_* rules. */
    public static int openat2(int dirfd, String path, int flags, int mode, long resolve)
            throws ErrnoException {
        ByteBuffer how = scratch();
        how.putLong(0, Integer.toUnsignedLong(flags)).putLong(8, mode).putLong(16, resolve);
        how.limit(24);
        return (int) check(LIBC.syscall(SYS_OPENAT2, dirfd, path, how, 24), "openat2 " + path);
    }

    public static int openat(int dirfd, String path, int flags, int mode) throws ErrnoException {
        return check(LIBC.openat(dirfd, path, flags, mode), "openat " + path);
    }

    /** Opens the file an O_PATH descriptor names for I/O, through its /proc/self/fd magic link. */
    public static int reopen(int pathFd, int flags) throws ErrnoException {
        return check(LIBC.openat(AT_FDCWD, procPath(pathFd), flags & ~(O_CREAT | O_EXCL), 0),
                "reopen");
    }

    private static volatile boolean directOpensRefused;

    /** Tests: {@link #reopenDirect} fails with EINVAL, as on a file system without O_DIRECT. */
    static void refuseDirectOpens(boolean on) {
        directOpensRefused = on;
    }

    /**
     * The file of {@code fd} opened again, read-only and O_DIRECT (close-on-exec): EINVAL where
     * the file system does not do direct I/O.
     */
    public static int reopenDirect(int fd) throws ErrnoException {
        if (directOpensRefused) {
            throw new ErrnoException(Errno.EINVAL, "reopen O_DIRECT (refused for a test)");
        }
        return reopen(fd, O_RDONLY | O_DIRECT | O_CLOEXEC);
    }

    /** A second descriptor (close-on-exec) for the open file of {@code fd}; O_PATH fds included. */
    public static int dup(int fd) throws ErrnoException {
        return check(LIBC.fcntl(fd, F_DUPFD_CLOEXEC, 3), "dup");
    }

    /** The magic link of our own descriptor: the way to apply path-only calls to an O_PATH fd. */
    public static String procPath(int fd) {
        return "/proc/self/fd/" + fd;
    }

    /** Closes, ignoring errors: the descriptor is gone either way (close(2), "dealing with error returns"). */
    public static void close(int fd) {
        if (fd >= 0) {
            LIBC.close(fd);
        }
    }

    /** fstatat with AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW: the file {@code fd} itself, O_PATH fds included. */
    public static HostStat fstat(int fd) throws ErrnoException {
        return fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    }

    public static HostStat fstatat(int dirfd, String name, int flags) throws ErrnoException {
        ByteBuffer b = scratch();
        check(LIBC.fstatat(dirfd, name, b, flags), "fstatat");
        return HostStat.decode(b);
    }

    /** fstatfs into the 120-byte x86_64 struct statfs; returns a little-endian copy. */
    public static ByteBuffer fstatfs(int fd) throws ErrnoException {
        ByteBuffer b = scratch();
        check(LIBC.fstatfs(fd, b), "fstatfs");
        ByteBuffer copy = ByteBuffer.allocate(120).order(ByteOrder.LITTLE_ENDIAN);
        b.limit(120);
        copy.put(b).flip();
        return copy;
    }

    public static void mkdirat(int dirfd, String name, int mode) throws ErrnoException {
        check(LIBC.mkdirat(dirfd, name, mode), "mkdirat");
    }

    public static void unlinkat(int dirfd, String name, int flags) throws ErrnoException {
        check(LIBC.unlinkat(dirfd, name, flags), "unlinkat");
    }

    public static void renameat(int olddirfd, String oldname, int newdirfd, String newname)
            throws ErrnoException {
        check(LIBC.renameat(olddirfd, oldname, newdirfd, newname), "renameat");
    }

    public static void linkat(int olddirfd, String oldname, int newdirfd, String newname, int flags)
            throws ErrnoException {
        check(LIBC.linkat(olddirfd, oldname, newdirfd, newname, flags), "linkat");
    }

    public static void symlinkat(String target, int dirfd, String name) throws ErrnoException {
        check(LIBC.symlinkat(target, dirfd, name), "symlinkat");
    }

    public static String readlinkat(int dirfd, String name) throws ErrnoException {
        ByteBuffer b = scratch();
        long n = check(LIBC.readlinkat(dirfd, name, b, b.capacity()), "readlinkat");
        byte[] bytes = new byte[(int) n];
        b.get(0, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    public static void mknodat(int dirfd, String name, int mode, long dev) throws ErrnoException {
        check(LIBC.mknodat(dirfd, name, mode, dev), "mknodat");
    }

    public static void fchmodat(int dirfd, String path, int mode) throws ErrnoException {
        check(LIBC.fchmodat(dirfd, path, mode, 0), "fchmodat");
    }

    public static void fchownat(int dirfd, String path, int uid, int gid, int flags)
            throws ErrnoException {
        check(LIBC.fchownat(dirfd, path, uid, gid, flags), "fchownat");
    }

    /** utimensat; a nanosecond field may be {@link #UTIME_NOW} or {@link #UTIME_OMIT}. */
    public static void utimensat(int dirfd, String path, long aSec, long aNsec, long mSec,
                                 long mNsec, int flags) throws ErrnoException {
        ByteBuffer t = scratch();
        t.putLong(0, aSec).putLong(8, aNsec).putLong(16, mSec).putLong(24, mNsec).limit(32);
        check(LIBC.utimensat(dirfd, path, t, flags), "utimensat");
    }

    public static void truncate(String path, long length) throws ErrnoException {
        check(LIBC.truncate(path, length), "truncate");
    }

    /** pread into {@code dst} from its position; returns the count (0 at end of file). */
    public static int pread(int fd, ByteBuffer dst, long offset) throws ErrnoException {
        return (int) check(LIBC.pread(fd, dst, dst.remaining(), offset), "pread");
    }

    /** preadv2 flag: fail with EAGAIN rather than wait for the disk (Linux 4.14, buffered reads). */
    private static final int RWF_NOWAIT = 0x08;

    /**
     * Reads {@code count} bytes at {@code offset} into native memory at {@code address} only if the
     * page cache holds them now (preadv2 RWF_NOWAIT): the count read, which is short when part of
     * the range is not cached or the file ends; -1 when nothing could be read without waiting, or
     * when the file system or kernel does not support it. Never blocks on the disk, so an event
     * loop may call it. Any error is -1 too: a caller that gets -1 reads the blocking way, which
     * reports the error.
     */
    public static int preadCached(int fd, long address, int count, long offset) {
        long r = LIBC.preadv2(fd, new long[] {address, count}, 1, offset, RWF_NOWAIT);
        return r < 0 ? -1 : (int) r;
    }

    /** Pages of a range of a file in the host's page cache, and of those dirty or being written back. */
    public record CachedPages(long cached, long dirty, long writeback) {
    }

    /**
     * What the page cache holds of {@code length} bytes at {@code offset} of {@code fd}
     * (cachestat(2), Linux 6.5), reading nothing and starting no readahead, which a preadv2
     * RWF_NOWAIT probe of a range not cached does. Null when the kernel cannot tell: no
     * cachestat (ENOSYS, or EPERM from a seccomp filter that does not know it, after which it is
     * not asked again), or any other error.
     */
    public static CachedPages cachestat(int fd, long offset, long length) {
        if (!haveCachestat) {
            return null;
        }
        // struct cachestat_range {u64 off; u64 len} in, struct cachestat (five u64) out.
        ByteBuffer b = scratch();
        ByteBuffer range = b.slice(0, 16).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = b.slice(16, 40).order(ByteOrder.LITTLE_ENDIAN);
        range.putLong(0, offset).putLong(8, length);
        if (LIBC.syscall(SYS_CACHESTAT, fd, range, out, 0) < 0) {
            int errno = RUNTIME.getLastError();
            if (errno == Errno.ENOSYS || errno == Errno.EPERM) {
                haveCachestat = false;
            }
            return null;
        }
        return new CachedPages(out.getLong(0), out.getLong(8), out.getLong(16));
    }

    public static int pwrite(int fd, ByteBuffer src, long offset) throws ErrnoException {
        return (int) check(LIBC.pwrite(fd, src, src.remaining(), offset), "pwrite");
    }

    /** Largest iovcnt passed at once (the kernel's IOV_MAX is 1024). */
    static final int IOV_MAX = 64;
    private static final ThreadLocal<ByteBuffer> IOVECS = ThreadLocal.withInitial(
            () -> ByteBuffer.allocateDirect(16 * IOV_MAX).order(ByteOrder.nativeOrder()));

    /**
     * One pwritev of the remaining bytes of {@code srcs[from..]} (direct buffers, at most
     * {@link #IOV_MAX} of them) at {@code offset}, gathered by the kernel; the buffers' positions
     * are left alone. Returns the count written, which may be short.
     */
    public static long pwritev(int fd, ByteBuffer[] srcs, int from, long offset) throws ErrnoException {
        if (!io.netty.util.internal.PlatformDependent.hasUnsafe()) {
            // No way to learn a buffer's address: one buffer at a time.
            return pwrite(fd, srcs[from].duplicate(), offset);
        }
        ByteBuffer iov = IOVECS.get();
        int n = Math.min(srcs.length - from, IOV_MAX);
        for (int i = 0; i < n; i++) {
            ByteBuffer b = srcs[from + i];
            if (!b.isDirect()) {
                throw new IllegalArgumentException("pwritev of a heap buffer");
            }
            iov.putLong(16 * i, io.netty.util.internal.PlatformDependent.directBufferAddress(b) + b.position());
            iov.putLong(16 * i + 8, b.remaining());
        }
        return check(LIBC.pwritev(fd, iov, n, offset), "pwritev");
    }

    /** sync_file_range(SYNC_FILE_RANGE_WRITE): starts write-back of the range's dirty pages, does not wait for it. */
    public static void startWriteback(int fd, long offset, long length) throws ErrnoException {
        check(LIBC.sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE), "sync_file_range");
    }

    public static void fsync(int fd, boolean dataOnly) throws ErrnoException {
        check(dataOnly ? LIBC.fdatasync(fd) : LIBC.fsync(fd), "fsync");
    }

    public static void lseek(int fd, long offset) throws ErrnoException {
        check(LIBC.lseek(fd, offset, SEEK_SET), "lseek");
    }

    /** getdents64 into {@code buf} (from 0); returns the bytes filled, 0 at the end. */
    public static int getdents64(int fd, ByteBuffer buf) throws ErrnoException {
        buf.clear();
        return (int) check(LIBC.syscall(SYS_GETDENTS64, fd, buf, buf.capacity()), "getdents64");
    }

    /**
     * fcntl with a struct flock (l_whence SEEK_SET). For F_OFD_GETLK returns the conflicting
     * lock as {type, start, len} or null when the range is free; for F_OFD_SETLK returns null.
     */
    public static long[] ofdLock(int fd, int cmd, short type, long start, long len)
            throws ErrnoException {
        ByteBuffer fl = scratch();
        fl.putShort(0, type).putShort(2, (short) SEEK_SET).putLong(8, start).putLong(16, len)
                .putInt(24, 0).limit(32);
        check(LIBC.fcntl(fd, cmd, fl), "fcntl lock");
        if (cmd == F_OFD_GETLK && fl.getShort(0) != F_UNLCK) {
            return new long[] {fl.getShort(0), fl.getLong(8), fl.getLong(16)};
        }
        return null;
    }

    /** getxattr; with {@code dst} null returns the size only. */
    public static int getxattr(String path, String name, ByteBuffer dst) throws ErrnoException {
        return (int) check(LIBC.getxattr(path, name, dst, dst == null ? 0 : dst.remaining()),
                "getxattr");
    }

    /** lgetxattr: as {@link #getxattr} but never through a final symlink. */
    public static int lgetxattr(String path, String name, ByteBuffer dst) throws ErrnoException {
        return (int) check(LIBC.lgetxattr(path, name, dst, dst == null ? 0 : dst.remaining()),
                "lgetxattr");
    }

    /**
     * Whether {@code name} in directory {@code dirfd} has the xattr {@code xattr} (never through a
     * final symlink): false only on ENODATA. getxattrat(2) where the kernel has it; otherwise
     * lgetxattr through the directory's /proc/self/fd link, a path walk through procfs per call
     * (a third of a listing's server CPU when every entry is asked for its ACL).
     */
    public static boolean hasXattrAt(int dirfd, String name, String xattr) {
        int errno = 0;
        if (haveGetxattrat) {
            // struct xattr_args {u64 value; u32 size; u32 flags}: no buffer, so the call returns the size.
            ByteBuffer args = scratch();
            args.putLong(0, 0).putLong(8, 0).limit(16);
            int refusal = getxattratRefusal;
            long r = refusal != 0 ? -1 : LIBC.syscall(SYS_GETXATTRAT, dirfd, name, AT_SYMLINK_NOFOLLOW, xattr, args, 16);
            if (r >= 0) {
                return true;
            }
            errno = refusal != 0 ? refusal : RUNTIME.getLastError();
            // ENOSYS: a kernel before 6.13. EPERM: most likely a seccomp filter that refuses
            // calls it does not know (Docker's default profile answers those so): asked again
            // the old way below, and if that way answers otherwise, the filter it was.
            if (errno != Errno.ENOSYS && errno != Errno.EPERM) {
                return errno != Errno.ENODATA;
            }
        }
        boolean has = LIBC.lgetxattr(procPath(dirfd) + "/" + name, xattr, null, 0) >= 0;
        int procErrno = has ? 0 : RUNTIME.getLastError();
        if (errno == Errno.ENOSYS || (errno == Errno.EPERM && procErrno != Errno.EPERM)) {
            haveGetxattrat = false;
        }
        return has || procErrno != Errno.ENODATA;
    }

    /** Tests: probe with getxattrat(2) ({@code true}, if the kernel has it) or through /proc. */
    static void probeXattrsAt(boolean at) {
        haveGetxattrat = at;
    }

    /** Tests: whether the next probe will use getxattrat(2). */
    static boolean probesXattrsAt() {
        return haveGetxattrat;
    }

    /** Tests: getxattrat(2) fails with this errno without being called, as under a seccomp filter; 0 calls it. */
    static volatile int getxattratRefusal;

    public static int listxattr(String path, ByteBuffer dst) throws ErrnoException {
        return (int) check(LIBC.listxattr(path, dst, dst == null ? 0 : dst.remaining()),
                "listxattr");
    }

    public static void setxattr(String path, String name, ByteBuffer value, int flags)
            throws ErrnoException {
        check(LIBC.setxattr(path, name, value, value.remaining(), flags), "setxattr");
    }

    public static void removexattr(String path, String name) throws ErrnoException {
        check(LIBC.removexattr(path, name), "removexattr");
    }

    public static int geteuid() {
        return LIBC.geteuid();
    }
}
