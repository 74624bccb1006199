package io.c9fs.mount;

import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Twrites of write-behind still in flight, by file (qid.path): a WRITE of a file this mount
 * holds under its write lease is answered once its Twrites are sent (docs/coherence.md,
 * "Write-behind"), and every request that must see those bytes on the server first waits here
 * ({@link #drain}): READ, GETATTR, SETATTR, FSYNC, FLUSH, RELEASE, locks, and the acknowledgement
 * of a recall of the file (which is what makes another machine's read or stat wait for them).
 *
 * <p>Each in-flight WRITE is one future, completed (never failed) after its failure, if any, was
 * kept for errseq; so waiting for it never throws, and cancelling a wait (FUSE_INTERRUPT, timeout)
 * cancels only the wait, never the Twrites.
 *
 * <p>Threads: FUSE workers, the lease client's recall thread and the connection's event loop (as
 * Twrites complete). Every change to a file's entry happens inside a compute of the map, which
 * is the only lock; nothing waits under it.
 */
final class WriteBehind {
    /** One file's WRITEs in flight, oldest first, with their sizes. */
    private static final class InFlight {
        final LinkedHashMap<CompletableFuture<Void>, Integer> writes = new LinkedHashMap<>();
        long bytes;
        /** The fid of the latest WRITE: one fid's Twrites are served in order, two fids' are not. */
        int fid;
        /**
         * Recalled since the write lease was taken: another client reads or stats the file, and
         * may cache what it got (its size too) until the next recall, which only a Twrite's arrival
         * at the server sends. So its WRITEs wait for their Twrites again, until the last writer
         * closes (a new write lease recalls every other holder's pages and attributes).
         */
        boolean shared;
        /** Writer handles of the file on this mount: the entry lives as long as they do. */
        int writers;
    }

    private final ConcurrentHashMap<Long, InFlight> files = new ConcurrentHashMap<>();
    /** WRITEs in flight, of every file. */
    private final java.util.concurrent.atomic.AtomicLong inFlight = new java.util.concurrent.atomic.AtomicLong();
    /** Recalls seen (of any file): a writer opening while one arrives cannot tell whose it was. */
    private final java.util.concurrent.atomic.AtomicLong recalls = new java.util.concurrent.atomic.AtomicLong();
    private final long boundBytes;
    /**
     * Sends what {@link WriteGather} holds of a file: called before anything waits for that
     * file's WRITEs, whose Twrites may not have gone yet.
     */
    private volatile java.util.function.LongConsumer sendGathered = path -> { };

    /** @param boundBytes how many bytes of one file may be in flight before a WRITE waits */
    WriteBehind(long boundBytes) {
        this.boundBytes = boundBytes;
    }

    /**
     * Waits (bounded and interruptibly, as {@code rpc} waits) until {@code size} more bytes of
     * {@code path} fit under the bound, oldest WRITE first; at least one WRITE may always be in
     * flight. Concurrent writers of one file may overshoot the bound by a WRITE each. A WRITE
     * through another fid than those in flight waits for all of them: the server orders one fid's
     * requests only, and a later write(2) of the same bytes must land last.
     */
    void room(Rpc rpc, FuseRequest r, long path, int fid, int size) throws FuseException {
        while (true) {
            CompletableFuture<Void> wait = blocking(path, fid, size);
            if (wait == null) {
                return;
            }
            sendGathered.accept(path);
            rpc.await(r, wait);
        }
    }

    /** See {@link #sendGathered}; set once, before the first WRITE. */
    void sendsGathered(java.util.function.LongConsumer send) {
        sendGathered = send;
    }

    private CompletableFuture<Void> blocking(long path, int fid, int size) {
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] wait = new CompletableFuture[1];
        files.computeIfPresent(path, (p, f) -> {
            // Answered WRITEs whose own removal has not run yet (a completing future runs the
            // waiter registered last first): taken out here, or the waiter would find the same
            // answered WRITE again and spin until the removal gets the map's lock.
            for (java.util.Iterator<java.util.Map.Entry<CompletableFuture<Void>, Integer>> it =
                    f.writes.entrySet().iterator(); it.hasNext(); ) {
                java.util.Map.Entry<CompletableFuture<Void>, Integer> e = it.next();
                if (e.getKey().isDone()) {
                    f.bytes -= e.getValue();
                    it.remove();
                }
            }
            if (f.writes.isEmpty()) {
                return f;
            }
            if (f.fid != fid) {
                wait[0] = CompletableFuture.allOf(f.writes.keySet().toArray(CompletableFuture[]::new));
            } else if (f.bytes > 0 && f.bytes + size > boundBytes) {
                wait[0] = f.writes.keySet().iterator().next().thenApply(v -> v);
            }
            return f;
        });
        return wait[0];
    }

    /**
     * Records a WRITE of {@code size} bytes of {@code path} that is over once {@code done}
     * completes; false, and nothing recorded, if the file was recalled since its write lease was
     * taken (the WRITE must wait for its Twrites). Atomic with {@link #recalled}: a write either
     * is waited for by the recall or sees it.
     */
    boolean started(long path, int fid, int size, CompletableFuture<Void> done) {
        boolean[] ok = new boolean[1];
        files.computeIfPresent(path, (p, in) -> {
            if (in.shared || in.writers == 0) {
                return in;
            }
            ok[0] = true;
            in.fid = fid;
            in.writes.put(done, size);
            in.bytes += size;
            return in;
        });
        if (!ok[0]) {
            return false;
        }
        inFlight.incrementAndGet();
        done.whenComplete((v, e) -> inFlight.decrementAndGet());
        done.whenComplete((v, e) -> files.computeIfPresent(path, (p, f) -> {
            Integer n = f.writes.remove(done);
            if (n != null) {
                f.bytes -= n;
            }
            return f.writes.isEmpty() && f.writers == 0 ? null : f;
        }));
        return true;
    }

    /**
     * Whether {@code path} is written behind now: a writer handle here holds its sole write lease,
     * not recalled since. A recall that comes after this answer waits for the writes in flight.
     */
    boolean sole(long path) {
        boolean[] sole = new boolean[1];
        files.computeIfPresent(path, (p, in) -> {
            sole[0] = !in.shared && in.writers > 0;
            return in;
        });
        return sole[0];
    }

    /** The recall count, taken before a writer asks for the write lease (see {@link #opened}). */
    long mark() {
        return recalls.get();
    }

    /**
     * A writer handle of {@code path} holds its write lease, asked for after {@link #mark}
     * returned {@code mark}. A recall that arrived since may have been this file's, answered
     * before this entry existed: then the file starts shared (written through).
     */
    void opened(long path, long mark) {
        files.compute(path, (p, f) -> {
            InFlight in = f == null ? new InFlight() : f;
            in.writers++;
            return in;
        });
        if (recalls.get() != mark) {
            files.computeIfPresent(path, (p, f) -> {
                f.shared = true;
                return f;
            });
        }
    }

    /** A writer handle of {@code path} was released (after its writes were drained). */
    void closed(long path) {
        files.computeIfPresent(path, (p, f) -> {
            f.writers = Math.max(0, f.writers - 1);
            if (f.writers > 0) {
                return f;
            }
            // The next write lease recalls every other holder's pages and attributes.
            f.shared = false;
            return f.writes.isEmpty() ? null : f;
        });
    }

    /**
     * A recall of {@code path} is to be acknowledged: no more write-behind of it until its last
     * writer handle here is {@link #closed}. Returns the future of the WRITEs in flight now (null:
     * none), bounded as {@code rpc} bounds a wait; it never fails. Does not wait: the caller is the
     * recall thread (see LeaseClient#beforeAcknowledging).
     */
    CompletableFuture<Void> recalled(Rpc rpc, long path) {
        recalls.incrementAndGet();
        files.computeIfPresent(path, (p, f) -> {
            f.shared = true;
            return f;
        });
        CompletableFuture<Void> all = pending(path);
        return all == null ? null : rpc.bounded(all).handle((v, e) -> {
            if (e != null) {
                System.getLogger(WriteBehind.class.getName()).log(System.Logger.Level.WARNING,
                        "acknowledging a recall of file " + path + " before its writes in flight were answered: " + e);
            }
            return null;
        });
    }

    /**
     * Waits for every file's WRITEs in flight now, if there are any: before a request whose
     * answer carries attributes of files it does not name by nodeid (LOOKUP, READDIRPLUS), which
     * the kernel would otherwise take for newer than its own size of a file written here.
     */
    void drainEvery(Rpc rpc, FuseRequest r) throws FuseException {
        if (inFlight.get() == 0) {
            return;
        }
        for (Long path : List.copyOf(files.keySet())) {
            drain(rpc, r, path);
        }
    }

    /** The WRITEs of {@code path} in flight now (those started later are not waited for). */
    private CompletableFuture<Void> pending(long path) {
        sendGathered.accept(path);
        List<CompletableFuture<Void>> now = new ArrayList<>();
        files.computeIfPresent(path, (p, f) -> {
            now.addAll(f.writes.keySet());
            return f;
        });
        return now.isEmpty() ? null : CompletableFuture.allOf(now.toArray(CompletableFuture[]::new));
    }

    /**
     * Waits until every WRITE of {@code path} in flight now is answered: EIO if the server does
     * not answer within the request timeout (a soft mount), EINTR if {@code r} is interrupted.
     */
    void drain(Rpc rpc, FuseRequest r, long path) throws FuseException {
        CompletableFuture<Void> all = pending(path);
        if (all != null) {
            rpc.await(r, all);
        }
    }

    /** As {@link #drain}, for a thread no process waits on (a recall): a failure only ends the wait. */
    void drainQuietly(Rpc rpc, long path) {
        try {
            drain(rpc, null, path);
        } catch (FuseException e) {
            System.getLogger(WriteBehind.class.getName()).log(System.Logger.Level.WARNING,
                    "waiting for the writes in flight of file " + path + ": " + e.getMessage());
        }
    }

    /** Every file's WRITEs in flight now (unmount). */
    void drainAll(Rpc rpc) {
        for (Long path : List.copyOf(files.keySet())) {
            drainQuietly(rpc, path);
        }
    }

}
