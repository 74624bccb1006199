package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.server.NinepServer;
import java.io.IOException;
import java.security.SecureRandom;
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
    private NinepServer server;

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
        this.leases = new LeaseGate(manager, watcher, new SecureRandom().nextInt());
        this.stats = new ServerStats(manager, watcher);
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
        Export export = Export.open(config.export(), config.readOnly());
        FileServer fs;
        try {
            fs = new FileServer(config, export);
        } catch (IOException | RuntimeException e) {
            export.close();
            throw e;
        }
        try {
            fs.server = NinepServer.bind(config.listen(), config.limits().maxMsize(),
                    config.dialects(), () -> new ConnectionService(fs, fs.workers));
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

    /** Closes every connection (their fids are clunked), then the workers, then the export. */
    @Override
    public void close() {
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
