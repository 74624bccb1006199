package io.c9fs.server;

import io.c9fs.transport.Errno;
import java.util.function.LongSupplier;

/**
 * The export's full-disk state. A write that fails with ENOSPC (or EDQUOT) is answered with that
 * errno, as a local write would be; the server itself keeps nothing back and half-writes nothing
 * (a short pwrite is answered with the count written). What this adds is the operator's view: a
 * full disk is logged once per <em>episode</em> rather than once per failing write (a client
 * retrying or writing back a large cache would flood the log), and the episode ends when a
 * successful write finds space again (checked with statfs at most every 200 ms).
 *
 * <p>Threading: any worker; one monitor, a leaf (the statfs runs outside it).
 */
final class DiskSpace {
    private static final System.Logger LOG = System.getLogger(DiskSpace.class.getName());
    private static final long RECHECK_NANOS = 200_000_000L;

    private final Export export;
    private final LongSupplier clock;
    private boolean full;
    private long since;
    private long lastCheck;
    private long episodes;
    private long refusals;

    DiskSpace(Export export, LongSupplier clock) {
        this.export = export;
        this.clock = clock;
    }

    /** A request failed with {@code errno}; ENOSPC and EDQUOT start (or continue) an episode. */
    void failed(int errno, String what) {
        if (errno != Errno.ENOSPC && errno != Errno.EDQUOT) {
            return;
        }
        boolean first;
        synchronized (this) {
            refusals++;
            first = !full;
            if (first) {
                full = true;
                since = clock.getAsLong();
                lastCheck = since;
                episodes++;
            }
        }
        if (first) {
            LOG.log(System.Logger.Level.WARNING, "export " + export.dir() + " is full ("
                    + Errno.message(errno) + " on " + what + "); writers get " + Errno.name(errno)
                    + " until space is freed (logged once until then)");
        }
    }

    /** A write succeeded: if an episode is on and space is back, it ends. */
    void wrote() {
        long now;
        synchronized (this) {
            now = clock.getAsLong();
            if (!full || now - lastCheck < RECHECK_NANOS) {
                return;
            }
            lastCheck = now;
        }
        if (!spaceLeft()) {
            return;
        }
        long ms;
        synchronized (this) {
            if (!full) {
                return;
            }
            full = false;
            ms = (now - since) / 1_000_000;
        }
        LOG.log(System.Logger.Level.INFO, "export " + export.dir() + " has space again after "
                + ms + " ms full");
    }

    private boolean spaceLeft() {
        PathHandle root = export.root();
        try {
            java.nio.ByteBuffer b = Posix.fstatfs(root.fd());
            return b.getLong(32) > 0; // f_bavail
        } catch (ErrnoException e) {
            return false;
        } finally {
            root.release();
        }
    }

    synchronized boolean full() {
        return full;
    }

    /** Full-disk episodes so far (each logged once). */
    synchronized long episodes() {
        return episodes;
    }

    /** Requests refused with ENOSPC or EDQUOT. */
    synchronized long refusals() {
        return refusals;
    }
}
