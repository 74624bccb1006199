package io.c9fs.cache;

import io.c9fs.transport.client.NinepSession;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rcallback;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.proto.Message.Rlease;
import io.c9fs.transport.proto.Message.Rrecalled;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client's side of the lease protocol (docs/protocol.md) on one 9P2000.L.c9 connection:
 * keeps a Tcallback outstanding, carries out each recall on the caches (this mount's
 * {@link PageCache} and the kernel's, through {@link KernelCache}) and acknowledges it, renews
 * the leases, stops trusting the caches when the term passes unrenewed, and flushes dirty mapped
 * pages of write-leased files every {@code flushInterval} (clause 3c of docs/coherence.md).
 *
 * <p><b>Threads.</b> Three threads of its own, none of them a FUSE worker, which is what makes
 * it safe for them to call {@link KernelCache} (FUSE notifications launder through WRITEs that
 * workers answer):
 * <ul>
 *   <li>{@code c9fs-recall}: the Tcallback loop; the caller of {@link KernelCache#dropData},
 *       {@link KernelCache#dropAttr} and {@link KernelCache#dropEntry} for recalls. It holds no
 *       lock while it calls them.
 *   <li>{@code c9fs-flush}: {@link KernelCache#flushDirty} while write leases are held.
 *   <li>{@code c9fs-lease-watch}: notices an expired term even while the recall thread is busy
 *       laundering, and calls {@link KernelCache#dropAll}; once renewed, takes the write leases
 *       of open writers again (the server fenced them), and does the same, after a
 *       {@link KernelCache#dropData} of the file, for a file whose write was refused as fenced.
 * </ul>
 * {@link #acquire}, {@link #release} and {@link #trusted} are called from FUSE workers; they
 * touch only concurrent maps and volatile fields.
 *
 * <p><b>Terms.</b> The server renews every lease of the connection when a Tcallback arrives.
 * This class counts the term from when it <em>sent</em> that Tcallback, minus 1 % for clock
 * rate differences, so it stops trusting its caches no later than the server stops honouring
 * them, whatever the network delay.
 */
public final class LeaseClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LeaseClient.class.getName());

    private final NinepSession client;
    private final PageCache pages;
    private final KernelCache kernel;
    private final long flushIntervalNanos;

    private final ConcurrentHashMap<Long, Integer> writers = new ConcurrentHashMap<>();
    /** The fids whose Tlease write holds each write-leased file (any one can take it again). */
    private final ConcurrentHashMap<Long, java.util.Set<Integer>> writerFids = new ConcurrentHashMap<>();
    /** Write-leased files whose writes the server refused (ESTALE: fenced), to lease again. */
    private final java.util.Set<Long> fenced = ConcurrentHashMap.newKeySet();
    /** The term passed unrenewed and every cache was dropped: take the write leases again once renewed. */
    private volatile boolean retakeAll;
    private final AtomicLong retakes = new AtomicLong();
    private volatile long validUntil;
    private volatile boolean trustedOnce;
    private volatile int termMs = 10_000;
    private volatile boolean closed;
    private volatile boolean expired;
    /** Between a lost connection and the caches dropped after the reconnect: nothing is trusted. */
    private volatile boolean suspended;
    private final AtomicLong reconnects = new AtomicLong();
    /** Waits for a file's writes in flight (write-behind) before its recall is acknowledged. */
    private volatile java.util.function.LongFunction<CompletableFuture<Void>> beforeAck = path -> null;
    /**
     * Write-leased files whose latest grant said no other client holds any lease on them (sole),
     * and no recall of them came since: their writes may be answered before the server's.
     */
    private final java.util.Set<Long> sole = ConcurrentHashMap.newKeySet();
    /** The server rejected the sole flag (EINVAL: from before it): plain write leases only. */
    private volatile boolean noSole;
    /** The term passed unrenewed before the last renewal: writes go through until {@link #lapseEnds}. */
    private volatile boolean lapsed;
    private volatile long lapseEnds;

    private final Thread recallThread;
    private final Thread flushThread;
    private final Thread watchThread;

    private final AtomicLong recalls = new AtomicLong();
    private final AtomicLong expiries = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    private final long[] latencies = new long[1024];
    private int latencyCount;

    public LeaseClient(NinepSession client, PageCache pages, KernelCache kernel, Duration flushInterval) {
        if (!client.dialect().hasLeases()) {
            throw new IllegalArgumentException("connection to " + client.server() + " speaks "
                    + client.dialect() + ", without leases");
        }
        this.client = client;
        this.pages = pages;
        this.kernel = kernel;
        this.flushIntervalNanos = flushInterval.toNanos();
        this.recallThread = daemon("c9fs-recall", this::recallLoop);
        this.flushThread = daemon("c9fs-flush", this::flushLoop);
        this.watchThread = daemon("c9fs-lease-watch", this::watchLoop);
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Sets what a recall of a file is acknowledged after: {@code drain} ends the file's
     * write-behind and returns the future of its writes in flight (null: none), and the
     * Trecalled goes once it completes. The server holds the request that recalled the file
     * (another client's new fid on it, listing, read) until the acknowledgement, so that request
     * sees every byte whose write(2) returned here (docs/coherence.md, write-behind). Called on
     * the recall thread, which must not wait for it: those writes may need other clients'
     * acknowledgements, and theirs may need this thread's. Must complete within a bound.
     */
    public void beforeAcknowledging(java.util.function.LongFunction<CompletableFuture<Void>> drain) {
        this.beforeAck = drain;
    }

    /** Starts the threads; the first Tcallback makes the caches trusted. */
    public void start() {
        recallThread.start();
        flushThread.start();
        watchThread.start();
    }

    /** True while the server honours this connection's leases: cached data may be served. */
    public boolean trusted() {
        return !closed && !suspended && trustedOnce && System.nanoTime() - validUntil < 0;
    }

    /**
     * The connection is gone. Its leases went with it (a server that restarted knows none of
     * them; one that did not will have recalled nothing through us), so this mount's own cache
     * stops being trusted now. The kernel's caches are dropped at {@link #reconnected}, when the
     * dirty pages that dropping launders can be written. Called on the session's redial thread.
     */
    public void connectionLost() {
        sole.clear(); // the leases went with the connection; the writes are replayed as they were
        suspended = true;
        expired = true; // the watch thread must not drop (and launder) while nothing can be written
        pages.invalidateAll();
    }

    /**
     * A new connection is up and its fids restored: drop every cached page and attribute of the
     * kernel (dirty pages are laundered to the server on the way) and of this cache; leases are
     * taken again as files are used, the first Rcallback renews the term. Redial thread.
     */
    public void reconnected() {
        pages.invalidateAll();
        try {
            kernel.dropAll();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "dropping caches after reconnecting: " + e.getMessage());
        }
        pages.invalidateAll();
        reconnects.incrementAndGet();
        trustedOnce = false; // until the new server's first Rcallback
        suspended = false;
    }

    /**
     * Takes a lease of {@code mode} on the file {@code fid} names. A write lease is counted per
     * call: the file stays write-leased until as many {@link #release} calls. Blocks for the
     * server's answer, which may wait for other clients to acknowledge recalls (bounded by the
     * term).
     */
    public Rlease acquire(int fid, long path, int mode) throws NinepException {
        Rlease r;
        if (mode == Message.LEASE_WRITE && !noSole) {
            try {
                r = client.call(new Message.Tlease(fid, mode | Message.LEASE_SOLE), Rlease.class);
            } catch (NinepException e) {
                if (e.errno() != EINVAL) {
                    throw e;
                }
                noSole = true; // a c9fs-serve from before sole write leases
                r = client.call(new Message.Tlease(fid, mode), Rlease.class);
            }
        } else {
            r = client.call(new Message.Tlease(fid, mode), Rlease.class);
        }
        granted(fid, path, mode, r);
        return r;
    }

    private static final int EINVAL = 22;

    /**
     * Sends Tlease of {@code mode} for {@code fid} without waiting, e.g. right behind the request
     * that creates {@code fid} (the server serves a fid's requests in order); the caller passes
     * the answer to {@link #granted} once it knows the file's qid.path.
     */
    public CompletableFuture<Rlease> ask(int fid, int mode) {
        if (mode != Message.LEASE_WRITE || noSole) {
            return client.rpc(new Message.Tlease(fid, mode), Rlease.class);
        }
        return client.rpc(new Message.Tlease(fid, mode | Message.LEASE_SOLE), Rlease.class).exceptionallyCompose(e -> {
            Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            if (c instanceof NinepException n && n.errno() == EINVAL) {
                noSole = true;
                return client.rpc(new Message.Tlease(fid, mode), Rlease.class);
            }
            return CompletableFuture.failedFuture(c);
        });
    }

    /** Records the answer of a Tlease of {@code mode} on {@code path}, as {@link #acquire} does. */
    public void granted(int fid, long path, int mode, Rlease r) {
        termMs = r.termMs();
        if (mode == Message.LEASE_WRITE && (r.mode() & ~Message.LEASE_SOLE) == Message.LEASE_WRITE) {
            writers.merge(path, 1, Integer::sum);
            writerFids.computeIfAbsent(path, p -> ConcurrentHashMap.newKeySet()).add(fid);
            if ((r.mode() & Message.LEASE_SOLE) != 0) {
                sole.add(path);
            } else {
                sole.remove(path);
            }
        }
    }

    /**
     * Gives back one write lease of {@code path}; the last one is returned to the server (the file
     * stays read-leased while the connection has fids on it).
     */
    public void release(int fid, long path) throws NinepException {
        Integer left = writers.computeIfPresent(path, (p, n) -> n == 1 ? null : n - 1);
        writerFids.computeIfPresent(path, (p, set) -> {
            set.remove(fid);
            return set.isEmpty() ? null : set;
        });
        if (left == null) {
            fenced.remove(path);
            sole.remove(path);
            // Not waited for: the caller clunks the fid next, which the server serves after this,
            // and nothing here depends on the answer.
            client.rpc(new Message.Tlease(fid, Message.LEASE_READ), Rlease.class).whenComplete((r, err) -> {
                if (err != null) {
                    LOG.log(System.Logger.Level.DEBUG, "returning the write lease of " + path + ": " + err);
                }
            });
        }
    }

    /**
     * True if a write of {@code path} may be answered before the server answers it: its write
     * lease is held and trusted, not fenced or being taken again, and the term has not lapsed
     * within the last term (a fence would be found only at fsync).
     */
    public boolean writeBehind(long path) {
        if (lapsed) {
            if (System.nanoTime() - lapseEnds < 0) {
                return false;
            }
            lapsed = false;
        }
        return trusted() && !retakeAll && sole.contains(path) && writers.containsKey(path) && !fenced.contains(path);
    }

    /** True if some handle of {@code path} holds its write lease. */
    public boolean writeLeased(long path) {
        return writers.containsKey(path);
    }

    /**
     * The server refused a write to {@code path} with ESTALE: this mount let a recall of the file
     * expire (paused, or cut off for longer than the term) and is fenced there until it takes a
     * new lease. If a handle holds the file's write lease, the watch thread drops (laundering)
     * every page of the file the kernel still holds, so that whatever was dirty before the fence
     * meets the fence too and is reported by errseq, and then leases the file again: later writes
     * work. Any thread (a FUSE worker: nothing here waits).
     */
    public void writeRefused(long path) {
        if (writers.containsKey(path)) {
            fenced.add(path); // the watch thread looks every twentieth of a term
        }
    }

    /**
     * Takes the write lease of {@code path} again through one of its writers' fids. Not waited
     * for: the server serves a fid's requests in order, so that fid's next Twrite follows it.
     */
    private void retake(long path) {
        // Taken again as a plain write lease: the server keeps no sole one for it.
        sole.remove(path);
        java.util.Set<Integer> fids = writerFids.get(path);
        Integer fid = fids == null ? null : fids.stream().findFirst().orElse(null);
        if (fid == null) {
            return;
        }
        retakes.incrementAndGet();
        client.rpc(new Message.Tlease(fid, Message.LEASE_WRITE), Rlease.class).whenComplete((r, e) -> {
            if (e != null && !closed) {
                LOG.log(System.Logger.Level.WARNING, "taking the write lease of fid " + fid + " again: "
                        + e.getMessage());
            }
        });
    }

    /** Fenced files of write-leased handles: drop what the kernel holds (past the fence), then lease again. */
    private void retakeFenced() {
        for (Long path : java.util.List.copyOf(fenced)) {
            try {
                pages.invalidateFile(path);
                kernel.dropData(path, 0, 0);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "dropping a fenced file's pages: " + e.getMessage());
            }
            fenced.remove(path);
            if (writers.containsKey(path)) {
                retake(path);
            }
        }
    }

    private void recallLoop() {
        CompletableFuture<Rcallback> pending = null;
        long sentAt = 0;
        // A second Tcallback makes the server answer the held one at once (docs/protocol.md), so
        // the term is known and the caches trusted right after the mount, not a third of a term
        // later (until then every attribute and page went to the server). The channel is served
        // in arrival order, so it is the first that comes back, empty; the spare is the next one.
        CompletableFuture<Rcallback> spare = null;
        long spareSentAt = 0;
        boolean greeted = false;
        while (!closed && !client.closeFuture().isDone()) {
            if (pending == null) {
                if (spare != null) {
                    pending = spare;
                    sentAt = spareSentAt;
                    spare = null;
                } else {
                    sentAt = System.nanoTime();
                    pending = client.rpc(new Message.Tcallback(), Rcallback.class);
                }
                if (!greeted) {
                    greeted = true;
                    spareSentAt = System.nanoTime();
                    spare = client.rpc(new Message.Tcallback(), Rcallback.class);
                }
            }
            Rcallback r;
            try {
                // The server answers within a third of the term; a whole term of silence means trouble.
                r = pending.get(Math.max(1000, termMs), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                pending.cancel(true);
                pending = null;
                continue;
            } catch (ExecutionException e) {
                pending = null;
                if (!closed) {
                    if (client.isOpen()) {
                        LOG.log(System.Logger.Level.WARNING, "Tcallback to " + client.server() + " failed: "
                                + e.getCause().getMessage());
                    }
                    sleep(100);
                }
                continue;
            } catch (InterruptedException e) {
                break;
            }
            termMs = r.termMs();
            if (suspended) {
                // Answered across a reconnect, before the caches were dropped: not yet a renewal.
                pending = null;
                for (Recall c : r.recalls()) {
                    carryOut(c);
                }
                continue;
            }
            if (trustedOnce && System.nanoTime() - validUntil >= 0) {
                // The server may have fenced us meanwhile; a write answered before its Twrite
                // would learn that only at fsync. For a term, writes wait for their answers.
                lapseEnds = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(r.termMs());
                lapsed = true;
            }
            validUntil = sentAt + TimeUnit.MILLISECONDS.toNanos(r.termMs()) * 99 / 100;
            trustedOnce = true;
            expired = false;
            // Ask for the next batch before carrying out this one: the leases stay renewed while
            // we launder, however long that takes.
            if (spare != null) {
                pending = spare;
                sentAt = spareSentAt;
                spare = null;
            } else {
                sentAt = System.nanoTime();
                pending = client.rpc(new Message.Tcallback(), Rcallback.class);
            }
            for (Recall c : r.recalls()) {
                carryOut(c);
            }
        }
        if (pending != null) {
            pending.cancel(true);
        }
        if (spare != null) {
            spare.cancel(true);
        }
    }

    private void carryOut(Recall c) {
        long t0 = System.nanoTime();
        CompletableFuture<Void> inFlight = null;
        if (c.kind() != Recall.ENTRY) {
            // First: from here on the file's writes wait for their answers; those answered
            // before are the ones the acknowledgement waits for.
            sole.remove(c.path());
            try {
                inFlight = beforeAck.apply(c.path());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "recall " + c + ": ending write-behind: " + e.getMessage());
            }
        }
        try {
            switch (c.kind()) {
                case Recall.DATA:
                    // This mount's cache first: a READ the kernel sends once its pages are gone
                    // must not be answered from bytes older than the recall.
                    pages.invalidate(c.path(), c.offset(), c.length());
                    kernel.dropData(c.path(), c.offset(), c.length());
                    break;
                case Recall.ATTR:
                    kernel.dropAttr(c.path());
                    break;
                case Recall.ENTRY:
                    kernel.dropEntry(c.path(), c.name());
                    break;
                case Recall.REVOKE:
                    pages.invalidateFile(c.path());
                    kernel.dropData(c.path(), 0, 0);
                    kernel.dropAttr(c.path());
                    break;
                case Recall.SHARE:
                    // Another client holds a lease on the file now: nothing cached is wrong,
                    // only the write-behind ended above.
                    break;
                default:
                    LOG.log(System.Logger.Level.WARNING, "unknown recall kind " + c.kind() + " from " + client.server());
            }
        } catch (IOException | RuntimeException e) {
            // What could be dropped was; acknowledging is still right, since holding the server
            // back would not bring the rest back either.
            LOG.log(System.Logger.Level.WARNING, "recall " + c + ": " + e.getMessage());
        }
        recalls.incrementAndGet();
        if (inFlight == null || inFlight.isDone()) {
            record(System.nanoTime() - t0);
            acknowledge(c);
        } else {
            // Not waited for here (see beforeAcknowledging); the future never fails.
            inFlight.whenComplete((v, e) -> {
                record(System.nanoTime() - t0);
                acknowledge(c);
            });
        }
    }

    private void acknowledge(Recall c) {
        client.rpc(new Message.Trecalled(c.id()), Rrecalled.class).whenComplete((ok, err) -> {
            if (err != null && !closed) {
                LOG.log(System.Logger.Level.DEBUG, "Trecalled " + c.id() + ": " + err.getMessage());
            }
        });
    }

    private void flushLoop() {
        while (!closed) {
            sleepNanos(flushIntervalNanos);
            if (closed || writers.isEmpty()) {
                continue;
            }
            try {
                kernel.flushDirty();
                flushes.incrementAndGet();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "flushing dirty pages: " + e.getMessage());
            }
        }
    }

    private void watchLoop() {
        while (!closed) {
            sleep(Math.max(10, termMs / 20));
            if (!closed && trusted() && retakeAll) {
                // Renewed after the term had passed: the server fenced this mount on every file
                // it held (docs/protocol.md), and the dirty pages of before were laundered into
                // that fence by the drop below. Writes of open handles work again from here on.
                retakeAll = false;
                fenced.clear();
                writers.keySet().forEach(this::retake);
                continue;
            }
            if (!closed && trusted() && !fenced.isEmpty()) {
                retakeFenced();
                continue;
            }
            if (closed || !trustedOnce || expired || trusted()) {
                continue;
            }
            expired = true;
            sole.clear();
            expiries.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "leases on " + client.server()
                    + " expired without renewal: dropping every cache of the mount");
            pages.invalidateAll();
            try {
                kernel.dropAll();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "dropping caches: " + e.getMessage());
            }
            retakeAll = !writers.isEmpty();
        }
    }

    private synchronized void record(long nanos) {
        latencies[latencyCount++ % latencies.length] = nanos;
    }

    /** Counters for {@code c9fs stats}; latencies are of carrying out a recall (drop and launder). */
    public synchronized Stats stats() {
        int n = Math.min(latencyCount, latencies.length);
        long[] copy = Arrays.copyOf(latencies, n);
        Arrays.sort(copy);
        long p50 = n == 0 ? 0 : copy[n / 2];
        long p99 = n == 0 ? 0 : copy[Math.min(n - 1, n * 99 / 100)];
        return new Stats(recalls.get(), expiries.get(), flushes.get(), writers.size(), trusted(), p50, p99,
                retakes.get());
    }

    /** {@code retakes}: write leases taken again after a fence (term passed unrenewed, or a write refused). */
    public record Stats(long recalls, long expiries, long flushes, int writeLeased, boolean trusted,
                        long recallNanosP50, long recallNanosP99, long retakes) {
    }

    @Override
    public void close() {
        closed = true;
        recallThread.interrupt();
        flushThread.interrupt();
        watchThread.interrupt();
        for (Thread t : new Thread[] {recallThread, flushThread, watchThread}) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        kernel.close();
    }

    private static void sleep(long ms) {
        sleepNanos(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    private static void sleepNanos(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
