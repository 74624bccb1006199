package io.c9fs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A mounted FUSE filesystem: the /dev/fuse connection, its worker threads and its notifier.
 * Obtained from {@link FuseMount#mount}.
 *
 * <p>Lifecycle: workers serve until the kernel reports the connection gone (ENODEV), which happens
 * on {@link #unmount}, on umount/fusermount3 -u from outside, or on a connection abort. When the
 * last worker leaves, {@link FuseFilesystem#destroy} runs (once) and the device is closed.
 * A read(2) on /dev/fuse ignores Thread.interrupt(), so waits for workers are bounded and the last
 * resort is aborting the connection through fusectl (/sys/fs/fuse/connections/N/abort).
 *
 * <p>Threads: all public methods may be called from any thread. {@link #unmount} and {@link #close}
 * must not be called from a worker (they wait for the workers). No lock is held across any call.
 */
public final class FuseSession implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FuseSession.class.getName());
    private static final Duration UNMOUNT_WAIT = Duration.ofSeconds(5);
    private static final Duration ABORT_WAIT = Duration.ofSeconds(5);
    private static final Path FUSECTL = Path.of("/sys/fs/fuse/connections");

    private final Path mountpoint;
    private final FuseDevice device;
    private final FuseNotifier notifier;
    private final InitHandshake.Result init;
    private final FuseFilesystem fs;
    private final MountOptions options;
    private final boolean viaFusermount;
    private final long connectionId;
    private final Map<Long, InflightRequest> inflight = new ConcurrentHashMap<>();
    private final List<FuseWorker> workers = new ArrayList<>();
    private final CountDownLatch exited;
    private final AtomicInteger alive = new AtomicInteger();
    private final AtomicBoolean destroyed = new AtomicBoolean();
    private volatile boolean sawUnmount;
    /** Unmounts on JVM exit, so a dying process does not leave a dead mount ("transport endpoint not connected"). */
    private final Thread shutdownHook = new Thread(this::close, "fuse-unmount-on-exit");

    FuseSession(Path mountpoint, FuseDevice device, InitHandshake.Result init, FuseFilesystem fs,
                MountOptions options, boolean viaFusermount, long connectionId) {
        this.mountpoint = mountpoint;
        this.device = device;
        this.notifier = new DeviceNotifier(device);
        this.init = init;
        this.fs = fs;
        this.options = options;
        this.viaFusermount = viaFusermount;
        this.connectionId = connectionId;
        this.exited = new CountDownLatch(options.workers());
    }

    /** Starts the workers. Buffers: a request must fit a whole WRITE (header + write_in + max_write). */
    void start() {
        int requestCapacity = Math.max(8192, 80 + init.maxWrite()) + InitHandshake.PAGE_SIZE;
        int replyCapacity = FuseWire.OUT_HEADER + Math.max(init.maxPages() * InitHandshake.PAGE_SIZE, 65536)
                + InitHandshake.PAGE_SIZE;
        String base = "fuse-" + (mountpoint.getFileName() == null ? "root" : mountpoint.getFileName());
        for (int i = 0; i < options.workers(); i++) {
            RequestDispatcher d = new RequestDispatcher(fs, device, inflight, this::destroyOnce, replyCapacity);
            if (!device.enter()) {
                throw new IllegalStateException("device closed before the workers started");
            }
            alive.incrementAndGet();
            workers.add(new FuseWorker(base + "-" + i, device, d, requestCapacity, this));
        }
        workers.forEach(Thread::start);
        try {
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyExiting) {
            // the JVM is exiting; the device closes with the process and the kernel aborts the connection
        }
    }

    /** Notifications to the kernel; usable from any thread except FUSE workers. */
    public FuseNotifier notifier() {
        return notifier;
    }

    public Path mountpoint() {
        return mountpoint;
    }

    /** The agreed protocol minor (7.minor). */
    public int protocolMinor() {
        return init.minor();
    }

    /** The INIT flags granted (FUSE_* capability bits, flags2 in the upper 32 bits). */
    public long initFlags() {
        return init.flags();
    }

    /** Waits until every worker has left; true if the kernel reported the mount gone (ENODEV). */
    /**
     * Writes back every dirty page of the mount and waits for it, leaving the pages cached and
     * mapped: syncfs(2) on the mount, which the kernel turns into WRITE requests (writepage) that
     * the workers answer. The one way to flush a shared mapping without dropping it
     * (docs/coherence.md). Must not be called from a worker thread, for the reason notifications
     * must not: the WRITEs need a free worker.
     */
    public void syncfs() throws FuseException {
        if (Thread.currentThread() instanceof FuseWorker) {
            throw new IllegalStateException("syncfs from a FUSE worker thread would wait for itself");
        }
        int fd = Syscalls.LIBC.open(mountpoint.toString(), Syscalls.O_RDONLY | Syscalls.O_DIRECTORY
                | Syscalls.O_CLOEXEC, 0);
        if (fd < 0) {
            int e = Syscalls.errno();
            throw new FuseException(e, "open " + mountpoint + ": " + Syscalls.strerror(e));
        }
        try {
            if (Syscalls.LIBC.syncfs(fd) != 0) {
                int e = Syscalls.errno();
                throw new FuseException(e, "syncfs " + mountpoint + ": " + Syscalls.strerror(e));
            }
        } finally {
            Syscalls.LIBC.close(fd);
        }
    }

    public boolean awaitUnmount(Duration timeout) throws InterruptedException {
        return exited.await(timeout.toNanos(), TimeUnit.NANOSECONDS) && sawUnmount;
    }

    /** True once a worker has read the end of the mount (ENODEV): the kernel has let go of it. */
    public boolean unmountSeen() {
        return sawUnmount;
    }

    /** True once every worker has left. */
    public boolean ended() {
        return exited.getCount() == 0;
    }

    /**
     * Unmounts (umount2 as root, fusermount3 -u otherwise; lazily if the mount is busy) and waits,
     * bounded, for the workers. With a lazy unmount and files still open, the workers keep serving
     * until the last reference goes or {@link #close} aborts the connection.
     */
    public void unmount() {
        if (ended()) {
            return;
        }
        try {
            detach(mountpoint, viaFusermount);
        } catch (FuseException | IOException e) {
            LOG.log(System.Logger.Level.WARNING, "unmounting " + mountpoint + " failed", e);
        }
        awaitQuietly(UNMOUNT_WAIT);
    }

    /** Unmounts if still mounted; aborts the connection if the workers do not leave; joins them (bounded). */
    @Override
    public void close() {
        removeShutdownHook();
        unmount();
        if (!ended()) {
            LOG.log(System.Logger.Level.WARNING, "workers of " + mountpoint + " still busy; aborting the connection");
            abortConnection();
            awaitQuietly(ABORT_WAIT);
        }
        if (!ended()) {
            LOG.log(System.Logger.Level.ERROR, "workers of " + mountpoint + " did not stop; /dev/fuse descriptor "
                    + device.fd() + " is left open");
        }
        for (FuseWorker w : workers) {
            try {
                w.join(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Writes 1 to the connection's fusectl abort file: every pending and future request fails with ENOTCONN. */
    public boolean abortConnection() {
        if (connectionId < 0) {
            return false;
        }
        Path abort = FUSECTL.resolve(Long.toString(connectionId)).resolve("abort");
        try {
            if (!Files.exists(abort)) {
                Syscalls.LIBC.mount("fusectl", FUSECTL.toString(), "fusectl", 0, null);
            }
            Files.writeString(abort, "1", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot abort FUSE connection " + connectionId, e);
            return false;
        }
    }

    /** umount2 as root, else fusermount3 -u; falls back to a lazy unmount if busy. */
    static void detach(Path mountpoint, boolean viaFusermount) throws FuseException, IOException {
        if (viaFusermount) {
            if (Fusermount.unmount(mountpoint, false) != 0 && Fusermount.unmount(mountpoint, true) != 0) {
                throw new FuseException(Errno.EBUSY, "fusermount3 -u -z " + mountpoint + " failed");
            }
            return;
        }
        if (Syscalls.LIBC.umount2(mountpoint.toString(), 0) == 0) {
            return;
        }
        int errno = Syscalls.errno();
        if (errno == Errno.EBUSY && Syscalls.LIBC.umount2(mountpoint.toString(), Syscalls.MNT_DETACH) == 0) {
            return;
        }
        if (errno != Errno.EINVAL) { // EINVAL: not a mount point any more (unmounted from outside)
            throw new FuseException(errno, "umount " + mountpoint + ": " + Syscalls.strerror(errno));
        }
    }

    void workerExited(boolean unmounted) {
        if (unmounted) {
            sawUnmount = true;
        }
        boolean last = alive.decrementAndGet() == 0;
        if (last) {
            destroyOnce();
            device.close();
            removeShutdownHook();
        }
        exited.countDown();
    }

    private void removeShutdownHook() {
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException exiting) {
                // the JVM is exiting and the hook is running or about to; closing twice is harmless
            }
        }
    }

    private void destroyOnce() {
        if (destroyed.compareAndSet(false, true)) {
            try {
                fs.destroy();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "destroy of " + mountpoint + " failed", e);
            }
        }
    }

    private void awaitQuietly(Duration d) {
        try {
            exited.await(d.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "FuseSession[" + mountpoint + ", 7." + init.minor() + ", " + options.workers() + " workers]";
    }
}
