package io.c9fs.server;

import io.c9fs.server.lease.LatencyWindow;
import io.c9fs.server.lease.LeaseManager;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live counters of a running server, read by tests and by operators: open connections, live
 * fids, requests in flight (received, not yet answered), requests answered and backpressure
 * stalls; and of its leases: leases in force, recalls sent and expired, the recall round trip
 * (recall created to Trecalled received) and the directories watched for local changes.
 *
 * <p>Threading: lock-free counters, updated and read from any thread; the lease figures are
 * read from the lease manager under its lock.
 */
public final class ServerStats {
    private final LeaseManager leases;
    private final LocalChanges watcher;

    ServerStats(LeaseManager leases, LocalChanges watcher) {
        this.leases = leases;
        this.watcher = watcher;
    }

    final AtomicLong connections = new AtomicLong();
    final AtomicLong fids = new AtomicLong();
    final AtomicLong inFlight = new AtomicLong();
    final AtomicLong answered = new AtomicLong();
    final AtomicLong stalls = new AtomicLong();

    public long connections() {
        return connections.get();
    }

    public long fids() {
        return fids.get();
    }

    public long inFlight() {
        return inFlight.get();
    }

    public long answered() {
        return answered.get();
    }

    /** Times a connection reached its in-flight limit and its socket stopped being read. */
    public long stalls() {
        return stalls.get();
    }

    /** Leases in force: (connection, file) pairs with a mode above none. */
    public long leasesHeld() {
        return leases.counts().leases();
    }

    public long recallsSent() {
        return leases.counts().recallsSent();
    }

    /** Recalls not acknowledged within the term (their holders were fenced). */
    public long recallsExpired() {
        return leases.counts().recallsExpired();
    }

    public long recallsOutstanding() {
        return leases.counts().recallsOutstanding();
    }

    /** Recall round trip over the latest recalls (median, p99). */
    public LatencyWindow.Percentiles recallRoundTrip() {
        return leases.recallRoundTrip();
    }

    /** Directories watched for changes by local processes. */
    public int localWatches() {
        return watcher.watches();
    }

    @Override
    public String toString() {
        LeaseManager.Counts c = leases.counts();
        return "connections=" + connections() + " fids=" + fids() + " inFlight=" + inFlight()
                + " answered=" + answered() + " stalls=" + stalls() + " leases=" + c.leases()
                + " recallsSent=" + c.recallsSent() + " recallsExpired=" + c.recallsExpired()
                + " recallRoundTrip=[" + recallRoundTrip() + "] watches=" + localWatches();
    }
}
