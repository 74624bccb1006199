package io.c9fs.server;

import io.c9fs.server.lease.LatencyWindow;
import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.server.NinepServer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live counters of a running server, read by tests and by operators ({@code c9fs stats --server},
 * {@link #report}): open connections (clients), how many went with a goodbye and how many
 * vanished, live fids, requests in flight (received, not yet answered), requests answered,
 * backpressure stalls, bytes in and out; its leases (in force, by mode, those of vanished
 * clients), recalls sent, expired and outstanding and their round trip; byte-range locks held,
 * those of vanished clients on record, reclaims granted and refused, the grace left; the export's
 * full-disk state; and the directories watched for local changes.
 *
 * <p>Threading: lock-free counters, updated and read from any thread; the lease and lock figures
 * are read from their tables under those tables' locks.
 */
public final class ServerStats {
    private final LeaseManager leases;
    private final LocalChanges watcher;
    private final LockTable locks;
    private final DiskSpace disk;
    /** Set once the server listens. */
    volatile NinepServer.Traffic traffic;

    ServerStats(LeaseManager leases, LocalChanges watcher, LockTable locks, DiskSpace disk) {
        this.leases = leases;
        this.watcher = watcher;
        this.locks = locks;
        this.disk = disk;
    }

    final AtomicLong connections = new AtomicLong();
    final AtomicLong fids = new AtomicLong();
    final AtomicLong inFlight = new AtomicLong();
    final AtomicLong answered = new AtomicLong();
    final AtomicLong stalls = new AtomicLong();
    final AtomicLong goodbyes = new AtomicLong();
    final AtomicLong vanished = new AtomicLong();
    /** Vanished connections settled early because their mount came back with its token (Tclient). */
    final AtomicLong tokenSettled = new AtomicLong();
    final AtomicLong directReadBytes = new AtomicLong();

    /** Open connections: the clients connected now. */
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

    /** Sessions ended by a goodbye (Tversion on an established session). */
    public long goodbyes() {
        return goodbyes.get();
    }

    /** Connections that closed without a goodbye. */
    public long vanished() {
        return vanished.get();
    }

    /** Vanished connections whose leases ended early because their mount came back (Tclient). */
    public long reclaimedByToken() {
        return tokenSettled.get();
    }

    /** Bytes read from files around the host's page cache (O_DIRECT, {@link Export#readsDirect}). */
    public long directReadBytes() {
        return directReadBytes.get();
    }

    public long bytesIn() {
        NinepServer.Traffic t = traffic;
        return t == null ? 0 : t.bytesIn();
    }

    public long bytesOut() {
        NinepServer.Traffic t = traffic;
        return t == null ? 0 : t.bytesOut();
    }

    /** Leases in force: (connection, file) pairs with a mode above none. */
    public long leasesHeld() {
        return leases.counts().leases();
    }

    /** Lease figures at one moment (by mode, of vanished holders, recalls). */
    public LeaseManager.Counts leaseCounts() {
        return leases.counts();
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

    /** Byte-range locks held now through the fids of all connections. */
    public long locksHeld() {
        return locks.held();
    }

    /** Locks of vanished connections kept on record for their reclaims. */
    public long locksOfVanished() {
        return locks.droppedRecords();
    }

    public long reclaimsGranted() {
        return locks.reclaimsGranted();
    }

    /** Reclaims refused: a conflicting lock was granted since the drop, or no record outside grace. */
    public long reclaimsRefused() {
        return locks.reclaimsRefused();
    }

    /** Lock requests answered GRACE. */
    public long graceRefusals() {
        return locks.graceRefusals();
    }

    /** Milliseconds of grace left, rounded up: 0 only once it is over (locks are granted again). */
    public long graceLeftMillis() {
        long nanos = locks.graceLeftNanos();
        return nanos == 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(nanos - 1) + 1;
    }

    /** The export's disk is full (an ENOSPC episode is on). */
    public boolean diskFull() {
        return disk.full();
    }

    /** Full-disk episodes so far; each was logged once. */
    public long diskFullEpisodes() {
        return disk.episodes();
    }

    /** Requests refused with ENOSPC or EDQUOT. */
    public long diskFullRefusals() {
        return disk.refusals();
    }

    /** The report {@code c9fs stats --server} prints: one "name value" line per figure. */
    public String report() {
        LeaseManager.Counts c = leases.counts();
        LatencyWindow.Percentiles rt = recallRoundTrip();
        StringBuilder b = new StringBuilder();
        line(b, "clients", connections());
        line(b, "clients.goodbye", goodbyes());
        line(b, "clients.vanished", vanished());
        line(b, "clients.returned", reclaimedByToken());
        line(b, "fids", fids());
        line(b, "requests.inflight", inFlight());
        line(b, "requests.answered", answered());
        line(b, "backpressure.stalls", stalls());
        line(b, "bytes.in", bytesIn());
        line(b, "bytes.out", bytesOut());
        line(b, "bytes.read_direct", directReadBytes());
        line(b, "leases", c.leases());
        line(b, "leases.read", c.readLeases());
        line(b, "leases.write", c.writeLeases());
        line(b, "leases.vanished", c.vanishedLeases());
        line(b, "leaseholders", c.holders());
        line(b, "leaseholders.vanished", c.vanishedHolders());
        line(b, "recalls.sent", c.recallsSent());
        line(b, "recalls.outstanding", c.recallsOutstanding());
        line(b, "recalls.expired", c.recallsExpired());
        b.append("recalls.roundtrip.median_us ").append(rt.medianNanos() / 1000).append('\n');
        b.append("recalls.roundtrip.p99_us ").append(rt.p99Nanos() / 1000).append('\n');
        line(b, "locks", locksHeld());
        line(b, "locks.vanished", locksOfVanished());
        line(b, "locks.reclaimed", reclaimsGranted());
        line(b, "locks.reclaims_refused", reclaimsRefused());
        line(b, "locks.grace_refusals", graceRefusals());
        b.append("grace.remaining_ms ").append(graceLeftMillis()).append('\n');
        b.append("disk.full ").append(diskFull() ? "yes" : "no").append('\n');
        line(b, "disk.full_episodes", diskFullEpisodes());
        line(b, "disk.enospc", diskFullRefusals());
        line(b, "watches", localWatches());
        return b.toString();
    }

    private static void line(StringBuilder b, String name, long v) {
        b.append(name).append(' ').append(v).append('\n');
    }

    @Override
    public String toString() {
        LeaseManager.Counts c = leases.counts();
        return "connections=" + connections() + " fids=" + fids() + " inFlight=" + inFlight()
                + " answered=" + answered() + " stalls=" + stalls() + " leases=" + c.leases()
                + " recallsSent=" + c.recallsSent() + " recallsExpired=" + c.recallsExpired()
                + " recallRoundTrip=[" + recallRoundTrip() + "] watches=" + localWatches()
                + " locks=" + locksHeld() + " graceMs=" + graceLeftMillis() + " diskFull=" + diskFull();
    }
}
