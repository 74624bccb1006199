package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.server.NinepServer;
import io.c9fs.transport.stats.StatsEndpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * c9fs-serve's engine: exports a directory over 9P (9P2000.L, 9P2000.u, 9P2000) to any number
 * of clients. Each connection gets a {@link ConnectionService}; file operations run on a fixed
 * pool of worker threads, never on the Netty event loops.
 *
 * <p>Leases (docs/protocol.md): one {@link LeaseManager} for the export, its expiry on the
 * "c9fs-lease" timer thread (a recall's own expiry, and every quarter term the holders that
 * stopped renewing), and the {@link LocalChanges} watcher for changes made by local processes.
 * Requests of every connection recall leased clients, whether leases are offered or not.
 *
 * <p>Threading: {@link #start} and {@link #close} from any thread (close once). The worker pool's
 * queue is unbounded but fed by at most {@code maxInFlight} requests per connection.
 */
public final class FileServer implements AutoCloseable {
    /** Directories watched for local changes at most; the kernel's default limit is 8192 per user. */
    private static final int MAX_WATCHES = 4096;

    private final ServerConfig config;
    private final Export export;
    private final ServerStats stats;
    private final ThreadPoolExecutor workers;
    private final ScheduledThreadPoolExecutor timer;
    private final LeaseGate leases;
    private final LockTable locks;
    private final DiskSpace disk;
    /** Notes that locks are held (see {@link #lockMarker}); null when the server keeps no state. */
    private final Path lockMarker;
    private final Duration grace;
    private NinepServer server;
    private StatsEndpoint statsEndpoint;

    private FileServer(ServerConfig config, Export export) throws IOException {
        this.config = config;
        this.export = export;
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "c9fs-lease");
            t.setDaemon(true);
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);
        LeaseManager manager = new LeaseManager(config.leaseTerm(), System::nanoTime, timer);
        LocalChanges watcher;
        try {
            watcher = new LocalChanges(export, manager, MAX_WATCHES);
        } catch (IOException e) {
            timer.shutdownNow();
            throw e;
        }
        this.lockMarker = lockMarker(config);
        // With a state directory, grace is only needed when the previous instance may have left
        // locks behind (it was killed holding some, or stopped with clients still holding some).
        this.grace = lockMarker == null || Files.exists(lockMarker)
                ? config.robustness().grace() : Duration.ZERO;
        this.locks = new LockTable(System::nanoTime, grace.toNanos(),
                lockMarker == null ? null : this::markLocks);
        this.disk = new DiskSpace(export, System::nanoTime);
        this.leases = new LeaseGate(manager, watcher, locks, disk, new SecureRandom().nextInt());
        this.stats = new ServerStats(manager, watcher, locks, disk);
        long quarter = Math.max(1, config.leaseTerm().toMillis() / 4);
        timer.scheduleAtFixedRate(manager::expireSilentHolders, quarter, quarter, TimeUnit.MILLISECONDS);
        AtomicInteger n = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(config.workers(), config.workers(), 0,
                TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "c9fs-io-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    /**
     * Opens the export and starts listening.
     *
     * @throws ErrnoException if the directory cannot be opened (ENOENT, ENOTDIR, EACCES)
     * @throws IOException if the address cannot be listened on
     */
    public static FileServer start(ServerConfig config) throws ErrnoException, IOException {
        Posix.raiseOpenFileLimit();
        Export export = Export.open(config.export(), config.readOnly(), config.directReads());
        FileServer fs;
        try {
            fs = new FileServer(config, export);
        } catch (IOException | RuntimeException e) {
            export.close();
            throw e;
        }
        try {
            ServerConfig.Robustness r = config.robustness();
            fs.server = NinepServer.bind(config.listen(), config.limits().maxMsize(),
                    config.dialects(), () -> new ConnectionService(fs, fs.workers),
                    new NinepServer.Options(r.frameTimeout(), r.keepAliveIdle()));
            fs.stats.traffic = fs.server.traffic();
            if (r.statsEndpoint()) {
                fs.statsEndpoint = StatsEndpoint.openSocket(
                        StatsEndpoint.socketForServer(fs.server.address().toString()), fs.stats::report);
            }
        } catch (IOException | RuntimeException e) {
            fs.workers.shutdownNow();
            fs.stopLeases();
            export.close();
            throw e;
        }
        return fs;
    }

    public ServerConfig config() {
        return config;
    }

    public Export export() {
        return export;
    }

    public ServerStats stats() {
        return stats;
    }

    LeaseGate leases() {
        return leases;
    }

    /** The TCP port listened on. */
    public int port() {
        return server.port();
    }

    /** The address clients dial (with the actual port when bound to port 0). */
    public io.c9fs.transport.client.NinepAddress address() {
        return server.address();
    }

    /** The grace period this start began with (zero when none was needed). */
    public Duration grace() {
        return grace;
    }

    /** Where {@code c9fs stats --server} finds this server, or null without a stats endpoint. */
    public Path statsSocket() {
        return statsEndpoint == null ? null : statsEndpoint.socket();
    }

    /**
     * The note that locks are held, in the state directory, named after the export and the listen
     * address (a server restarted on both is the one its clients come back to).
     */
    private static Path lockMarker(ServerConfig config) {
        Path dir = config.robustness().stateDir();
        if (dir == null) {
            return null;
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((config.export().toAbsolutePath().normalize()
                    + "\n" + config.listen()).getBytes(StandardCharsets.UTF_8));
            return dir.resolve(HexFormat.of().formatHex(d, 0, 12) + ".locks");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Locks started (true) or stopped being held or on record. */
    private void markLocks(boolean held) {
        try {
            if (held) {
                Files.createDirectories(lockMarker.getParent());
                Files.writeString(lockMarker, "locks held by c9fs-serve of " + config.export() + "\n");
            } else {
                Files.deleteIfExists(lockMarker);
            }
        } catch (IOException e) {
            // Without the note the next start may skip grace: reclaims are then refused, the safe side.
            System.getLogger(FileServer.class.getName()).log(System.Logger.Level.WARNING,
                    "cannot note lock state in " + lockMarker + ": " + e.getMessage());
        }
    }

    /** Closes every connection (their fids are clunked), then the workers, then the export. */
    @Override
    public void close() {
        if (statsEndpoint != null) {
            statsEndpoint.close();
        }
        server.close();
        workers.shutdown();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopLeases();
        export.close();
    }

    private void stopLeases() {
        timer.shutdownNow();
        leases.watcher().close();
    }
}
