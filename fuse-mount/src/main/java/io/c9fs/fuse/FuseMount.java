package io.c9fs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Mounts a {@link FuseFilesystem}: as root with mount(2) on a freshly opened /dev/fuse; otherwise
 * (or with {@link MountOptions#useFusermount()}) through fusermount3. Then negotiates FUSE_INIT,
 * calls {@link FuseFilesystem#init} and starts the workers. Callable from any thread.
 */
public final class FuseMount {
    private FuseMount() {
    }

    /**
     * @throws FuseException with a message for: /dev/fuse missing (ENODEV), mountpoint missing
     *                       (ENOENT), not a directory (ENOTDIR), not empty without "nonempty"
     *                       (ENOTEMPTY), fusermount3 missing (ENOENT), mount(2) refused (EPERM)
     */
    public static FuseSession mount(Path mountpoint, MountOptions options, FuseFilesystem fs)
            throws FuseException, IOException {
        Path mp = checkMountpoint(mountpoint, options);
        if (!Files.exists(Path.of("/dev/fuse"))) {
            throw new FuseException(Errno.ENODEV, "/dev/fuse does not exist (load the fuse module: modprobe fuse)");
        }
        boolean viaFusermount = options.useFusermount() || Syscalls.LIBC.getuid() != 0;
        FuseDevice device;
        if (viaFusermount) {
            device = Fusermount.mount(mp, fusermountOptions(options));
        } else {
            device = FuseDevice.open();
            mountSyscall(device, mp, options);
        }
        try {
            long connection = connectionId(mp);
            InitHandshake.Result init = InitHandshake.run(device, options, handlesLocks(fs), fs.cachesAcls(),
                    fs.killsSuidgid());
            widenReadahead(connection, init.maxReadahead());
            FuseSession session = new FuseSession(mp, device, init, fs, options, viaFusermount, connection);
            fs.init(session);
            session.start();
            return session;
        } catch (FuseException | IOException | RuntimeException e) {
            try {
                FuseSession.detach(mp, viaFusermount);
            } catch (FuseException | IOException again) {
                e.addSuppressed(again);
            }
            device.close();
            throw e;
        }
    }

    /**
     * The kernel reads ahead of a sequential reader by its bdi's read_ahead_kb, which starts at
     * 128 KiB for a FUSE mount and which INIT's max_readahead can only lower. Each window becomes
     * READs of at most 128 KiB, a round trip through a worker each: four times as many requests
     * per gigabyte as the 512 KiB (or 1 MiB) READs our max_pages allows. Root (a mount(2)
     * mount) may raise it in sysfs once INIT is done; otherwise the kernel's value stays.
     * Measured on a 1 GiB cold read: the mount's CPU fell by a third and throughput rose ~40%.
     */
    static void widenReadahead(long connection, int bytes) {
        if (connection < 0 || bytes <= 0 || Syscalls.LIBC.getuid() != 0) {
            return;
        }
        Path ra = Path.of("/sys/class/bdi/" + (connection >>> 20) + ":" + (connection & 0xfffff) + "/read_ahead_kb");
        try {
            Files.writeString(ra, Integer.toString(bytes / 1024), StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            System.getLogger(FuseMount.class.getName()).log(System.Logger.Level.DEBUG,
                    "cannot set " + ra + ": " + e);
        }
    }

    private static Path checkMountpoint(Path mountpoint, MountOptions options) throws FuseException, IOException {
        if (!Files.exists(mountpoint)) {
            throw new FuseException(Errno.ENOENT, "mountpoint " + mountpoint + " does not exist");
        }
        if (!Files.isDirectory(mountpoint)) {
            throw new FuseException(Errno.ENOTDIR, "mountpoint " + mountpoint + " is not a directory");
        }
        if (!options.has("nonempty")) {
            try (Stream<Path> entries = Files.list(mountpoint)) {
                if (entries.findAny().isPresent()) {
                    throw new FuseException(Errno.ENOTEMPTY, "mountpoint " + mountpoint
                            + " is not empty (pass the \"nonempty\" option to mount over it)");
                }
            }
        }
        return mountpoint.toRealPath();
    }

    private static void mountSyscall(FuseDevice device, Path mp, MountOptions options) throws FuseException {
        List<String> data = new ArrayList<>(List.of("fd=" + device.fd(), "rootmode=40000",
                "user_id=" + Syscalls.LIBC.getuid(), "group_id=" + Syscalls.LIBC.getgid()));
        data.addAll(kernelOptions(options));
        long flags = Syscalls.MS_NOSUID | Syscalls.MS_NODEV | (options.readOnly() ? Syscalls.MS_RDONLY : 0);
        String type = "fuse." + options.subtype();
        if (Syscalls.LIBC.mount(options.fsname(), mp.toString(), type, flags, String.join(",", data)) != 0) {
            int errno = Syscalls.errno();
            device.close();
            throw new FuseException(errno, "mount(2) of " + type + " on " + mp + ": " + Syscalls.strerror(errno)
                    + (errno == Errno.EPERM ? " (needs CAP_SYS_ADMIN; set useFusermount to mount as a user)" : ""));
        }
    }

    /** Options the kernel itself understands, shared by both mount paths. */
    private static List<String> kernelOptions(MountOptions options) {
        List<String> o = new ArrayList<>();
        if (options.allowOther()) {
            o.add("allow_other");
        }
        for (String e : options.extra()) {
            if (e.equals("default_permissions") || e.startsWith("max_read=")) {
                o.add(e);
            }
        }
        return o;
    }

    private static String fusermountOptions(MountOptions options) {
        List<String> o = new ArrayList<>(List.of("fsname=" + options.fsname(), "subtype=" + options.subtype(),
                options.readOnly() ? "ro" : "rw", "nosuid", "nodev"));
        o.addAll(kernelOptions(options));
        return String.join(",", o);
    }

    /** Filesystems that override setlk get POSIX_LOCKS; otherwise the kernel keeps locks local. */
    private static boolean handlesLocks(FuseFilesystem fs) {
        try {
            return fs.getClass().getMethod("setlk", FuseRequest.class, long.class, long.class, long.class,
                    FileLock.class, boolean.class).getDeclaringClass() != FuseFilesystem.class;
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    /** True if something (of any type) is mounted on {@code real}, per /proc/self/mountinfo. */
    public static boolean isMountpoint(Path real) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
                String[] f = l.split(" ");
                if (f.length > 4 && unescape(f[4]).equals(real.toString())) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /**
     * The fusectl connection number is the superblock's device number, read from
     * /proc/self/mountinfo (stat on the mountpoint would itself need a worker). -1 if not found.
     */
    static long connectionId(Path mp) throws IOException {
        long id = -1;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            String[] f = line.split(" ");
            int dash = line.indexOf(" - ");
            if (f.length < 5 || dash < 0 || !unescape(f[4]).equals(mp.toString())
                    || !line.substring(dash + 3).startsWith("fuse")) {
                continue;
            }
            String[] majMin = f[2].split(":");
            id = (Long.parseLong(majMin[0]) << 20) | Long.parseLong(majMin[1]);
        }
        return id;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
