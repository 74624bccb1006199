package io.c9fs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.byref.IntByReference;

/**
 * Mounting and unmounting without privileges through the setuid helper fusermount3. fusermount3
 * opens /dev/fuse, mounts, and sends the descriptor back over the unix socket named by the
 * environment variable _FUSE_COMMFD (one byte of data plus an SCM_RIGHTS control message).
 *
 * <p>The helper is started with posix_spawn, not ProcessBuilder: the JDK closes every descriptor
 * above 2 in the child, and the socket must survive as a numbered descriptor. The file actions
 * place the socket at fd 3 and close everything above it.
 *
 * <p>Threads: stateless; callable from any thread.
 */
final class Fusermount {
    private static final int CHILD_SOCKET_FD = 3;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final long TIMEOUT_MILLIS = 10_000;

    private Fusermount() {
    }

    /** The fusermount3 binary from PATH (or /usr/bin, /bin), or a clear error. */
    static Path binary() throws FuseException {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(":")));
        }
        dirs.addAll(List.of("/usr/bin", "/bin"));
        for (String d : dirs) {
            Path p = Path.of(d.isEmpty() ? "." : d, "fusermount3");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new FuseException(Errno.ENOENT, "fusermount3 not found in PATH (install the fuse3 package)");
    }

    /** Runs "fusermount3 -o OPTIONS -- MOUNTPOINT" and returns the /dev/fuse descriptor it mounted. */
    static FuseDevice mount(Path mountpoint, String options) throws FuseException, IOException {
        Path helper = binary();
        int[] sv = new int[2];
        if (Syscalls.LIBC.socketpair(Syscalls.AF_UNIX, Syscalls.SOCK_STREAM | Syscalls.SOCK_CLOEXEC, 0, sv) != 0) {
            int errno = Syscalls.errno();
            throw new FuseException(errno, "socketpair: " + Syscalls.strerror(errno));
        }
        Path stderr = Files.createTempFile("c9fs-fusermount", ".err");
        try {
            int pid = spawn(helper, List.of(helper.toString(), "-o", options, "--", mountpoint.toString()),
                    sv[1], stderr);
            Syscalls.LIBC.close(sv[1]);
            sv[1] = -1;
            int fd = receiveFd(sv[0]);
            int status = reap(pid);
            String message = Files.readString(stderr, StandardCharsets.UTF_8).trim();
            if (fd < 0) {
                throw new FuseException(status == 0 ? Errno.EIO : Errno.EPERM,
                        "fusermount3 failed (exit " + status + "): " + message);
            }
            return new FuseDevice(fd);
        } finally {
            Syscalls.LIBC.close(sv[0]);
            if (sv[1] >= 0) {
                Syscalls.LIBC.close(sv[1]);
            }
            Files.deleteIfExists(stderr);
        }
    }

    /** "fusermount3 -u [-z] MOUNTPOINT"; returns its exit status (0 = unmounted). */
    static int unmount(Path mountpoint, boolean lazy) throws FuseException, IOException {
        List<String> cmd = new ArrayList<>(List.of(binary().toString(), "-u", "-q"));
        if (lazy) {
            cmd.add("-z");
        }
        cmd.add(mountpoint.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            if (!p.waitFor(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new FuseException(Errno.EIO, "fusermount3 -u did not finish within " + TIMEOUT_MILLIS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new FuseException(Errno.EINTR, "interrupted while waiting for fusermount3 -u");
        }
        return p.exitValue();
    }

    private static int spawn(Path helper, List<String> argv, int socket, Path stderr) throws FuseException {
        jnr.ffi.Runtime rt = Syscalls.RUNTIME;
        Pointer actions = Memory.allocateDirect(rt, 256);
        Syscalls.LIBC.posix_spawn_file_actions_init(actions);
        try {
            Syscalls.LIBC.posix_spawn_file_actions_adddup2(actions, socket, CHILD_SOCKET_FD);
            Syscalls.LIBC.posix_spawn_file_actions_addclosefrom_np(actions, CHILD_SOCKET_FD + 1);
            Syscalls.LIBC.posix_spawn_file_actions_addopen(actions, 2, stderr.toString(),
                    Syscalls.O_WRONLY | Syscalls.O_TRUNC, 0);
            List<String> env = new ArrayList<>();
            for (Map.Entry<String, String> e : System.getenv().entrySet()) {
                if (!e.getKey().equals("_FUSE_COMMFD")) {
                    env.add(e.getKey() + "=" + e.getValue());
                }
            }
            env.add("_FUSE_COMMFD=" + CHILD_SOCKET_FD);
            List<Pointer> keep = new ArrayList<>();
            Pointer argvArray = stringArray(argv, keep);
            Pointer envArray = stringArray(env, keep);
            IntByReference pid = new IntByReference();
            int rc = Syscalls.LIBC.posix_spawn(pid, helper.toString(), actions, null, argvArray, envArray);
            if (rc != 0) {
                throw new FuseException(rc, "posix_spawn " + helper + ": " + Syscalls.strerror(rc));
            }
            return pid.intValue();
        } finally {
            Syscalls.LIBC.posix_spawn_file_actions_destroy(actions);
        }
    }

    /** A NULL-terminated char* array; {@code keep} holds the strings' memory until the call returns. */
    private static Pointer stringArray(List<String> strings, List<Pointer> keep) {
        jnr.ffi.Runtime rt = Syscalls.RUNTIME;
        int word = rt.addressSize();
        Pointer array = Memory.allocateDirect(rt, (strings.size() + 1) * word, true);
        for (int i = 0; i < strings.size(); i++) {
            byte[] raw = strings.get(i).getBytes(StandardCharsets.UTF_8);
            Pointer s = Memory.allocateDirect(rt, raw.length + 1, true);
            s.put(0, raw, 0, raw.length);
            keep.add(s);
            array.putAddress((long) i * word, s.address());
        }
        keep.add(array);
        return array;
    }

    /**
     * recvmsg of one byte with an SCM_RIGHTS message carrying the descriptor (LP64 layouts of
     * struct msghdr, iovec, cmsghdr). Returns -1 if the helper closed the socket without sending.
     */
    private static int receiveFd(int socket) throws FuseException {
        if (!Syscalls.awaitReadable(socket, (int) TIMEOUT_MILLIS)) {
            throw new FuseException(Errno.EIO, "fusermount3 sent nothing within " + TIMEOUT_MILLIS + " ms");
        }
        jnr.ffi.Runtime rt = Syscalls.RUNTIME;
        Pointer data = Memory.allocateDirect(rt, 1, true);
        Pointer iov = Memory.allocateDirect(rt, 16, true);
        iov.putAddress(0, data.address());
        iov.putLong(8, 1);
        int controlLen = 24; // CMSG_SPACE(sizeof(int))
        Pointer control = Memory.allocateDirect(rt, controlLen, true);
        Pointer msg = Memory.allocateDirect(rt, 56, true);
        msg.putAddress(16, iov.address());
        msg.putLong(24, 1);
        msg.putAddress(32, control.address());
        msg.putLong(40, controlLen);
        long n;
        do {
            n = Syscalls.LIBC.recvmsg(socket, msg, 0);
        } while (n < 0 && Syscalls.errno() == Errno.EINTR);
        if (n <= 0) {
            return -1;
        }
        if (msg.getLong(40) < 20 || control.getInt(8) != SOL_SOCKET || control.getInt(12) != SCM_RIGHTS) {
            throw new FuseException(Errno.EIO, "fusermount3 replied without a descriptor");
        }
        return control.getInt(16);
    }

    /** Waits (bounded) for the helper to exit; returns its exit status, or kills it. */
    private static int reap(int pid) throws FuseException {
        IntByReference status = new IntByReference();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS);
        while (System.nanoTime() < deadline) {
            int rc = Syscalls.LIBC.waitpid(pid, status, Syscalls.WNOHANG);
            if (rc == pid) {
                int s = status.intValue();
                return (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
            }
            if (rc < 0 && Syscalls.errno() != Errno.EINTR) {
                return -1;
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        Syscalls.LIBC.kill(pid, Syscalls.SIGKILL);
        Syscalls.LIBC.waitpid(pid, status, 0);
        throw new FuseException(Errno.EIO, "fusermount3 did not exit within " + TIMEOUT_MILLIS + " ms");
    }
}
