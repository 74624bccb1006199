package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.HashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches, with inotify (the JDK's Linux WatchService), the directories where leased clients
 * cache something, and recalls what processes on the server machine change there: a modified
 * file (data or attributes) is recalled as data of the whole file plus attributes, a created or
 * removed name as an entry of its directory. There is no request to hold back, so nobody waits.
 *
 * <p>A directory is watched while some leased connection has a fid on it or on a file in it
 * ({@link #watch}/{@link #unwatch}, counted per fid), at most {@code maxWatches} at once (the
 * kernel's own limit, fs.inotify.max_user_watches, is shared with every other program); beyond
 * that, local changes there go unnoticed (counted in {@link #unwatched}).
 *
 * <p>Events the server caused itself are ignored: the file's (or directory's) current qid.version
 * is compared with the one the server recorded after its own last change, and an event that
 * meets a change of the server's in progress, or begun since its stat, is taken as the
 * server's ({@link FileNode#showsOnlyOwnChanges}).
 * A local change that lands in the same instant as one of the server's may be taken for the
 * server's and go unrecalled.
 *
 * <p>Threading: {@link #watch}/{@link #unwatch} from worker threads, under this object's monitor
 * (a leaf lock; never held while recalling). Events are handled on the "c9fs-local-changes"
 * thread, which takes no lock but this one, and a {@link FileNode}'s.
 */
final class LocalChanges implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LocalChanges.class.getName());

    private final Export export;
    private final LeaseManager leases;
    private final int maxWatches;
    private final WatchService service;
    private final Thread thread;
    private final Map<Long, Watched> byPath = new HashMap<>();
    private final Map<WatchKey, Watched> byKey = new HashMap<>();
    private long unwatched;

    /** One watched directory: its handle (for fstatat of event names) and the fids that need it. */
    private static final class Watched {
        final long path;
        final PathHandle dir;
        WatchKey key;
        int refs;

        Watched(long path, PathHandle dir) {
            this.path = path;
            this.dir = dir;
        }
    }

    LocalChanges(Export export, LeaseManager leases, int maxWatches) throws IOException {
        this.export = export;
        this.leases = leases;
        this.maxWatches = maxWatches;
        this.service = FileSystems.getDefault().newWatchService();
        this.thread = new Thread(this::run, "c9fs-local-changes");
        thread.setDaemon(true);
        thread.start();
    }

    /** A leased fid now names the file {@code h}: watch its directory (the file itself if it is one). */
    void watch(PathHandle h) {
        PathHandle dir = directoryOf(h);
        long path = export.qidPath(dir.stat());
        synchronized (this) {
            Watched w = byPath.get(path);
            if (w == null) {
                w = new Watched(path, dir.retain());
                byPath.put(path, w);
                if (byKey.size() < maxWatches) {
                    try {
                        w.key = Files.readSymbolicLink(Path.of(Posix.procPath(dir.fd()))).register(service,
                                StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE,
                                StandardWatchEventKinds.ENTRY_MODIFY);
                        byKey.put(w.key, w);
                    } catch (IOException | RuntimeException e) {
                        // Removed meanwhile, or the kernel's watch limit: nothing to watch there.
                        unwatched++;
                    }
                } else {
                    unwatched++;
                }
            }
            w.refs++;
        }
    }

    /** Undoes one {@link #watch} of {@code h}. */
    void unwatch(PathHandle h) {
        long path = export.qidPath(directoryOf(h).stat());
        Watched gone;
        synchronized (this) {
            Watched w = byPath.get(path);
            if (w == null || --w.refs > 0) {
                return;
            }
            byPath.remove(path);
            if (w.key != null) {
                byKey.remove(w.key);
                w.key.cancel();
            }
            gone = w;
        }
        gone.dir.release();
    }

    /** Directories watched now. */
    synchronized int watches() {
        return byKey.size();
    }

    /** Directories that needed a watch but did not get one (limit reached, or gone). */
    synchronized long unwatched() {
        return unwatched;
    }

    private static PathHandle directoryOf(PathHandle h) {
        return h.stat().isDir() || h.parent() == null ? h : h.parent();
    }

    /**
     * How long the watcher lets events gather after the first before it judges them: a client
     * creating or removing files in a row (each an event of our own) then costs this thread one
     * wake-up and one stat of the directory per batch instead of per file. A local change is
     * recalled this much later; nobody waits for it anyway.
     */
    static final long GATHER_NANOS = 2_000_000;

    private void run() {
        try {
            while (true) {
                WatchKey first = service.take();
                java.util.concurrent.locks.LockSupport.parkNanos(GATHER_NANOS);
                for (WatchKey key = first; key != null; key = service.poll()) {
                    handle(key);
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // The server is stopping.
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "local change watcher stopped", e);
        }
    }

    private void handle(WatchKey key) {
        Watched w;
        synchronized (this) {
            w = byKey.get(key);
            if (w != null) {
                w.dir.retain();
            }
        }
        try {
            // Names in event order, once each; entry events judged together (see entries).
            java.util.LinkedHashSet<String> modified = new java.util.LinkedHashSet<>();
            java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
            for (WatchEvent<?> e : key.pollEvents()) {
                if (w != null && e.context() instanceof Path name) {
                    (e.kind() == StandardWatchEventKinds.ENTRY_MODIFY ? modified : entries).add(name.toString());
                }
            }
            if (w != null) {
                for (String name : modified) {
                    modified(w, name);
                }
                entries(w, entries);
            }
        } finally {
            key.reset();
            if (w != null) {
                w.dir.release();
            }
        }
    }

    private void modified(Watched w, String name) {
        HostStat st;
        try {
            st = Posix.fstatat(w.dir.fd(), name, Posix.AT_SYMLINK_NOFOLLOW);
        } catch (ErrnoException gone) {
            return;
        }
        long path = export.qidPath(st);
        FileNode node = export.nodes().peek(path);
        if (node == null) {
            // No fid on the file, so no change of the server's own to tell apart: a client
            // that knows it from a listing holds its lease, which a local change recalls.
            if (leases.leased(path)) {
                leases.localChange(path, LeaseManager.Kind.DATA, "");
                leases.localChange(path, LeaseManager.Kind.ATTR, "");
            }
            return;
        }
        // Stat again after taking the node's change count: the first stat, which found the
        // node, may predate a change the server has made since.
        long begun = node.changesBegun();
        try {
            st = Posix.fstatat(w.dir.fd(), name, Posix.AT_SYMLINK_NOFOLLOW);
        } catch (ErrnoException gone) {
            return;
        }
        if (export.qidPath(st) == path && !node.showsOnlyOwnChanges(export, st, begun)) {
            leases.localChange(path, LeaseManager.Kind.DATA, "");
            leases.localChange(path, LeaseManager.Kind.ATTR, "");
        }
    }

    /**
     * Names created or removed in {@code w}: one stat of the directory judges them all, since
     * every event read was caused before it; if it shows only the server's changes, all were
     * the server's, otherwise each name is recalled.
     */
    private void entries(Watched w, java.util.Set<String> names) {
        if (names.isEmpty()) {
            return;
        }
        FileNode node = export.nodes().peek(w.path);
        if (node == null) {
            return;
        }
        long begun = node.changesBegun();
        try {
            if (node.showsOnlyOwnChanges(export, Posix.fstat(w.dir.fd()), begun)) {
                return;
            }
        } catch (ErrnoException gone) {
            return;
        }
        for (String name : names) {
            leases.localChange(w.path, LeaseManager.Kind.ENTRY, name);
        }
    }

    @Override
    public void close() {
        try {
            service.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing the watch service", e);
        }
        synchronized (this) {
            for (Watched w : byPath.values()) {
                w.dir.release();
            }
            byPath.clear();
            byKey.clear();
        }
    }
}
