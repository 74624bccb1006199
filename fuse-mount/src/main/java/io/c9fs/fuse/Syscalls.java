package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.byref.IntByReference;

/**
 * The libc calls Java lacks, bound with jnr-ffi. Only x86_64/aarch64 Linux (LP64) layouts are used
 * by the callers. Read {@link #errno()} immediately after a failing call, before any other native call
 * on the same thread.
 */
final class Syscalls {
    static final int O_RDONLY = 0;
    static final int O_DIRECTORY = 0200000;
    static final int O_RDWR = 2;
    static final int O_WRONLY = 1;
    static final int O_TRUNC = 01000;
    static final int O_CLOEXEC = 02000000;
    static final long MS_RDONLY = 1;
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    static final int MNT_DETACH = 2;
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 02000000;
    static final short POLLIN = 1;
    static final int WNOHANG = 1;
    static final int SIGKILL = 9;

    /** The bound libc; public only because jnr-ffi generates its implementation in another class loader. */
    public interface LibC {
        int open(String path, int flags, int mode);

        long read(int fd, ByteBuffer buf, long count);

        long write(int fd, ByteBuffer buf, long count);

        int close(int fd);

        int syncfs(int fd);

        int mount(String source, String target, String fstype, long flags, String data);

        int umount2(String target, int flags);

        int getuid();

        int getgid();

        int poll(ByteBuffer fds, long nfds, int timeoutMillis);

        int socketpair(int domain, int type, int protocol, int[] sv);

        long recvmsg(int fd, Pointer msg, int flags);

        int posix_spawn(IntByReference pid, String path, Pointer fileActions, Pointer attr, Pointer argv,
                        Pointer envp);

        int posix_spawn_file_actions_init(Pointer fileActions);

        int posix_spawn_file_actions_destroy(Pointer fileActions);

        int posix_spawn_file_actions_adddup2(Pointer fileActions, int fd, int newfd);

        int posix_spawn_file_actions_addopen(Pointer fileActions, int fd, String path, int oflag, int mode);

        int posix_spawn_file_actions_addclosefrom_np(Pointer fileActions, int from);

        int waitpid(int pid, IntByReference status, int options);

        int kill(int pid, int sig);

        String strerror(int errno);
    }

    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    private Syscalls() {
    }

    static int errno() {
        return RUNTIME.getLastError();
    }

    static String strerror(int errno) {
        return LIBC.strerror(errno);
    }

    /** poll(2) for POLLIN on one descriptor; false on timeout. */
    static boolean awaitReadable(int fd, int timeoutMillis) throws FuseException {
        ByteBuffer pollfd = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
        pollfd.putInt(0, fd).putShort(4, POLLIN);
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            int left = (int) Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
            int rc = LIBC.poll(pollfd, 1, left);
            if (rc > 0) {
                return true;
            }
            if (rc == 0) {
                return false;
            }
            int errno = errno();
            if (errno != Errno.EINTR) {
                throw new FuseException(errno, "poll: " + strerror(errno));
            }
        }
    }
}
