package io.c9fs.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Message;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs the requests of one session on the shared worker pool: requests naming the same fid
 * first run one at a time in arrival order (a Tread never overtakes the Tlopen before it, a
 * Tclunk waits for the fid's Twrite), others run in parallel. Answers Tflush (flush(5)): a
 * request not yet started is dropped and Rflush goes out at once; a running one is answered
 * first and Rflush follows it. Applies backpressure: with {@code maxInFlight} requests
 * unanswered, the socket stops being read until one completes.
 *
 * <p>A request may have to wait for lease recalls, before it is applied and again before it is
 * answered ({@link Session#before}, {@link Session#after}). It waits without a thread: the
 * continuation is put back on the worker pool when the recalls are acknowledged or expire, and
 * until it is answered the next request naming the same fid stays queued. A worker is therefore
 * never parked on a recall, and the recalled client's own requests (the Twrites that launder its
 * dirty pages) run while a request of another client waits for them.
 *
 * <p>When closed (disconnect or Tversion), queued requests are dropped and the session's fids
 * are clunked once the running ones (waiting ones included) have finished, so no request ever
 * sees a descriptor closed under it.
 *
 * <p>Threading: {@link #submit}, {@link #flush} and {@link #close} are called on the connection's
 * event loop; requests run on worker threads, except those {@link Session#tryInline} can answer
 * without waiting for I/O (a cached small Tread, a Tgetattr), which {@link #submit} runs on the
 * event loop when nothing of their fid is queued: two thread hand-offs fewer per request; the state below is guarded by this queue's
 * monitor, which is never held while a request runs or a reply is sent (lock order: queue, then
 * nothing).
 */
final class RequestQueue {
    private static final Logger LOG = Logger.getLogger(RequestQueue.class.getName());

    /** Where answers go, and the switch for reading the socket. */
    interface Sink {
        void reply(int tag, Message r);

        void error(int tag, int errno);

        void reading(boolean on);

        /** A reply handed over by a worker may not be written yet: one sent now could overtake it. */
        boolean repliesInTransit();

        /**
         * Sends Rflush behind every reply already handed to the connection, even one handed over
         * by another thread and not yet written: a client frees the old tag at Rflush, so the
         * old reply must never follow it (flush(5)).
         */
        void flushed(int tag);
    }

    /** How far a request got: waiting for phase-1 recalls, applied, or answered. */
    private enum Stage { BEFORE, APPLY, AFTER, DONE }

    private static final class Request {
        final int tag;
        final Message message;
        boolean started;
        boolean cancelled;
        List<Integer> flushes;
        /** Touched only by the thread running the request's current stage. */
        Stage stage = Stage.BEFORE;
        final Changes changes = new Changes();
        Message answer;
        int errno;

        Request(int tag, Message message) {
            this.tag = tag;
            this.message = message;
        }
    }

    private final Session session;
    private final Executor workers;
    private final Sink sink;
    private final int maxInFlight;
    private final Map<Integer, Request> byTag = new HashMap<>();
    private final Map<Integer, ArrayDeque<Request>> byFid = new HashMap<>();
    private int inFlight;
    private int running;
    private boolean closed;
    private boolean clunked;
    private boolean vanished;

    RequestQueue(Session session, Executor workers, Sink sink, int maxInFlight) {
        this.session = session;
        this.workers = workers;
        this.sink = sink;
        this.maxInFlight = maxInFlight;
    }

    /** Queues a request; the queue now owns {@code message} (and releases its buffer). */
    void submit(int tag, Message message) {
        Request r = new Request(tag, message);
        int fid = Session.primaryFid(message);
        boolean start;
        synchronized (this) {
            if (closed) {
                message.release();
                return;
            }
            byTag.put(tag, r);
            session.stats.inFlight.incrementAndGet();
            if (++inFlight == maxInFlight) {
                session.stats.stalls.incrementAndGet();
                sink.reading(false);
            }
            ArrayDeque<Request> waiting = byFid.get(fid);
            start = waiting == null;
            if (start) {
                byFid.put(fid, new ArrayDeque<>());
            } else {
                waiting.add(r);
            }
        }
        if (start && Session.inlineCandidate(message) && !sink.repliesInTransit()) {
            // On the event loop, as far as it goes without waiting for the disk (Session#tryInline);
            // a request that cannot be answered here continues on a worker from where it stopped.
            // Not while a worker's reply is on its way to the socket: this one would overtake it.
            if (run(fid, r, true)) {
                Request n = next(fid);
                if (n != null) {
                    drainOnWorker(fid, n);
                }
            }
        } else if (start) {
            drainOnWorker(fid, r);
        }
    }

    private void drainOnWorker(int fid, Request r) {
        try {
            workers.execute(() -> drain(fid, r));
        } catch (RejectedExecutionException e) {
            // The server is shutting down: the request dies with it.
            synchronized (this) {
                byFid.remove(fid);
            }
            finish(r, null, Errno.EIO);
        }
    }

    /** Tflush {@code tag} of {@code oldtag}. */
    void flush(int tag, int oldtag) {
        synchronized (this) {
            Request old = byTag.get(oldtag);
            if (old != null && old.started) {
                if (old.flushes == null) {
                    old.flushes = new ArrayList<>(1);
                }
                old.flushes.add(tag);
                return;
            }
            if (old != null) {
                old.cancelled = true;
                byTag.remove(oldtag);
            }
        }
        sink.flushed(tag);
    }

    /**
     * Drops queued requests; the fids are clunked when the running ones are done.
     * {@code vanished}: the connection went without a goodbye (see {@link Session#clunkAll}).
     */
    void close(boolean vanished) {
        synchronized (this) {
            closed = true;
            this.vanished = vanished;
            for (Request r : byTag.values()) {
                r.cancelled |= !r.started;
            }
        }
        clunkIfIdle();
    }

    /** Runs the requests of {@code fid} in order, until one has to wait for recalls. */
    private void drain(int fid, Request first) {
        Request r = first;
        while (r != null) {
            if (!run(fid, r, false)) {
                return;
            }
            r = next(fid);
        }
    }

    private Request next(int fid) {
        synchronized (this) {
            ArrayDeque<Request> waiting = byFid.get(fid);
            Request r = waiting.poll();
            if (r == null) {
                byFid.remove(fid);
            }
            return r;
        }
    }

    /**
     * Starts {@code r}; false if it went to wait for recalls or, {@code onLoop}, for a worker (its
     * continuation drains the fid on).
     */
    private boolean run(int fid, Request r, boolean onLoop) {
        boolean resume;
        synchronized (this) {
            if (!r.cancelled) {
                r.started = true;
                running++;
            }
            resume = r.cancelled && inFlight-- == maxInFlight && !closed;
        }
        if (r.cancelled) {
            session.stats.inFlight.decrementAndGet();
            r.message.release();
            if (resume) {
                sink.reading(true);
            }
            return true;
        }
        return proceed(fid, r, onLoop);
    }

    /**
     * Runs the stages of {@code r} until it is answered (true) or has to wait (false). {@code onLoop}:
     * on the event loop, where it is applied only if {@link Session#tryInline} can; otherwise it
     * goes on on a worker.
     */
    private boolean proceed(int fid, Request r, boolean onLoop) {
        while (r.stage != Stage.DONE) {
            CompletableFuture<Void> wait = onLoop && r.stage == Stage.APPLY ? applyInline(r) : step(r);
            if (wait == ON_WORKER) {
                resume(fid, r);
                return false;
            }
            if (wait != null && !wait.isDone()) {
                wait.whenComplete((v, e) -> resume(fid, r));
                return false;
            }
        }
        finish(r, r.answer, r.errno);
        synchronized (this) {
            running--;
        }
        clunkIfIdle();
        return true;
    }

    /** Continues {@code r} on a worker: never on the thread that acknowledged or expired a recall. */
    private void resume(int fid, Request r) {
        Runnable go = () -> {
            if (proceed(fid, r, false)) {
                Request n = next(fid);
                if (n != null) {
                    drain(fid, n);
                }
            }
        };
        try {
            workers.execute(go);
        } catch (RejectedExecutionException e) {
            // Shutting down: finish here rather than leave the tag unanswered.
            go.run();
        }
    }

    /** What {@link #applyInline} returns when the request must be applied on a worker. */
    private static final CompletableFuture<Void> ON_WORKER = new CompletableFuture<>();

    /** The APPLY stage on the event loop: {@link #ON_WORKER} (stage unchanged) if it cannot be done there. */
    private CompletableFuture<Void> applyInline(Request r) {
        Message answer = session.tryInline(r.message, r.changes);
        if (answer == null) {
            return ON_WORKER;
        }
        r.message.release();
        r.answer = answer;
        r.stage = Stage.AFTER;
        return session.after(r.changes);
    }

    /** Does the next stage of {@code r}; returns what it must wait for before the one after, or null. */
    private CompletableFuture<Void> step(Request r) {
        try {
            switch (r.stage) {
                case BEFORE:
                    r.stage = Stage.APPLY;
                    return session.before(r.message, r.changes);
                case APPLY:
                    r.stage = Stage.AFTER;
                    try {
                        r.answer = session.execute(r.message, r.changes);
                    } finally {
                        r.message.release();
                    }
                    return session.after(r.changes);
                default:
                    r.stage = Stage.DONE;
                    return null;
            }
        } catch (ErrnoException e) {
            return failed(r, e.errno());
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "request failed: " + r.message, e);
            return failed(r, Errno.EIO);
        }
    }

    /**
     * {@code r} fails with {@code errno}. A failure of the operation itself may follow a partial
     * change (a setattr that changed the mode, then failed to truncate): those changes are still
     * recalled before the error is answered.
     */
    private CompletableFuture<Void> failed(Request r, int errno) {
        session.disk().failed(errno, r.message.getClass().getSimpleName());
        r.errno = errno;
        r.answer = null;
        if (r.stage == Stage.APPLY) {
            // Failed before applying: the message was never handed to execute.
            r.message.release();
            r.stage = Stage.DONE;
            return null;
        }
        if (r.stage == Stage.AFTER) {
            return session.after(r.changes);
        }
        r.stage = Stage.DONE;
        return null;
    }

    private void finish(Request r, Message answer, int errno) {
        // Answer first, forget the tag after: a Tflush that still finds the tag queues its
        // Rflush behind this answer; one that no longer does sends it behind it as well.
        if (answer != null) {
            sink.reply(r.tag, answer);
        } else {
            sink.error(r.tag, errno);
        }
        List<Integer> flushes;
        boolean resume;
        synchronized (this) {
            byTag.remove(r.tag);
            flushes = r.flushes;
            resume = inFlight-- == maxInFlight && !closed;
        }
        session.stats.inFlight.decrementAndGet();
        session.stats.answered.incrementAndGet();
        if (flushes != null) {
            for (int tag : flushes) {
                sink.flushed(tag);
            }
        }
        if (resume) {
            sink.reading(true);
        }
    }

    private void clunkIfIdle() {
        synchronized (this) {
            if (!closed || running > 0 || clunked) {
                return;
            }
            clunked = true;
        }
        boolean v;
        synchronized (this) {
            v = vanished;
        }
        try {
            // Closing descriptors and ORCLOSE removals are file I/O: keep them off the event loop.
            workers.execute(() -> session.clunkAll(v));
        } catch (RejectedExecutionException e) {
            session.clunkAll(v);
        }
    }
}
