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
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The server's side of the lease protocol (docs/protocol.md): who holds a lease on which file
 * (keyed by qid.path), which recalls a request must wait for, and who is fenced.
 *
 * <p>A holder's lease on a file has two parts: the <em>implicit</em> read lease, held while the
 * holder has at least one fid on the file ({@link #reference}/{@link #unreference}, one count
 * per fid), and the <em>explicit</em> mode set by Tlease ({@link #grant}; 0 drops it). The
 * effective mode is the larger of the two, or none while the holder is fenced on the file.
 *
 * <p>Before the server answers a request that conflicts with what other clients cache, it asks
 * this class for the recalls that request needs ({@link #beforeWrite} and {@link #afterWrite}
 * around a data change, {@link #beforeRead}, {@link #attrChanged}, {@link #entryChanged},
 * {@link #grant}); the returned future completes when every holder has acknowledged
 * ({@link #acknowledge}) or its recall has expired. A holder that lets a recall expire is fenced
 * on that file: {@link #fenced} tells the server to refuse its late writes until it takes a new
 * lease. Only {@link #register registered} holders take leases, so a request that finishes after
 * its connection went away cannot leave a lease behind that nobody would ever acknowledge.
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

    private final Map<Long, Map<Holder, Lease>> leases = new HashMap<>();
    private final Map<Holder, HolderState> holders = new HashMap<>();
    private final Map<Long, Pending> pending = new HashMap<>();
    /** Changes by a holder still waiting for their recalls, by holder and qid.path. */
    private final Map<Holder, Map<Long, List<CompletableFuture<Void>>>> changing = new HashMap<>();
    /** Reads by a holder still waiting for their recalls, by holder and qid.path (see beforeRead). */
    private final Map<Holder, Map<Long, List<WaitingRead>>> reading = new HashMap<>();
    private long nextRecallId = 1;
    /** Files with a sole write lease (see {@link #grant}). */
    private final Set<Long> solePaths = new HashSet<>();
    /**
     * Requests answering attributes of files they may hold no lease on yet (listings, creates)
     * now running, by holder ({@link #PLAIN} for a plain client): no sole write lease is granted
     * to anyone else meanwhile (see {@link #beforeForeignAttrs}).
     */
    private final Map<Object, Integer> foreignAttrs = new HashMap<>();
    private static final Object PLAIN = new Object();
    private long recallsSent;
    private long recallsExpired;
    private final LatencyWindow roundTrips = new LatencyWindow();

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
        DATA(1), ATTR(2), ENTRY(3), REVOKE(4),
        /**
         * To a sole writer (see {@link #grant}): another client now holds a lease on the file too.
         * Nothing is dropped; the writer stops writing behind and acknowledges once its writes in
         * flight are answered, so the other client's request waiting for it sees them.
         */
        SHARE(5);

        public final int wire;

        Kind(int wire) {
            this.wire = wire;
        }
    }

    private static final class HolderState {
        long renewedAt;
        /** The connection went without a goodbye: its leases stand until renewedAt + term. */
        boolean vanished;
        /** The client token it presented (Tclient), or null. */
        Token token;
        final Set<Long> fenced = new HashSet<>();
        final Set<Long> outstanding = new HashSet<>();
    }

    /**
     * One holder's lease on one file: fids on it, listings that named it (Treaddirattr, until
     * Tunlist), and the mode it asked for with Tlease.
     */
    private static final class Lease {
        int refs;
        int listed;
        int explicit;
        /**
         * A write lease granted while no other holder had any lease on the file, and none since:
         * its holder may answer write(2) before its Twrites are (write-behind, docs/coherence.md).
         */
        boolean sole;

        boolean unused() {
            return refs == 0 && listed == 0 && explicit == NONE;
        }
    }

    /** A recall waiting for its acknowledgement, and the requests waiting for it. */
    private static final class Pending {
        final Holder holder;
        final long path;
        final long sentAt;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        /** The recall's expiry, cancelled when it is acknowledged: a busy server sends many. */
        ScheduledFuture<?> expiry;

        Pending(Holder holder, long path, long sentAt) {
            this.holder = holder;
            this.path = path;
            this.sentAt = sentAt;
        }
    }

    /** {@code h} negotiated leases: from now on its fids and Tleases are leases. */
    public synchronized void register(Holder h) {
        holders.computeIfAbsent(h, k -> {
            HolderState s = new HolderState();
            s.renewedAt = clock.getAsLong();
            return s;
        });
    }

    /** A mount's client token (Tclient): 16 random bytes it keeps across its connections. */
    public record Token(long hi, long lo) {
    }

    /**
     * {@code h} presented {@code token}: every <em>vanished</em> holder that presented the same
     * token is the same mount on a connection that broke, and it is back. It dropped its caches
     * when the connection was lost and takes its write leases anew, so nobody needs to wait for
     * recalls to its dead connection any more: those holders are {@link #disconnected} now. A
     * live holder with the token is left alone (a token is no proof of anything beyond what the
     * attach's authentication proved): if it vanishes later, {@link #vanished} settles it at once,
     * since its mount is already here again.
     *
     * @return how many vanished holders were settled
     */
    public int identify(Holder h, Token token) {
        List<Holder> settle = new ArrayList<>();
        synchronized (this) {
            HolderState s = holders.get(h);
            if (s == null || s.vanished) {
                return 0;
            }
            s.token = token;
            for (Map.Entry<Holder, HolderState> e : holders.entrySet()) {
                if (e.getKey() != h && e.getValue().vanished && token.equals(e.getValue().token)) {
                    settle.add(e.getKey());
                }
            }
        }
        settle.forEach(this::disconnected);
        return settle.size();
    }

    /** True if a holder other than {@code h}, live, presented {@code h}'s token. */
    private boolean supersededLocked(Holder h, HolderState s) {
        if (s.token == null) {
            return false;
        }
        for (Map.Entry<Holder, HolderState> e : holders.entrySet()) {
            if (e.getKey() != h && !e.getValue().vanished && s.token.equals(e.getValue().token)) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code h} got a fid on {@code path} (attach, walk, create): one more implicit read reference.
     * Returns what the request must wait for before it is answered (null: nothing): the
     * acknowledgement of a sole writer's SHARE recall, i.e. its writes in flight landing, so that
     * whatever {@code h} asks about the file next sees every write(2) that returned there.
     */
    public CompletableFuture<Void> reference(Holder h, long path) {
        List<Delivery> out;
        List<CompletableFuture<Void>> waits;
        synchronized (this) {
            HolderState s = holders.get(h);
            if (s == null || s.vanished) {
                return null;
            }
            Map<Holder, Lease> m = leases.computeIfAbsent(path, p -> new HashMap<>());
            m.computeIfAbsent(h, k -> new Lease()).refs++;
            if (!solePaths.contains(path)) {
                return null;
            }
            out = new ArrayList<>();
            waits = new ArrayList<>();
            unsoleLocked(h, path, m, out, waits);
        }
        send(out);
        return waits.isEmpty() ? null : all(waits);
    }

    /**
     * Ends every sole write lease of {@code path} but {@code except}'s: a SHARE recall each, into
     * {@code out} and {@code waits}.
     */
    private void unsoleLocked(Holder except, long path, Map<Holder, Lease> m, List<Delivery> out,
                              List<CompletableFuture<Void>> waits) {
        if (!solePaths.contains(path)) {
            return;
        }
        if (m == null) {
            solePaths.remove(path); // its leases ended since
            return;
        }
        boolean left = false;
        for (Map.Entry<Holder, Lease> e : m.entrySet()) {
            Lease l = e.getValue();
            if (!l.sole) {
                continue;
            }
            if (e.getKey() == except) {
                left = true;
                continue;
            }
            l.sole = false;
            if (effective(e.getKey(), path, l) == WRITE && !holders.get(e.getKey()).vanished) {
                recallOneLocked(e.getKey(), path, Kind.SHARE, 0, 0, "", out, waits);
            }
        }
        if (!left) {
            solePaths.remove(path);
        }
    }

    /** True if {@code h} holds a sole write lease on {@code path} (see {@link #grant}). */
    public synchronized boolean sole(Holder h, long path) {
        Map<Holder, Lease> m = leases.get(path);
        Lease l = m == null ? null : m.get(h);
        return l != null && l.sole && effective(h, path, l) == WRITE;
    }

    /**
     * {@code h} (null: a plain client) starts a request that answers attributes of files it may
     * hold no lease on yet, stat'ed by the request itself (Treaddirattr, Tlcreate, Tlcreateattr of
     * a file that exists): every sole writer but {@code h} is recalled first (SHARE), and none is
     * granted until {@link #afterForeignAttrs}, since a writer that became sole between this wait
     * and the request's stat could have written behind what the stat then misses. Costs nothing
     * while nobody holds a sole write lease.
     */
    public CompletableFuture<Void> beforeForeignAttrs(Holder h) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            foreignAttrs.merge(h == null ? PLAIN : h, 1, Integer::sum);
            for (long path : List.copyOf(solePaths)) {
                unsoleLocked(h, path, leases.get(path), out, waits);
            }
        }
        send(out);
        return all(waits);
    }

    /** The request of {@code h} that began with {@link #beforeForeignAttrs} was applied (or failed). */
    public synchronized void afterForeignAttrs(Holder h) {
        foreignAttrs.computeIfPresent(h == null ? PLAIN : h, (k, n) -> n == 1 ? null : n - 1);
    }

    /** True if a request of a holder other than {@code h} that forbids sole grants is running. */
    private boolean othersListingLocked(Holder h) {
        return foreignAttrs.size() > (foreignAttrs.containsKey(h) ? 1 : 0);
    }

    /**
     * {@code h} was sent the attributes of {@code path} in a listing (Treaddirattr): one more
     * listing reference, an implicit read lease like a fid's, until {@link #unlist}. False, and
     * nothing taken, when {@code h} could not hold it (vanished, unknown, or fenced there: a
     * fenced holder gets no recalls of the file, so it must not trust what it was sent).
     */
    public synchronized boolean list(Holder h, long path) {
        HolderState s = holders.get(h);
        if (s == null || s.vanished || s.fenced.contains(path)) {
            return false;
        }
        leases.computeIfAbsent(path, p -> new HashMap<>()).computeIfAbsent(h, k -> new Lease()).listed++;
        return true;
    }

    /** {@code h} forgot {@code count} listings of {@code path} (Tunlist); never below none. */
    public synchronized void unlist(Holder h, long path, int count) {
        Map<Holder, Lease> m = leases.get(path);
        Lease l = m == null ? null : m.get(h);
        if (l != null && count > 0) {
            l.listed = Math.max(0, l.listed - count);
            dropIfUnused(m, h, l, path);
        }
    }

    /** True if some holder has a lease of any mode on {@code path}. */
    public synchronized boolean leased(long path) {
        return leases.containsKey(path);
    }

    /** {@code h} let go of a fid on {@code path} (clunk, remove, a walk or create moving the fid). */
    public synchronized void unreference(Holder h, long path) {
        Map<Holder, Lease> m = leases.get(path);
        Lease l = m == null ? null : m.get(h);
        if (l != null && l.refs > 0) {
            l.refs--;
            dropIfUnused(m, h, l, path);
        }
    }

    /** The holder's Tcallback arrived: all its leases live another term from now. */
    public void renew(Holder h) {
        synchronized (this) {
            HolderState s = holders.get(h);
            if (s != null) {
                s.renewedAt = clock.getAsLong();
            }
        }
    }

    /**
     * Grants {@code mode} on {@code path} to {@code h} once the recalls it needs are done: a
     * write lease recalls every other holder's cached data of the file (the new writer may dirty
     * any page without telling anyone). A new lease lifts a fence.
     */
    public CompletableFuture<Integer> grant(Holder h, long path, int mode) {
        return grant(h, path, mode, false);
    }

    /**
     * As {@link #grant(Holder, long, int)}; with {@code askSole} a write lease is <em>sole</em> if
     * no other holder has any lease on the file (no fid, listing or Tlease) and no
     * {@link #beforeForeignAttrs} request is running: see {@link #sole}. It stays sole until
     * another holder takes any lease on the file ({@link #reference}) or such a request starts,
     * which recall it (SHARE).
     */
    public CompletableFuture<Integer> grant(Holder h, long path, int mode, boolean askSole) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            HolderState s = holders.get(h);
            if (s == null) {
                return CompletableFuture.completedFuture(NONE);
            }
            s.renewedAt = clock.getAsLong();
            s.fenced.remove(path);
            Map<Holder, Lease> m = leases.computeIfAbsent(path, p -> new HashMap<>());
            Lease l = m.computeIfAbsent(h, k -> new Lease());
            l.explicit = mode;
            l.sole = askSole && mode == WRITE && m.size() == 1 && !othersListingLocked(h) && !s.vanished;
            if (l.sole) {
                solePaths.add(path);
            } else {
                unsoleLocked(h, path, m, out, waits);
            }
            if (mode == NONE) {
                dropIfUnused(m, h, l, path);
            } else if (mode == WRITE) {
                recallLocked(h, path, Kind.DATA, 0, 0, "", false, out, waits, null);
            }
        }
        send(out);
        return mode == NONE ? CompletableFuture.completedFuture(NONE) : all(waits).thenApply(v -> mode);
    }

    /**
     * Phase 1 of a data change (Twrite, truncation) of [offset, offset+length) by {@code h} (null:
     * a plain client): every other <em>writer</em> launders and drops its pages of the range, so
     * that no dirty page written back later can overwrite the change. The writers' laundering
     * Twrites must be served while this waits.
     */
    public CompletableFuture<Void> beforeWrite(Holder h, long path, long offset, long length) {
        return dataChange(h, path, offset, length, true);
    }

    /**
     * Phase 2 of a data change, after it was applied and before it is answered: every other
     * holder drops the range (pages cached before the change, or re-read while phase 1 waited).
     */
    public CompletableFuture<Void> afterWrite(Holder h, long path, long offset, long length) {
        return dataChange(h, path, offset, length, false);
    }

    /**
     * The recalls of a data change. A holder that writes a file while a recall of that file is
     * outstanding for it is laundering: the request that recalled it may well be a read that
     * one of the holders recalled now is waiting for, and such a holder acknowledges only once
     * its read is answered; waiting would be a cycle broken only by expiry. The recalls are sent
     * but not waited for: the laundered bytes are on the server before the recall that asked
     * for them is acknowledged, which is what the recalling request waits for.
     */
    private CompletableFuture<Void> dataChange(Holder h, long path, long offset, long length,
                                               boolean writersOnly) {
        return change(h, path, Kind.DATA, offset, length, writersOnly);
    }

    /**
     * The recalls of a change by {@code h}, and what its request waits for. A laundering holder
     * (see {@link #dataChange}) waits for nothing. One that is not laundering yet may become so
     * while it waits: a page the kernel writes back on its own (syncfs, memory pressure) is a
     * plain write, and if a reader that the recalled holders wait on then recalls {@code h}, the
     * write and {@code h}'s recall handling wait on each other. So the wait is registered, and a
     * recall of {@code h} on the same file ends it ({@link #recallLocked}).
     */
    private CompletableFuture<Void> change(Holder h, long path, Kind kind, long offset, long length,
                                           boolean writersOnly) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        boolean laundering;
        CompletableFuture<Void> done = null;
        synchronized (this) {
            laundering = isRecalledLocked(h, path);
            recallLocked(h, path, kind, offset, length, "", writersOnly, out, waits, null);
            if (!laundering && h != null && !waits.isEmpty()) {
                done = new CompletableFuture<>();
                changing.computeIfAbsent(h, k -> new HashMap<>())
                        .computeIfAbsent(path, k -> new ArrayList<>()).add(done);
            }
        }
        send(out);
        if (laundering) {
            return CompletableFuture.completedFuture(null);
        }
        if (done == null) {
            return all(waits);
        }
        CompletableFuture<Void> d = done;
        all(waits).whenComplete((v, e) -> {
            synchronized (this) {
                forget(changing, h, path, d);
            }
            d.complete(null);
        });
        return d;
    }

    private boolean isRecalledLocked(Holder h, long path) {
        HolderState s = h == null ? null : holders.get(h);
        if (s == null) {
            return false;
        }
        for (long id : s.outstanding) {
            Pending p = pending.get(id);
            if (p != null && p.path == path) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code h} reads [offset, offset+length) of {@code path} from the server: writers elsewhere
     * launder and drop their pages of it first; when {@code h} is itself a writer, readers drop
     * theirs too (the page {@code h} caches may be dirtied silently).
     */
    public CompletableFuture<Void> beforeRead(Holder h, long path, long offset, long length) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        List<Holder> recalled = new ArrayList<>();
        WaitingRead w = null;
        synchronized (this) {
            boolean readerIsWriter = h != null && mode(h, path) == WRITE;
            recallLocked(h, path, Kind.DATA, offset, length, "", !readerIsWriter, out, waits, recalled);
            List<CompletableFuture<Void>> released = new ArrayList<>();
            for (Holder x : recalled) {
                releaseReadsWaitingFor(x, path, h, released);
            }
            if (!released.isEmpty()) {
                scheduler.execute(() -> released.forEach(f -> f.complete(null)));
            }
            if (h != null && !waits.isEmpty()) {
                w = new WaitingRead(Set.copyOf(recalled), new CompletableFuture<>());
                reading.computeIfAbsent(h, k -> new HashMap<>())
                        .computeIfAbsent(path, k -> new ArrayList<>()).add(w);
            }
        }
        send(out);
        if (w == null) {
            return all(waits);
        }
        WaitingRead mine = w;
        all(waits).whenComplete((v, e) -> {
            synchronized (this) {
                forget(reading, h, path, mine);
            }
            mine.done.complete(null);
        });
        return mine.done;
    }

    /**
     * A read of a holder waiting for the recalls it sent ({@code on}). While it waits, the
     * holder's kernel keeps the pages being read locked, so the holder cannot carry out a recall
     * of that range until the read is answered (the kernel's inval waits for the page lock). If
     * one of {@code on} now reads the file too and recalls the holder, the two reads wait on each
     * other until expiry, and the expiry fences a writer whose dirty pages are then lost (found by
     * the demo: two writers of one file, one faulting a page in to store into it, the other
     * pread()ing). The earlier read stops waiting then ({@link #beforeRead}): it is answered with
     * what the server has, its holder's recall goes through, and the later read gets that
     * holder's laundered pages. The price: the earlier read may miss dirty pages the other holder
     * had in the range and had not laundered yet.
     */
    private record WaitingRead(Set<Holder> on, CompletableFuture<Void> done) {
    }

    /** Takes the reads of {@code x} on {@code path} that wait for {@code reader} out of the table. */
    private void releaseReadsWaitingFor(Holder x, long path, Holder reader, List<CompletableFuture<Void>> into) {
        List<WaitingRead> reads = reading.getOrDefault(x, Map.of()).get(path);
        if (reads == null || reader == null) {
            return;
        }
        for (WaitingRead r : List.copyOf(reads)) {
            if (r.on().contains(reader)) {
                forget(reading, x, path, r);
                into.add(r.done());
            }
        }
    }

    private static <T> void forget(Map<Holder, Map<Long, List<T>>> table, Holder h, long path, T entry) {
        Map<Long, List<T>> byPath = table.get(h);
        List<T> list = byPath == null ? null : byPath.get(path);
        if (list == null) {
            return;
        }
        list.remove(entry);
        if (list.isEmpty()) {
            byPath.remove(path);
        }
        if (byPath.isEmpty()) {
            table.remove(h);
        }
    }

    /** Attributes of {@code path} changed (chmod, chown, utimes, xattrs, nlink, ctime). */
    public CompletableFuture<Void> attrChanged(Holder h, long path) {
        // As for data: an attribute change made while laundering — an append's new size — is
        // recalled without waiting, or the holder and the reader it launders for would wait on
        // each other until expiry.
        return change(h, path, Kind.ATTR, 0, 0, false);
    }

    /** The entry {@code name} of directory {@code dirPath} was created, removed or renamed. */
    public CompletableFuture<Void> entryChanged(Holder h, long dirPath, String name) {
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
            holders.get(h).outstanding.remove(id);
            roundTrips.record(clock.getAsLong() - p.sentAt);
        }
        p.expiry.cancel(false);
        p.done.complete(null);
    }

    /** True if {@code h} let a recall of {@code path} expire and has not taken a new lease since. */
    public synchronized boolean fenced(Holder h, long path) {
        HolderState s = holders.get(h);
        return s != null && s.fenced.contains(path);
    }

    /** The mode {@code h} holds on {@code path}: none while fenced there, else the larger of Tlease's and the fids' read. */
    public synchronized int mode(Holder h, long path) {
        Map<Holder, Lease> m = leases.get(path);
        Lease l = m == null ? null : m.get(h);
        return l == null ? NONE : effective(h, path, l);
    }

    private int effective(Holder h, long path, Lease l) {
        HolderState s = holders.get(h);
        if (s == null || s.fenced.contains(path)) {
            return NONE;
        }
        return Math.max(l.explicit, l.refs > 0 || l.listed > 0 ? READ : NONE);
    }

    private void dropIfUnused(Map<Holder, Lease> m, Holder h, Lease l, long path) {
        if (l.unused()) {
            m.remove(h);
            if (m.isEmpty()) {
                leases.remove(path);
                solePaths.remove(path);
            }
        }
    }

    /**
     * The holder's connection went without a goodbye (reset, EOF, keepalive failure): it may be
     * partitioned rather than gone, still serving reads from its cache until its own term runs
     * out. So its leases stand until the term after its last renewal (its fids' implicit read
     * leases become explicit, since the fids are released now), recalls of it go unanswered, and
     * requests that conflict with it wait until then, no longer. Then it is
     * {@link #disconnected}.
     */
    public void vanished(Holder h) {
        long left;
        synchronized (this) {
            HolderState s = holders.get(h);
            if (s == null) {
                return;
            }
            s.vanished = true;
            for (Map<Holder, Lease> m : leases.values()) {
                Lease l = m.get(h);
                if (l != null && (l.refs > 0 || l.listed > 0)) {
                    l.explicit = Math.max(l.explicit, READ);
                    l.refs = 0;
                    l.listed = 0;
                }
            }
            // Its mount already came back on another connection (the old socket's end was
            // noticed late, e.g. by keepalive after a partition): nothing to wait for.
            left = supersededLocked(h, s) ? 0 : s.renewedAt + termNanos - clock.getAsLong();
        }
        if (left <= 0) {
            disconnected(h);
        } else {
            scheduler.schedule(() -> disconnected(h), left, TimeUnit.NANOSECONDS);
        }
    }

    /** True if {@code h} vanished and its leases still stand. */
    public synchronized boolean isVanished(Holder h) {
        HolderState s = holders.get(h);
        return s != null && s.vanished;
    }

    /** The holder is gone (goodbye, or the term after it vanished): its leases end and nobody waits for it. */
    public void disconnected(Holder h) {
        List<Pending> release = new ArrayList<>();
        synchronized (this) {
            HolderState s = holders.remove(h);
            for (Iterator<Map<Holder, Lease>> it = leases.values().iterator(); it.hasNext(); ) {
                Map<Holder, Lease> m = it.next();
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
        release.forEach(LeaseManager::release);
    }

    /** A recall nobody waits for any more: its expiry is dropped and its waiters go ahead. */
    private static void release(Pending p) {
        p.expiry.cancel(false);
        p.done.complete(null);
    }

    /** Holders, leases in force (effective mode above none), recalls outstanding, sent and expired. */
    public synchronized Counts counts() {
        int n = 0;
        int read = 0;
        int write = 0;
        int ofVanished = 0;
        for (Map.Entry<Long, Map<Holder, Lease>> e : leases.entrySet()) {
            for (Map.Entry<Holder, Lease> l : e.getValue().entrySet()) {
                int mode = effective(l.getKey(), e.getKey(), l.getValue());
                if (mode != NONE) {
                    n++;
                    read += mode == READ ? 1 : 0;
                    write += mode == WRITE ? 1 : 0;
                    ofVanished += holders.get(l.getKey()).vanished ? 1 : 0;
                }
            }
        }
        int vanished = 0;
        for (HolderState s : holders.values()) {
            vanished += s.vanished ? 1 : 0;
        }
        return new Counts(holders.size(), n, pending.size(), recallsSent, recallsExpired,
                read, write, vanished, ofVanished);
    }

    /**
     * Lease statistics at one moment: holders (vanished ones included), leases in force (by mode,
     * and how many of them belong to vanished holders), recalls outstanding, sent and expired.
     */
    public record Counts(int holders, int leases, int recallsOutstanding, long recallsSent, long recallsExpired,
                         int readLeases, int writeLeases, int vanishedHolders, int vanishedLeases) {
    }

    /** Time from a recall's creation to its acknowledgement, over the latest recalls. */
    public LatencyWindow.Percentiles recallRoundTrip() {
        return roundTrips.percentiles();
    }

    // ------------------------------------------------------------------ internals

    private CompletableFuture<Void> recall(Holder except, long path, Kind kind, long offset, long length,
                                           String name, boolean writersOnly) {
        List<Delivery> out = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            recallLocked(except, path, kind, offset, length, name, writersOnly, out, waits, null);
        }
        send(out);
        return all(waits);
    }

    private void recallLocked(Holder except, long path, Kind kind, long offset, long length, String name,
                              boolean writersOnly, List<Delivery> out, List<CompletableFuture<Void>> waits,
                              List<Holder> recalled) {
        Map<Holder, Lease> m = leases.get(path);
        if (m == null) {
            return;
        }
        for (Map.Entry<Holder, Lease> e : m.entrySet()) {
            Holder h = e.getKey();
            int mode = effective(h, path, e.getValue());
            if (h == except || mode == NONE || (writersOnly && mode != WRITE)) {
                continue;
            }
            // Any other recall of a sole writer's file ends its soleness too (the client ends
            // its write-behind at any recall of the file).
            e.getValue().sole = false;
            recallOneLocked(h, path, kind, offset, length, name, out, waits);
            // h is recalled on this file now: a change of h's still waiting here is laundering
            // from now on (see change()); it stops waiting, on another thread, since this one
            // holds the monitor.
            Map<Long, List<CompletableFuture<Void>>> byPath = changing.get(h);
            List<CompletableFuture<Void>> stuck = byPath == null ? null : byPath.remove(path);
            if (stuck != null) {
                scheduler.execute(() -> stuck.forEach(f -> f.complete(null)));
            }
            if (recalled != null) {
                recalled.add(h);
            }
        }
    }

    /** One recall of {@code h}, pending until acknowledged or expired. */
    private void recallOneLocked(Holder h, long path, Kind kind, long offset, long length, String name,
                                 List<Delivery> out, List<CompletableFuture<Void>> waits) {
        long id = nextRecallId++;
        recallsSent++;
        Pending p = new Pending(h, path, clock.getAsLong());
        pending.put(id, p);
        holders.get(h).outstanding.add(id);
        out.add(new Delivery(h, new Recall(id, kind, path, offset, length, name)));
        waits.add(p.done);
        p.expiry = scheduler.schedule(() -> expire(id), termNanos, TimeUnit.NANOSECONDS);
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
                for (Map.Entry<Long, Map<Holder, Lease>> l : leases.entrySet()) {
                    Lease lease = l.getValue().get(h);
                    if (lease != null) {
                        // The fids stay counted: the lease comes back with the next Tlease.
                        lease.explicit = NONE;
                        s.fenced.add(l.getKey());
                    }
                }
                leases.values().removeIf(m -> {
                    m.values().removeIf(Lease::unused);
                    return m.isEmpty();
                });
                for (long id : s.outstanding) {
                    Pending p = pending.remove(id);
                    if (p != null) {
                        release.add(p);
                    }
                }
                s.outstanding.clear();
            }
        }
        release.forEach(LeaseManager::release);
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
            recallsExpired++;
            HolderState s = holders.get(p.holder);
            s.outstanding.remove(id);
            s.fenced.add(p.path);
            Map<Holder, Lease> m = leases.get(p.path);
            Lease l = m == null ? null : m.get(p.holder);
            if (l != null) {
                l.explicit = NONE;
                dropIfUnused(m, p.holder, l, p.path);
            }
        }
        p.done.complete(null);
    }

    private static CompletableFuture<Void> all(List<CompletableFuture<Void>> waits) {
        if (waits.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new));
    }
}
