package io.c9fs.mount;

import io.c9fs.cache.LeaseClient;
import io.c9fs.cache.PageCache;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseRequest;
import io.c9fs.fuse.FuseSession;
import io.c9fs.transport.client.NinepSession;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Message;
import java.time.Duration;

/**
 * Coherence by leases and recalls (docs/coherence.md) on a 9P2000.L.c9 connection. While the
 * server honours this mount's leases, the kernel may keep pages across opens and trust names and
 * attributes for {@code leasedNanos}: the server recalls them, through the {@link LeaseClient}'s
 * threads, before anyone else's change to them is answered. A handle that can write holds the
 * file's write lease from OPEN to RELEASE. When the lease term runs out unrenewed, every cache
 * is dropped and the mount falls back to {@code fallback} (close-to-open) until it renews.
 *
 * <p>Threads: workers call the {@link CachePolicy} methods; {@link #writerOpened} and
 * {@link #writerReleased} wait for the server (a write lease may wait for other clients' recalls,
 * bounded by the lease term). The lease client's threads carry out recalls.
 */
final class LeasePolicy implements CachePolicy {
    private static final System.Logger LOG = System.getLogger(LeasePolicy.class.getName());

    private final NinepSession client;
    private final CloseToOpenPolicy fallback;
    private final long leasedNanos;
    private final Duration flushInterval;
    private final PageCache pages;
    private volatile LeaseClient leases;
    private volatile java.util.function.LongFunction<java.util.concurrent.CompletableFuture<Void>> drain = path -> null;

    /**
     * @param leasedNanos   entry and attribute timeout while leases are honoured
     * @param flushInterval how long a store through a shared mapping may stay local (clause 3c)
     * @param cacheBytes    bound of the mount's page cache
     */
    LeasePolicy(NinepSession client, CloseToOpenPolicy fallback, long leasedNanos, Duration flushInterval,
                long cacheBytes) {
        this.client = client;
        this.fallback = fallback;
        this.leasedNanos = leasedNanos;
        this.flushInterval = flushInterval;
        // 64 KiB blocks: a recall drops little more than it names, and a 256 MiB cache is 4096
        // entries, so dropping a whole file scans little. Readahead of 2 MiB past each read:
        // the kernel reads ahead 1 MiB (FuseMount raises its window), so two 1 MiB loads are in
        // flight beyond it, one served while the other is copied.
        this.pages = new PageCache(cacheBytes, 64 * 1024, 2 << 20);
    }

    private boolean trusted() {
        LeaseClient l = leases;
        return l != null && l.trusted();
    }

    @Override
    public boolean recalls() {
        return trusted();
    }

    @Override
    public long entryTimeoutNanos() {
        return trusted() ? leasedNanos : fallback.entryTimeoutNanos();
    }

    @Override
    public long negativeTimeoutNanos() {
        return trusted() ? leasedNanos : fallback.negativeTimeoutNanos();
    }

    @Override
    public long attrTimeoutNanos() {
        return trusted() ? leasedNanos : fallback.attrTimeoutNanos();
    }

    /** actimeo: a file listed without a fid is not leased, so no recall would reach its attributes. */
    @Override
    public long unleasedAttrTimeoutNanos() {
        return Math.min(fallback.attrTimeoutNanos(), attrTimeoutNanos());
    }

    @Override
    public boolean keepCacheOnOpen(long nodeid, FileStamp current) {
        boolean unchanged = fallback.keepCacheOnOpen(nodeid, current);
        return trusted() || unchanged;
    }

    @Override
    public void forget(long nodeid) {
        fallback.forget(nodeid);
    }

    @Override
    public void start(NodeTable nodes, FuseSession session) {
        LeaseClient l = new LeaseClient(client, pages, new KernelNotifications(nodes, session), flushInterval);
        l.beforeAcknowledging(drain);
        leases = l;
        l.start();
    }

    @Override
    public void stop() {
        LeaseClient l = leases;
        if (l != null) {
            l.close();
        }
    }

    @Override
    public void connectionLost() {
        LeaseClient l = leases;
        if (l != null) {
            l.connectionLost();
        }
    }

    /** The lease client drops the kernel's caches through its own notifier, then trusts again at the next renewal. */
    @Override
    public void reconnected(io.c9fs.cache.KernelCache kernel) {
        LeaseClient l = leases;
        if (l != null) {
            l.reconnected();
        } else {
            CachePolicy.super.reconnected(kernel);
        }
    }

    @Override
    public void writerOpened(FuseRequest r, OpenHandle h) throws FuseException {
        LeaseClient l = leases;
        if (l == null) {
            return;
        }
        try {
            l.acquire(h.fid, h.node.qidPath, Message.LEASE_WRITE);
        } catch (NinepException e) {
            throw new FuseException(e.errno(), "write lease on " + h.node + ": " + e.getMessage());
        }
    }

    @Override
    public java.util.concurrent.CompletableFuture<Message.Rlease> askWriteLease(int fid) {
        LeaseClient l = leases;
        return l == null ? null : l.ask(fid, Message.LEASE_WRITE);
    }

    @Override
    public void writerCreated(OpenHandle h, Message.Rlease granted) {
        LeaseClient l = leases;
        if (l != null) {
            l.granted(h.fid, h.node.qidPath, Message.LEASE_WRITE, granted);
        }
    }

    @Override
    public void writerReleased(OpenHandle h) {
        LeaseClient l = leases;
        if (l == null) {
            return;
        }
        try {
            l.release(h.fid, h.node.qidPath);
        } catch (NinepException e) {
            // The fid is clunked next, and the connection's explicit lease with it at the latest
            // when the node goes; nothing the closing process could act on.
            LOG.log(System.Logger.Level.DEBUG, "returning the write lease of " + h.node + ": " + e.getMessage());
        }
    }

    @Override
    public boolean writeBehind(OpenHandle h) {
        LeaseClient l = leases;
        return h.writer && l != null && l.writeBehind(h.node.qidPath);
    }

    @Override
    public void drainBeforeRecall(java.util.function.LongFunction<java.util.concurrent.CompletableFuture<Void>> drain) {
        this.drain = drain;
    }

    /** The lease client drops the file's kernel pages and takes its write lease again, on its own thread. */
    @Override
    public void writeRefused(OpenHandle h) {
        LeaseClient l = leases;
        if (l != null) {
            l.writeRefused(h.node.qidPath);
        }
    }

    /** Only while the leases are honoured: nothing recalls this cache's blocks otherwise. */
    @Override
    public PageCache pages() {
        return trusted() ? pages : null;
    }

    @Override
    public String describe() {
        LeaseClient l = leases;
        if (l == null) {
            return "coherence: leases (not started)\n";
        }
        LeaseClient.Stats s = l.stats();
        PageCache.Stats c = pages.stats();
        return String.format("coherence: leases, %s, %d write-leased files%n"
                        + "recalls:   %d carried out (p50 %.2f ms, p99 %.2f ms), %d expiries, %d flushes,"
                        + " %d write leases retaken after a fence%n"
                        + "cache:     %.1f MiB, hit ratio %.2f (%d hits, %d misses), %d loads (%.1f MiB), %d evictions%n",
                s.trusted() ? "trusted" : "NOT trusted (term passed without renewal)", s.writeLeased(),
                s.recalls(), s.recallNanosP50() / 1e6, s.recallNanosP99() / 1e6, s.expiries(), s.flushes(), s.retakes(),
                c.bytes() / 1048576.0, c.hitRatio(), c.hits(), c.misses(), c.loads(), c.bytesLoaded() / 1048576.0,
                c.evictions());
    }
}
