package io.c9fs.server.lease;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The server's side of the lease protocol (docs/protocol.md): who holds a lease on which file
 * (keyed by qid.path), which recalls a request must wait for, and who is fenced.
 *
 * <p>Before the server answers a request that conflicts with what other clients cache, it asks
 * this class for the recalls that request needs ({@link #beforeWrite}, {@link #beforeRead},
 * {@link #beforeAttrChange}, {@link #beforeEntryChange}, {@link #grant}); the returned future
 * completes when every holder has acknowledged ({@link #acknowledge}) or its lease has expired.
 * A holder that lets a recall expire is fenced on that file: {@link #fenced} tells the server to
 * refuse its late writes until it takes a new lease.
 *
 * <p><b>Threads and locks.</b> Every method may be called from any thread. One monitor (this)
 * guards all state; it is never held while a {@link Holder} is called or a future completes,
 * so a holder's send, and the request continuations that futures trigger, may call back in.
 * Expiry runs on the given scheduler.
 */
public final class LeaseManager {
    /** Lease modes, as on the wire. */
    public static final int NONE = 0;
    public static final int READ = 1;
    public static final int WRITE = 2;

    private final long termNanos;
    private final LongSupplier clock;
    private final ScheduledExecutorService scheduler;

    private final Map<Long, Map<Holder, Integer>> leases = new HashMap<>();
    private final Map<Holder, HolderState> holders = new HashMap<>();
    private final Map<Long, Pending> pending = new HashMap<>();
    private long nextRecallId = 1;

    /**
     * @param term      how long a lease lives after its holder last renewed, and how long a
     *                  recall may go unacknowledged
     * @param clock     nanosecond clock (System::nanoTime outside tests)
     * @param scheduler runs expiry checks
     */
    public LeaseManager(Duration term, LongSupplier clock, ScheduledExecutorService scheduler) {
        this.termNanos = term.toNanos();
        this.clock = clock;
        this.scheduler = scheduler;
    }

    public Duration term() {
        return Duration.ofNanos(termNanos);
    }

    /** One client connection that negotiated leases. */
    public interface Holder {
        /** Queues a recall for the holder's next Rcallback. Must not block. */
        void recall(Recall recall);
    }

    /** A recall as it goes on the wire (Rcallback's recall record). */
    public record Recall(long id, Kind kind, long path, long offset, long length, String name) {
    }

    public enum Kind {
        DATA(1), ATTR(2), ENTRY(3), REVOKE(4);

        public final int wire;

        Kind(int wire) {
            this.wire = wire;
        }
    }

    private static final class HolderState {
        long renewedAt;
        final Set<Long> fenced = new HashSet<>();
        final Set<Long> outstanding = new HashSet<>();
    }

    /** A recall waiting for its acknowledgement, and the requests waiting for it. */
    private static final class Pending {
        final Holder holder;
        final long path;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Pending(Holder holder, long path) {
            this.holder = holder;
            this.path = path;
        }
    }

    /** The holder's Tcallback arrived: all its leases live another term from now. */
    public void renew(Holder h) {
        synchronized (this) {
            state(h).renewedAt = clock.getAsLong();
        }
    }

    /**
     * Grants {@code mode} on {@code path} to {@code h} once the recalls it needs are done: a
     * write lease recalls every other holder's cached data of the file (the new writer may dirty
     * any page without telling anyone). A new lease lifts a fence.
     */
    public CompletableFuture<Integer> grant(Holder h, long path, int mode) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            HolderState s = state(h);
            s.renewedAt = clock.getAsLong();
            s.fenced.remove(path);
            if (mode == NONE) {
                Map<Holder, Integer> m = leases.get(path);
                if (m != null) {
                    m.remove(h);
                    if (m.isEmpty()) {
                        leases.remove(path);
                    }
                }
                return CompletableFuture.completedFuture(NONE);
            }
            leases.computeIfAbsent(path, p -> new HashMap<>()).merge(h, mode, Math::max);
            if (mode == WRITE) {
                recallLocked(h, path, Kind.DATA, 0, 0, "", false, out, waits);
            }
        }
        send(out);
        return all(waits).thenApply(v -> mode);
    }

    /** Data in [offset, offset+length) of {@code path} changes (Twrite, truncate): recall it from every other holder. */
    public CompletableFuture<Void> beforeWrite(Holder h, long path, long offset, long length) {
        return recall(h, path, Kind.DATA, offset, length, "", false);
    }

    /**
     * {@code h} reads [offset, offset+length) of {@code path} from the server: writers elsewhere
     * launder and drop their pages of it first; when {@code h} is itself a writer, readers drop
     * theirs too (the page {@code h} caches may be dirtied silently).
     */
    public CompletableFuture<Void> beforeRead(Holder h, long path, long offset, long length) {
        boolean readerIsWriter;
        synchronized (this) {
            Map<Holder, Integer> m = leases.get(path);
            readerIsWriter = h != null && m != null && m.getOrDefault(h, NONE) == WRITE;
        }
        return recall(h, path, Kind.DATA, offset, length, "", !readerIsWriter);
    }

    /** Attributes of {@code path} change (chmod, chown, utimes, size). */
    public CompletableFuture<Void> beforeAttrChange(Holder h, long path) {
        return recall(h, path, Kind.ATTR, 0, 0, "", false);
    }

    /** The entry {@code name} of directory {@code dirPath} is created, removed or renamed. */
    public CompletableFuture<Void> beforeEntryChange(Holder h, long dirPath, String name) {
        return recall(h, dirPath, Kind.ENTRY, 0, 0, name, false);
    }

    /** A process on the server machine changed {@code path}: recall, without anyone to wait. */
    public void localChange(long path, Kind kind, String name) {
        recall(null, path, kind, 0, 0, name, false);
    }

    /** The holder acknowledged recall {@code id} (Trecalled). Unknown ids are ignored: the recall may have expired. */
    public void acknowledge(Holder h, long id) {
        Pending p;
        synchronized (this) {
            p = pending.get(id);
            if (p == null || p.holder != h) {
                return;
            }
            pending.remove(id);
            state(h).outstanding.remove(id);
        }
        p.done.complete(null);
    }

    /** True if {@code h} let a recall of {@code path} expire and has not taken a new lease since. */
    public synchronized boolean fenced(Holder h, long path) {
        HolderState s = holders.get(h);
        return s != null && s.fenced.contains(path);
    }

    /** The mode {@code h} holds on {@code path}. */
    public synchronized int mode(Holder h, long path) {
        Map<Holder, Integer> m = leases.get(path);
        return m == null ? NONE : m.getOrDefault(h, NONE);
    }

    /** The holder is gone (disconnect, Tversion): its leases end and nobody waits for it. */
    public void disconnected(Holder h) {
        List<Pending> release = new ArrayList<>();
        synchronized (this) {
            HolderState s = holders.remove(h);
            for (Iterator<Map<Holder, Integer>> it = leases.values().iterator(); it.hasNext(); ) {
                Map<Holder, Integer> m = it.next();
                m.remove(h);
                if (m.isEmpty()) {
                    it.remove();
                }
            }
            if (s != null) {
                for (long id : s.outstanding) {
                    Pending p = pending.remove(id);
                    if (p != null) {
                        release.add(p);
                    }
                }
            }
        }
        release.forEach(p -> p.done.complete(null));
    }

    /** Number of leases held and recalls outstanding, for stats. */
    public synchronized Counts counts() {
        int n = 0;
        for (Map<Holder, Integer> m : leases.values()) {
            n += m.size();
        }
        return new Counts(holders.size(), n, pending.size());
    }

    public record Counts(int holders, int leases, int recallsOutstanding) {
    }

    // ------------------------------------------------------------------ internals

    private CompletableFuture<Void> recall(Holder except, long path, Kind kind, long offset, long length,
                                           String name, boolean writersOnly) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            recallLocked(except, path, kind, offset, length, name, writersOnly, out, waits);
        }
        send(out);
        return all(waits);
    }

    private void recallLocked(Holder except, long path, Kind kind, long offset, long length, String name,
                              boolean writersOnly, List<Delivery> out, List<CompletableFuture<Void>> waits) {
        Map<Holder, Integer> m = leases.get(path);
        if (m == null) {
            return;
        }
        for (Map.Entry<Holder, Integer> e : m.entrySet()) {
            Holder h = e.getKey();
            if (h == except || (writersOnly && e.getValue() != WRITE)) {
                continue;
            }
            long id = nextRecallId++;
            Pending p = new Pending(h, path);
            pending.put(id, p);
            state(h).outstanding.add(id);
            out.add(new Delivery(h, new Recall(id, kind, path, offset, length, name)));
            waits.add(p.done);
            scheduler.schedule(() -> expire(id), termNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** A recall and its addressee, collected under the monitor and delivered after it is released. */
    private record Delivery(Holder holder, Recall recall) {
    }

    private static void send(List<Delivery> out) {
        for (Delivery d : out) {
            d.holder().recall(d.recall());
        }
    }

    /**
     * Ends the leases of holders that have not renewed for a whole term (a partitioned or paused
     * client): they are fenced on every file they held, and requests waiting for their
     * acknowledgements go ahead. The server calls this periodically (a quarter term is enough:
     * a recall's own expiry covers the files that someone is waiting for).
     */
    public void expireSilentHolders() {
        List<Pending> release = new ArrayList<>();
        synchronized (this) {
            long now = clock.getAsLong();
            for (Map.Entry<Holder, HolderState> e : holders.entrySet()) {
                HolderState s = e.getValue();
                if (now - s.renewedAt < termNanos) {
                    continue;
                }
                Holder h = e.getKey();
                for (Iterator<Map.Entry<Long, Map<Holder, Integer>>> it = leases.entrySet().iterator(); it.hasNext(); ) {
                    Map.Entry<Long, Map<Holder, Integer>> l = it.next();
                    if (l.getValue().remove(h) != null) {
                        s.fenced.add(l.getKey());
                        if (l.getValue().isEmpty()) {
                            it.remove();
                        }
                    }
                }
                for (long id : s.outstanding) {
                    Pending p = pending.remove(id);
                    if (p != null) {
                        release.add(p);
                    }
                }
                s.outstanding.clear();
            }
        }
        release.forEach(p -> p.done.complete(null));
    }

    /**
     * A recall went unanswered for a whole term: the holder loses its lease on the file and is
     * fenced there, and the request waiting for it goes ahead.
     */
    private void expire(long id) {
        Pending p;
        synchronized (this) {
            p = pending.remove(id);
            if (p == null) {
                return;
            }
            HolderState s = state(p.holder);
            s.outstanding.remove(id);
            s.fenced.add(p.path);
            Map<Holder, Integer> m = leases.get(p.path);
            if (m != null) {
                m.remove(p.holder);
                if (m.isEmpty()) {
                    leases.remove(p.path);
                }
            }
        }
        p.done.complete(null);
    }

    private HolderState state(Holder h) {
        return holders.computeIfAbsent(h, k -> {
            HolderState s = new HolderState();
            s.renewedAt = clock.getAsLong();
            return s;
        });
    }

    private static CompletableFuture<Void> all(List<CompletableFuture<Void>> waits) {
        if (waits.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new));
    }
}
