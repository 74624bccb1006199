package io.c9fs.server;

import io.c9fs.transport.proto.Message.Tlock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * What the server remembers of byte-range locks beyond the kernel's OFD locks: the grace period
 * after a (re)start, and the locks that connections which vanished were holding.
 *
 * <p><b>Grace.</b> For the grace period after the server starts, only reclaims
 * (Tlock flags {@link Tlock#FLAGS_RECLAIM}) are granted; any other lock request is answered
 * {@code Rlock GRACE} and the client retries. Clients that held locks before a restart (the
 * server has no record of them) thus get them back before anyone else can take them.
 *
 * <p><b>Vanished connections.</b> When a connection goes without a goodbye its descriptors close
 * and the kernel drops its OFD locks at once, so other clients are not held up. The locks it held
 * are recorded here per file, by owner (Tlock's client_id and proc_id). From then on every lock
 * granted on the file that conflicts with a recorded lock of another owner marks that record
 * <em>broken</em>: someone else may have changed the range meanwhile. A reclaim by the old owner
 * is refused ({@code Rlock ERROR}) if any record of its own overlapping the range is broken,
 * granted if it has an intact one, and otherwise granted only within grace (after a restart there
 * is no record, and reclaims are what grace is for). Outside grace a reclaim with no record is
 * refused: the server cannot know that nobody took the lock meanwhile. Records are consumed by
 * the reclaim that finds them and bounded in number (oldest dropped first: a dropped record turns
 * a reclaim into a refusal, the safe answer). A reclaim that runs into the owner's own locks,
 * still held through another connection that the server has not yet seen die, is answered GRACE.
 *
 * <p>Threading: every method may be called from any worker; one monitor guards everything and is
 * a leaf (the only host call under it is the marker's small file write, when locks start or stop
 * being held).
 */
final class LockTable {
    static final int MAX_RECORDS = 4096;

    /** A lock held by {@code owner} on [start, end) (end exclusive; Long.MAX_VALUE: to EOF). */
    record Range(int type, long start, long end, Owner owner) {
        boolean overlaps(long s, long e) {
            return start < e && s < end;
        }

        boolean conflicts(int otherType, long s, long e) {
            return overlaps(s, e) && (type == Tlock.WRLCK || otherType == Tlock.WRLCK);
        }
    }

    /** A lock owner as the client names it in Tlock. */
    record Owner(String clientId, int procId) {
    }

    private static final class Dropped {
        final long path;
        final Range range;
        boolean broken;

        Dropped(long path, Range range) {
            this.path = path;
            this.range = range;
        }
    }

    private final LongSupplier clock;
    private final long graceEnd;
    /** Notes whether any lock is held or on record (see {@link #busyChanged}); null: none kept. */
    private final java.util.function.Consumer<Boolean> marker;
    private boolean busy;
    private long held;
    private final Map<Long, List<Dropped>> dropped = new HashMap<>();
    /** Every fid's held locks, by file: to tell whose lock a reclaim ran into. */
    private final Map<Long, List<Held>> live = new HashMap<>();
    private final ArrayDeque<Dropped> order = new ArrayDeque<>();
    private long reclaimsGranted;
    private long reclaimsRefused;
    private long graceRefusals;

    /**
     * @param graceNanos the grace period from now
     * @param marker     told (under this table's monitor, so in order) when locks start or stop
     *                   being held or on record; the server keeps it in its state directory so
     *                   that its next start knows whether a grace period is needed
     */
    LockTable(LongSupplier clock, long graceNanos, java.util.function.Consumer<Boolean> marker) {
        this.clock = clock;
        this.graceEnd = clock.getAsLong() + graceNanos;
        this.marker = marker;
    }

    /** Locks held through fids changed by {@code delta}. */
    synchronized void heldDelta(long delta) {
        held += delta;
        busyChanged();
    }

    /** {@code h} (a fid's locks on {@code path}) starts holding locks. */
    synchronized void track(long path, Held h) {
        live.computeIfAbsent(path, p -> new ArrayList<>(1)).add(h);
    }

    /** {@code h}'s fid is closed: its locks are gone. */
    synchronized void untrack(long path, Held h) {
        List<Held> l = live.get(path);
        if (l != null && l.remove(h) && l.isEmpty()) {
            live.remove(path);
        }
    }

    /**
     * True if a reclaim of [start, end) by {@code owner} through a fid of {@code session} ran into
     * locks that {@code owner} itself holds through another connection: that client came back on
     * a new connection before the server noticed the old one was dead (a partition heals, the old
     * socket waits for keepalive). The reclaim is answered GRACE, to be retried once the old
     * connection is dropped and its locks are on record.
     */
    synchronized boolean heldByOwnerElsewhere(long path, Owner owner, int type, long start, long end,
                                              Object session) {
        List<Held> l = live.get(path);
        boolean mine = false;
        if (l != null) {
            for (Held h : l) {
                if (h.session == session) {
                    continue;
                }
                for (Range r : h.ranges()) {
                    if (r.conflicts(type, start, end)) {
                        if (!r.owner().equals(owner)) {
                            return false;
                        }
                        mine = true;
                    }
                }
            }
        }
        return mine;
    }

    /** Byte-range locks held now, through all fids of all connections. */
    synchronized long held() {
        return held;
    }

    private void busyChanged() {
        boolean now = held > 0 || !order.isEmpty();
        if (now != busy) {
            busy = now;
            if (marker != null) {
                marker.accept(now);
            }
        }
    }

    /** Nanoseconds of grace left, 0 once it is over. */
    long graceLeftNanos() {
        return Math.max(0, graceEnd - clock.getAsLong());
    }

    /** The end (exclusive) of a Tlock range: length 0 means to the end of the file. */
    static long end(long start, long length) {
        if (length == 0 || start + length < start) {
            return Long.MAX_VALUE;
        }
        return start + length;
    }

    /** A non-reclaim lock request during grace: false (answer GRACE). Unlocks always pass. */
    synchronized boolean mayLock(Tlock t) {
        if (t.lockType() == Tlock.UNLCK || (t.flags() & Tlock.FLAGS_RECLAIM) != 0 || graceLeftNanos() == 0) {
            return true;
        }
        graceRefusals++;
        return false;
    }

    /** Whether a reclaim of [start, end) on {@code path} by {@code owner} may be tried; consumes its records. */
    synchronized boolean reclaim(long path, Owner owner, long start, long end) {
        List<Dropped> l = dropped.get(path);
        boolean intact = false;
        boolean broken = false;
        if (l != null) {
            for (Dropped d : l) {
                if (d.range.owner().equals(owner) && d.range.overlaps(start, end)) {
                    broken |= d.broken;
                    intact |= !d.broken;
                }
            }
        }
        boolean ok = !broken && (intact || graceLeftNanos() > 0);
        if (ok && l != null) {
            for (Iterator<Dropped> it = l.iterator(); it.hasNext(); ) {
                Dropped d = it.next();
                if (d.range.owner().equals(owner) && d.range.overlaps(start, end)) {
                    it.remove();
                    order.remove(d);
                }
            }
            if (l.isEmpty()) {
                dropped.remove(path);
            }
            busyChanged();
        }
        if (!ok) {
            reclaimsRefused++;
        }
        return ok;
    }

    /** A reclaim that {@link #reclaim} allowed was granted by the kernel too, or found the range taken. */
    synchronized void reclaimed(boolean granted) {
        if (granted) {
            reclaimsGranted++;
        } else {
            reclaimsRefused++;
        }
    }

    /** A lock was granted: records of other owners it conflicts with are broken from now on. */
    synchronized void granted(long path, Range r) {
        List<Dropped> l = dropped.get(path);
        if (l == null || r.type() == Tlock.UNLCK) {
            return;
        }
        for (Dropped d : l) {
            if (!d.range.owner().equals(r.owner()) && d.range.conflicts(r.type(), r.start(), r.end())) {
                d.broken = true;
            }
        }
    }

    /** The locks a vanished connection held on {@code path}, dropped by the kernel with its descriptors. */
    synchronized void vanished(long path, List<Range> held) {
        for (Range r : held) {
            Dropped d = new Dropped(path, r);
            dropped.computeIfAbsent(path, p -> new ArrayList<>()).add(d);
            order.add(d);
            if (order.size() > MAX_RECORDS) {
                Dropped old = order.poll();
                List<Dropped> ol = dropped.get(old.path);
                ol.remove(old);
                if (ol.isEmpty()) {
                    dropped.remove(old.path);
                }
            }
        }
        busyChanged();
    }

    /** Locks of vanished connections still on record. */
    synchronized int droppedRecords() {
        return order.size();
    }

    synchronized long reclaimsGranted() {
        return reclaimsGranted;
    }

    synchronized long reclaimsRefused() {
        return reclaimsRefused;
    }

    /** Lock requests answered GRACE. */
    synchronized long graceRefusals() {
        return graceRefusals;
    }

    /**
     * The locks held through one fid (one open file description), kept as the kernel keeps them:
     * setting a range replaces what overlapped it, unlocking splits. Touched only by the fid's own
     * requests (serialized by {@link RequestQueue}) and by the clunk after them.
     */
    static final class Held {
        private final List<Range> ranges = new ArrayList<>(1);
        /** The connection's identity (its session's owner object). */
        final Object session;

        Held(Object session) {
            this.session = session;
        }

        /** Guarded by this Held's monitor: the table reads it from other connections' requests. */
        synchronized void apply(Range r) {
            List<Range> next = new ArrayList<>(ranges.size() + 2);
            for (Range x : ranges) {
                if (!x.overlaps(r.start(), r.end())) {
                    next.add(x);
                    continue;
                }
                if (x.start() < r.start()) {
                    next.add(new Range(x.type(), x.start(), r.start(), x.owner()));
                }
                if (x.end() > r.end()) {
                    next.add(new Range(x.type(), r.end(), x.end(), x.owner()));
                }
            }
            if (r.type() != Tlock.UNLCK) {
                next.add(r);
            }
            ranges.clear();
            ranges.addAll(next);
        }

        synchronized List<Range> ranges() {
            return List.copyOf(ranges);
        }

        synchronized int size() {
            return ranges.size();
        }
    }
}
