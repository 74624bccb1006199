package io.c9fs.mount;

import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseFilesystem;
import io.c9fs.fuse.FuseMount;
import io.c9fs.fuse.FuseSession;
import io.c9fs.fuse.MountOptions;
import io.c9fs.transport.Errno;
import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.client.NinepSession;
import io.c9fs.transport.client.RedialingSession;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.stats.StatsEndpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import sun.misc.Signal;

/**
 * The c9fs-mount command: mounts a 9P server's tree through FUSE ({@link NinepFilesystem} for
 * 9P2000.L, {@link LegacyFilesystem} when the server answers 9P2000.u or 9P2000) and serves it
 * until the mount goes away (umount, {@code c9fs-mount -u}, SIGINT or SIGTERM).
 *
 * <p>Without -f it detaches. Java cannot fork, so it starts itself again with -f in a new session
 * (setsid), stdio away from the terminal, and waits (bounded) for the child's one line on stdout:
 * "ready", or "error: why". Its exit status says whether the mount exists.
 *
 * <p>Exit status: 0 mounted and later unmounted cleanly (or detached child ready), 1 failure, 2 usage.
 *
 * <p>Threads: the main thread mounts, then waits (in bounded steps) for the kernel to report the
 * mount gone. SIGINT/SIGTERM handlers only start the unmount; the shutdown hook covers every
 * other way the JVM ends. The detaching parent reads its child's stdout on one helper thread.
 */
public final class Main {
    private static final String READY = "ready";
    private static final String ERROR = "error: ";
    /** How long the detaching parent waits for its child to mount. */
    private static final Duration DETACH_WAIT = Duration.ofSeconds(60);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Entry and attribute timeout while the server honours our leases: it recalls what changes. */
    private static final Duration LEASED_TIMEOUT = Duration.ofSeconds(60);
    /** How long a store through a shared mapping may stay in this machine's page cache (clause 3c). */
    private static final Duration FLUSH_INTERVAL = Duration.ofMillis(500);
    /** Bound of the mount's own page cache. */
    private static final long CACHE_BYTES = 256L << 20;

    private Main() {
    }

    public static void main(String[] argv) {
        // -o debug traces every FUSE request and 9P message; read before anything logs.
        io.c9fs.transport.Logs.configure(java.util.Arrays.stream(argv)
                .anyMatch(a -> java.util.Arrays.asList(a.replaceFirst("^-o", "").split(",")).contains("debug")));
        System.exit(run(argv, System.out, System.err));
    }

    /** A failure with the one-line message the user sees. */
    static final class MountFailure extends Exception {
        private static final long serialVersionUID = 1L;

        MountFailure(String message) {
            super(message);
        }
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        MountArgs args;
        try {
            args = MountArgs.parse(argv);
        } catch (MountArgs.UsageException e) {
            err.println("c9fs-mount: " + e.getMessage());
            err.println(MountArgs.USAGE.lines().findFirst().orElse(""));
            return 2;
        }
        if (args.help()) {
            out.println(MountArgs.USAGE);
            return 0;
        }
        try {
            if (args.unmount()) {
                unmount(args.mountpoint());
                return 0;
            }
            if (!args.foreground()) {
                return detach(argv, args, err);
            }
            return serve(args, out, err);
        } catch (MountFailure e) {
            if (args.notifyReady()) {
                out.println(ERROR + e.getMessage());
                out.flush();
            }
            err.println("c9fs-mount: " + e.getMessage());
            return 1;
        }
    }

    // ------------------------------------------------------------------ foreground

    private static int serve(MountArgs args, PrintStream out, PrintStream err) throws MountFailure {
        checkMountpoint(args.mountpoint(), args.fuseOptions().contains("nonempty"));
        NinepAddress address;
        try {
            address = NinepAddress.parse(args.address());
        } catch (IllegalArgumentException e) {
            throw new MountFailure(e.getMessage());
        }
        RedialingSession client = connect(address, args);
        FuseSession session;
        CachePolicy policy;
        FuseFilesystem fs;
        try {
            int rootFid = client.allocFid();
            Qid root;
            try {
                root = client.attach(rootFid, args.uname(), args.aname());
            } catch (NinepException e) {
                throw new MountFailure("attach denied by " + address + " (uname " + args.uname() + ", aname '"
                        + args.aname() + "'): " + e.getMessage());
            }
            CloseToOpenPolicy closeToOpen = new CloseToOpenPolicy(args.attrTimeout().toNanos(),
                    args.attrTimeout().toNanos(), args.attrTimeout().toNanos());
            policy = client.dialect().hasLeases()
                    ? new LeasePolicy(client, closeToOpen, LEASED_TIMEOUT.toNanos(), FLUSH_INTERVAL, CACHE_BYTES)
                    : closeToOpen;
            fs = client.dialect().isLinux()
                    ? new NinepFilesystem(client, rootFid, root, policy, args.timeout(), args.workers() - 2,
                            args.listAttrs())
                    : new LegacyFilesystem(client, rootFid, root, policy, uid(), gid(), args.timeout());
            if (fs instanceof NinepFilesystem n) {
                switch (args.acls()) {
                    case KEPT -> n.cacheAcls();
                    case HIDDEN -> n.hideAcls();
                    case SERVED -> { }
                }
            }
            MountOptions options = new MountOptions(args.address().replace(',', '_'), "c9fs", args.readOnly(),
                    args.allowOther(), args.workers(), MountOptions.MAX_WRITE_LIMIT, false, false,
                    args.fuseOptions());
            session = mount(args.mountpoint(), options, fs);
        } catch (MountFailure | RuntimeException e) {
            client.close();
            throw e instanceof MountFailure ? (MountFailure) e : new MountFailure(String.valueOf(e));
        }
        // Outages are told on the session's c9fs-redial thread, which may notify the kernel
        // (a worker must not: FINDINGS.md Q4).
        client.listener(new RedialingSession.Listener() {
            @Override
            public void connectionLost() {
                err.println("c9fs-mount: connection to " + address + " lost; "
                        + (args.softTimeout() == null ? "calls wait until it is back (hard mount)"
                        : "calls fail with EIO after " + args.softTimeout().toMillis() + " ms (soft mount)"));
                if (fs instanceof NinepFilesystem) {
                    ((NinepFilesystem) fs).connectionLost();
                } else {
                    policy.connectionLost();
                }
            }

            @Override
            public void reconnected() {
                if (fs instanceof NinepFilesystem) {
                    ((NinepFilesystem) fs).reconnected();
                }
                // After the caches are dropped: from here on nothing older than the reconnect is served.
                err.println("c9fs-mount: reconnected to " + address);
            }
        });
        StatsEndpoint stats = StatsEndpoint.open(args.mountpoint(), () -> report(args, client, fs, policy));
        AtomicBoolean stopping = new AtomicBoolean();
        // SIGINT/SIGTERM: unmount, and let the main thread finish with status 0. A shutdown hook
        // alone would end the JVM with 128+signal, and Java has no public API to catch a signal
        // and carry on, hence sun.misc.Signal. Any other way the JVM ends (SIGHUP, an error)
        // still takes the mount down through the hook.
        Thread hook = new Thread(() -> {
            stopping.set(true);
            session.close();
            client.close();
        }, "c9fs-mount-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        for (String sig : new String[] {"INT", "TERM"}) {
            Signal.handle(new Signal(sig), s -> {
                if (stopping.compareAndSet(false, true)) {
                    session.unmount();
                }
            });
        }
        if (args.notifyReady()) {
            out.println(READY);
            out.flush();
            // The parent stops reading once it saw the line: nothing may be written to it again.
            System.setOut(err);
        } else {
            err.println("c9fs-mount: " + address + " (" + client.server() + ", " + client.dialect() + ", msize "
                    + client.msize() + ") mounted on " + args.mountpoint());
        }
        try {
            while (!session.awaitUnmount(Duration.ofSeconds(1))) {
                // The kernel (umount, c9fs-mount -u, a signal's unmount) decides when we are done.
                // Unmounted during an outage, workers may still wait for the server (hard mount):
                // nobody can receive their answers any more, so stop redialing and let them go.
                if (session.unmountSeen() && client.state() == RedialingSession.State.RECONNECTING) {
                    err.println("c9fs-mount: unmounted while " + address + " is away; giving up on it");
                    client.close();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopping.set(true);
        Runtime.getRuntime().removeShutdownHook(hook);
        if (stats != null) {
            stats.close();
        }
        session.close();
        client.close();
        return 0;
    }

    /** What {@code c9fs stats} prints. */
    private static String report(MountArgs args, RedialingSession client, FuseFilesystem fs, CachePolicy policy) {
        StringBuilder b = new StringBuilder();
        b.append("mount:     ").append(args.mountpoint()).append('\n');
        b.append("server:    ").append(client.server()).append(" (").append(client.dialect()).append(", msize ")
                .append(client.msize()).append(client.isOpen() ? ")" : ", connection LOST)").append('\n');
        RedialingSession.Recovery rec = client.recovery();
        b.append(String.format("session:   %s, %s, %d reconnects, %.1f s outage, %d replayed, %d failed in flight,"
                        + " %d stale fids, %d lost locks, %d recalls answered while restoring%n", rec.state(),
                args.softTimeout() == null ? "hard" : "soft timeo=" + args.softTimeout().toMillis() / 1000.0 + "s",
                rec.reconnects(), rec.outageMillis() / 1000.0, rec.replayed(), rec.failedInFlight(), rec.staleFids(),
                rec.lostLocks(), rec.restoreRecalls()));
        b.append(policy.describe());
        NinepClient.Stats s = client.stats();
        b.append(String.format("9p:        %d requests, %d in flight, %.1f MiB sent, %.1f MiB received%n",
                s.requests(), s.inFlight(), s.bytesSent() / 1048576.0, s.bytesReceived() / 1048576.0));
        if (fs instanceof NinepFilesystem) {
            NinepFilesystem n = (NinepFilesystem) fs;
            b.append(String.format("fuse:      %d nodes, %d open handles, %d write-back errors, %d WRITEs written behind%n",
                    n.nodeCount(), n.handleCount(), n.writebackErrors(), n.writtenBehind()));
        }
        return b.toString();
    }

    private static void checkMountpoint(Path mp, boolean nonempty) throws MountFailure {
        Path real;
        try {
            if (!Files.readAttributes(mp, BasicFileAttributes.class).isDirectory()) {
                throw new MountFailure("mountpoint " + mp + " is not a directory");
            }
            real = mp.toRealPath();
        } catch (NoSuchFileException e) {
            throw new MountFailure("mountpoint " + mp + " does not exist");
        } catch (IOException e) {
            // ENOTCONN here is a FUSE mount whose daemon died: stat(2) fails on it.
            throw new MountFailure("mountpoint " + mp + ": " + e.getMessage()
                    + " (a dead mount? try c9fs-mount -u " + mp + ")");
        }
        if (FuseMount.isMountpoint(real)) {
            // Listing asks the filesystem (stat may be answered from cached attributes): a FUSE
            // mount whose daemon died fails it with ENOTCONN.
            try (Stream<Path> entries = Files.list(real)) {
                entries.findAny();
            } catch (IOException | UncheckedIOException e) {
                throw new MountFailure("mountpoint " + mp + ": " + e.getMessage()
                        + " (a dead mount? try c9fs-mount -u " + mp + ")");
            }
            throw new MountFailure("mountpoint " + mp + " is busy: something is already mounted there");
        }
        try (Stream<Path> entries = Files.list(real)) {
            if (!nonempty && entries.findAny().isPresent()) {
                throw new MountFailure("mountpoint " + mp + " is not empty");
            }
        } catch (IOException e) {
            throw new MountFailure("mountpoint " + mp + ": " + e.getMessage());
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            throw new MountFailure("/dev/fuse is missing (is the fuse module loaded? modprobe fuse)");
        }
        if (!isRoot() && !onPath("fusermount3")) {
            throw new MountFailure("fusermount3 is missing (install fuse3), and only root can mount without it");
        }
    }

    private static RedialingSession connect(NinepAddress address, MountArgs args) throws MountFailure {
        ClientConfig config = new ClientConfig(args.msize(), args.version(), CONNECT_TIMEOUT, args.timeout(),
                args.uname(), uid(), args.aname());
        RedialingSession client;
        try {
            client = RedialingSession.connect(address, config, args.softTimeout());
        } catch (NinepException e) {
            throw new MountFailure(connectProblem(address, args.version(), e));
        }
        return client;
    }

    private static String connectProblem(NinepAddress address, String version, NinepException e) {
        String why = e.getMessage() == null ? "errno " + e.errno() : e.getMessage();
        if (e.errno() == Errno.EPROTONOSUPPORT || why.contains("Tversion")) {
            return "version " + version + " refused: " + why;
        }
        switch (e.errno()) {
            case Errno.ECONNREFUSED:
            case Errno.EHOSTUNREACH:
            case Errno.ENETUNREACH:
            case Errno.ETIMEDOUT:
            case Errno.ENOENT:
                return "server " + address + " unreachable: " + why;
            default:
                return "cannot talk 9P to " + address + ": " + why;
        }
    }

    private static FuseSession mount(Path mp, MountOptions options, FuseFilesystem fs) throws MountFailure {
        try {
            return FuseMount.mount(mp, options, fs);
        } catch (FuseException e) {
            switch (e.errno()) {
                case Errno.EPERM:
                case Errno.EACCES:
                    throw new MountFailure("mounting on " + mp + " is not permitted: " + e.getMessage());
                case Errno.EBUSY:
                    throw new MountFailure("mountpoint " + mp + " is busy: " + e.getMessage());
                case Errno.ENODEV:
                case Errno.ENOENT:
                    throw new MountFailure("FUSE is not available: " + e.getMessage());
                default:
                    throw new MountFailure("mount on " + mp + " failed: " + e.getMessage());
            }
        } catch (IOException e) {
            throw new MountFailure("mount on " + mp + " failed: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ detach

    private static int detach(String[] argv, MountArgs args, PrintStream err) throws MountFailure {
        List<String> cmd = new ArrayList<>();
        if (onPath("setsid")) {
            // A new session: no controlling terminal, so the terminal's SIGHUP/SIGINT do not reach it.
            cmd.add("setsid");
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // The daemon runs with this JVM's options (heap bound, GC, system properties).
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(MountArgs.childArgs(argv));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(args.log() == null ? ProcessBuilder.Redirect.DISCARD
                        : ProcessBuilder.Redirect.appendTo(args.log().toFile()));
        Process child;
        try {
            child = pb.start();
        } catch (IOException e) {
            throw new MountFailure("cannot start the daemon: " + e.getMessage());
        }
        String line = readLine(child, DETACH_WAIT);
        if (READY.equals(line)) {
            return 0;
        }
        if (line != null && line.startsWith(ERROR)) {
            err.println("c9fs-mount: " + line.substring(ERROR.length()));
            waitFor(child);
            return 1;
        }
        if (line == null && !child.isAlive()) {
            err.println("c9fs-mount: the daemon exited with status " + child.exitValue() + " before mounting");
            return 1;
        }
        child.destroyForcibly();
        err.println("c9fs-mount: the daemon did not report ready within " + DETACH_WAIT.toSeconds() + " s");
        return 1;
    }

    /** The child's first stdout line, or null at EOF or after {@code wait}. */
    private static String readLine(Process child, Duration wait) {
        String[] line = new String[1];
        Thread reader = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(
                        new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
                line[0] = in.readLine();
            } catch (IOException e) {
                line[0] = null;
            }
        }, "c9fs-mount-detach");
        reader.setDaemon(true);
        reader.start();
        try {
            reader.join(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return reader.isAlive() ? null : line[0];
    }

    private static void waitFor(Process p) {
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ unmount

    /**
     * umount(8) as root, fusermount3 -u otherwise; if the mount is busy (a process works inside it),
     * detach it lazily: the kernel then lets the last user finish and the daemon exits after.
     */
    private static void unmount(Path mp) throws MountFailure {
        // umount -c: not canonicalized, since realpath(3) would stat the mount's root, and on a
        // hard mount whose server is away that waits for the server to come back.
        String abs = mp.toAbsolutePath().normalize().toString();
        List<String> plain = isRoot() ? List.of("umount", "-c", abs) : List.of("fusermount3", "-u", mp.toString());
        List<String> lazy = isRoot() ? List.of("umount", "-c", "-l", abs)
                : List.of("fusermount3", "-u", "-z", mp.toString());
        String why = runBounded(plain);
        if (why != null && runBounded(lazy) != null) {
            throw new MountFailure("cannot unmount " + mp + ": " + why);
        }
    }

    /** Runs a command for at most 30 s; null if it succeeded, else the first line it printed. */
    private static String runBounded(List<String> cmd) throws MountFailure {
        Path output = null;
        try {
            output = Files.createTempFile("c9fs-mount-", ".out");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return String.join(" ", cmd) + " did not finish within 30 s";
            }
            if (p.exitValue() == 0) {
                return null;
            }
            String first = Files.readString(output).trim().lines().findFirst().orElse("");
            return first.isEmpty() ? String.join(" ", cmd) + ": status " + p.exitValue() : first;
        } catch (IOException e) {
            throw new MountFailure("cannot run " + cmd.get(0) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountFailure("interrupted");
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException e) {
                    // a temporary file left in /tmp
                }
            }
        }
    }

    // ------------------------------------------------------------------ the host

    private static boolean isRoot() {
        return uid() == 0;
    }

    /** The real uid, from /proc (Java has no getuid); -1 if unknown. */
    static int uid() {
        return procStatusId("Uid:");
    }

    /** The real gid; -1 if unknown. */
    static int gid() {
        return procStatusId("Gid:");
    }

    private static int procStatusId(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith(field)) {
                    return Integer.parseInt(l.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown: treated as unprivileged
        }
        return -1;
    }

    private static boolean onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/bin", program)) || Files.isExecutable(Path.of("/usr/sbin", program));
    }
}
