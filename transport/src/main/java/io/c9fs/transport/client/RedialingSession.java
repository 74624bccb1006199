package io.c9fs.transport.client;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A 9P session that outlives its connections (docs/reconnect.md). When the connection is lost
 * (the socket ends, a reply is garbled, or a request gets no reply within the request timeout)
 * it redials with back-off (50 ms doubling to 5 s), re-attaches, and restores every live fid
 * under the same number from its {@link FidShadow}: a walk of the fid's path from its attach,
 * which must reach the same qid.path (else the fid is stale: ESTALE for its users), a re-open
 * with the flags it was opened with minus O_CREAT|O_EXCL|O_TRUNC, its write lease, and a reclaim
 * of its POSIX locks. Requests in flight at the loss follow one replay table
 * ({@link #replayable}): idempotent ones are sent again after the restore, the others fail with
 * EIO, since the server may or may not have carried them out.
 *
 * <p>Hard (the default) makes callers wait for the server however long it takes; cancelling the
 * returned future (a FUSE_INTERRUPT) withdraws a waiting request. Soft fails with EIO every
 * request that has waited {@code softTimeout} of an outage, and works again once connected.
 *
 * <p>Threads: requests from any thread; replies are handled on the connection's event loop. The
 * {@code c9fs-redial} thread redials, restores and calls the {@link Listener}; a timer thread
 * expires soft waits. Locks: {@code lock} guards state, the current connection and the wait
 * queue; it is a leaf, never held while sending or calling out. The shadow's monitor is a leaf.
 */
public final class RedialingSession implements NinepSession {
    private static final System.Logger LOG = System.getLogger(RedialingSession.class.getName());
    static final long BACKOFF_MIN_MS = 50;
    static final long BACKOFF_MAX_MS = 5000;
    static final long GRACE_RETRY_MS = 250;
    static final long GRACE_LIMIT_MS = 120_000;
    private static final int O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000;
    /** open(5) mode bits a re-open must not repeat. */
    private static final int OTRUNC = 0x10, ORCLOSE = 0x40;

    /** Told of outages, on the c9fs-redial thread (never a caller's). */
    public interface Listener {
        /** The connection was lost; requests now wait (hard) or will fail (soft). */
        default void connectionLost() {
        }

        /** A new connection is up and every fid restored (or marked stale); requests flow again. */
        default void reconnected() {
        }
    }

    public enum State { CONNECTED, RECONNECTING, CLOSED }

    private final NinepAddress address;
    private final ClientConfig config;
    /** Null for a hard session. */
    private final Duration softTimeout;
    private final Dialect dialect;
    private final FidPool fids = new FidPool();
    private final FidShadow shadow = new FidShadow();
    private final Object lock = new Object();
    private NinepClient conn;
    private volatile State state;
    private final ArrayDeque<Op> waiting = new ArrayDeque<>();
    private long outageStart;
    private volatile int msize;
    private volatile Listener listener = new Listener() {
    };
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final Thread redialer;
    private final ScheduledExecutorService timer;
    /**
     * This session's client token (Tclient, 9P2000.L.c9): random, the same on every connection,
     * so that a server still holding the leases of a connection that broke can end them as soon
     * as this session is back, instead of waiting a term for recalls to it.
     */
    private final Message.Tclient token;
    /** The connection the token was presented on (after its first attach). */
    private volatile NinepClient identified;
    /**
     * The server does not know Tclient (a c9fs-serve from before it answers EBADMSG and closes
     * the connection): never sent again in this session, or every restore would end the same way.
     */
    private volatile boolean tokenRefused;

    private final AtomicLong reconnects = new AtomicLong();
    private final AtomicLong outageNanos = new AtomicLong();
    private final AtomicLong replayed = new AtomicLong();
    private final AtomicLong failedInFlight = new AtomicLong();
    private final AtomicLong staleFids = new AtomicLong();
    private final AtomicLong lostLocks = new AtomicLong();
    /** Recalls answered at once while a connection was being restored ({@link RestoreRecalls}). */
    private final AtomicLong restoreRecalls = new AtomicLong();
    /** Counters of the connections before the current one. */
    private final AtomicLong pastRequests = new AtomicLong();
    private final AtomicLong pastSent = new AtomicLong();
    private final AtomicLong pastReceived = new AtomicLong();

    /** One request, across connections. */
    private final class Op {
        final Message request;
        final CompletableFuture<Message> future = new CompletableFuture<>();
        volatile CompletableFuture<Message> inner;
        ScheduledFuture<?> expiry;
        final AtomicBoolean disposed = new AtomicBoolean();

        Op(Message request) {
            this.request = request;
        }

        /** Drops the request's payload once the op is finished for good. */
        void dispose() {
            if (disposed.compareAndSet(false, true)) {
                request.release();
            }
        }

        void fail(int errno, String why) {
            // A clunk or remove that fails here still ends the fid: it must not be restored
            // under a number the mount will hand out again.
            forgetIfGone(request);
            future.completeExceptionally(new NinepException(errno, why));
            dispose();
        }
    }

    private RedialingSession(NinepAddress address, ClientConfig config, Duration softTimeout, NinepClient first) {
        this.address = address;
        this.config = config;
        this.softTimeout = softTimeout;
        this.dialect = first.dialect();
        this.msize = first.msize();
        this.conn = first;
        this.state = State.CONNECTED;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "c9fs-redial-timer");
            t.setDaemon(true);
            return t;
        });
        this.redialer = new Thread(this::redialLoop, "c9fs-redial");
        this.redialer.setDaemon(true);
        java.security.SecureRandom random = new java.security.SecureRandom();
        this.token = new Message.Tclient(random.nextLong(), random.nextLong());
    }

    /**
     * Connects (as {@link NinepClient#connect}, failing the same way if the server is not there
     * now) and returns a session that redials from then on.
     *
     * @param softTimeout null for a hard session; else how long requests wait during an outage
     */
    public static RedialingSession connect(NinepAddress address, ClientConfig config, Duration softTimeout)
            throws NinepException {
        NinepClient first = NinepClient.connect(address, config);
        RedialingSession s = new RedialingSession(address, config, softTimeout, first);
        s.watch(first);
        s.redialer.start();
        return s;
    }

    /** Sets who hears of outages (one listener; the mount's cache policy). */
    public void listener(Listener l) {
        this.listener = l == null ? new Listener() {
        } : l;
    }

    public State state() {
        return state;
    }

    public boolean hard() {
        return softTimeout == null;
    }

    /** The shadow of the live fids (for tests and diagnostics). */
    public FidShadow shadow() {
        return shadow;
    }

    /** Counters of outages and recovery, for {@code c9fs stats}. */
    public record Recovery(State state, long reconnects, long outageMillis, long replayed, long failedInFlight,
                           long staleFids, long lostLocks, long restoreRecalls) {
    }

    public Recovery recovery() {
        long out = outageNanos.get();
        synchronized (lock) {
            if (state == State.RECONNECTING) {
                out += System.nanoTime() - outageStart;
            }
        }
        return new Recovery(state, reconnects.get(), TimeUnit.NANOSECONDS.toMillis(out), replayed.get(),
                failedInFlight.get(), staleFids.get(), lostLocks.get(), restoreRecalls.get());
    }

    // ------------------------------------------------------------------ NinepSession

    @Override
    public CompletableFuture<Message> rpc(Message request) {
        Op op = new Op(request);
        if (!request.isRequest() || request instanceof Message.Tversion) {
            op.future.completeExceptionally(new IllegalArgumentException("not a request rpc() sends: " + request));
            op.dispose();
            return op.future;
        }
        op.future.whenComplete((r, ex) -> {
            if (ex instanceof CancellationException) {
                synchronized (lock) {
                    waiting.remove(op);
                }
                if (op.expiry != null) {
                    op.expiry.cancel(false);
                }
                CompletableFuture<Message> in = op.inner;
                if (in != null) {
                    in.cancel(true); // the connection flushes it
                }
                op.dispose();
            }
        });
        dispatch(op);
        return op.future;
    }

    private void dispatch(Op op) {
        if (op.future.isDone()) {
            op.dispose();
            return;
        }
        for (int fid : fidsOf(op.request)) {
            if (shadow.isStale(fid)) {
                if (op.request instanceof Message.Tclunk || op.request instanceof Message.Tremove) {
                    // Nothing of it on this server: the clunk is done here.
                    shadow.forget(fid);
                    if (op.request instanceof Message.Tclunk) {
                        op.future.complete(new Message.Rclunk());
                        op.dispose();
                        return;
                    }
                }
                op.fail(Errno.ESTALE, "the file of fid " + fid + " changed on " + address + " while disconnected");
                return;
            }
        }
        if ((op.request instanceof Message.Tlock l && shadow.takeLockLost(l.fid()))
                || (op.request instanceof Message.Tgetlock g && shadow.takeLockLost(g.fid()))) {
            op.fail(Errno.EIO, "a lock held through fid " + fidsOf(op.request)[0]
                    + " was lost while disconnected from " + address);
            return;
        }
        NinepClient c;
        synchronized (lock) {
            if (state == State.CLOSED) {
                c = null;
            } else if (state == State.RECONNECTING) {
                long waited = System.nanoTime() - outageStart;
                if (softTimeout != null && waited >= softTimeout.toNanos()) {
                    c = null;
                } else {
                    waiting.add(op);
                    if (softTimeout != null) {
                        op.expiry = timer.schedule(() -> expire(op), softTimeout.toNanos() - waited,
                                TimeUnit.NANOSECONDS);
                    }
                    return;
                }
            } else {
                c = conn;
            }
        }
        if (c == null) {
            op.fail(Errno.EIO, state == State.CLOSED ? "session to " + address + " closed"
                    : "no connection to " + address + " for " + softTimeout.toMillis() + " ms (soft mount)");
            return;
        }
        send(op, c);
    }

    private void expire(Op op) {
        synchronized (lock) {
            if (!waiting.remove(op)) {
                return;
            }
        }
        op.fail(Errno.EIO, "no connection to " + address + " for " + softTimeout.toMillis() + " ms (soft mount)");
    }

    private void send(Op op, NinepClient c) {
        Message out = op.request;
        if (out instanceof Message.Twrite w) {
            // The connection consumes what it sends; the op keeps its own reference for a replay.
            out = new Message.Twrite(w.fid(), w.offset(), w.data().retainedDuplicate());
        }
        CompletableFuture<Message> in = c.rpc(out);
        op.inner = in;
        if (op.future.isCancelled()) {
            in.cancel(true);
        }
        in.whenComplete((m, ex) -> {
            if (ex == null) {
                shadow.answered(op.request, m);
                if (m instanceof Message.Rattach && identified != c) {
                    identify(c);
                }
                if (!op.future.complete(m)) {
                    m.release();
                }
                op.dispose();
                return;
            }
            Throwable t = unwrap(ex);
            if (t instanceof CancellationException || op.future.isDone()) {
                op.dispose();
                return;
            }
            int errno = t instanceof NinepException n ? n.errno() : Errno.EIO;
            boolean connectionGone = !c.isOpen() || errno == Errno.ETIMEDOUT;
            if (connectionGone) {
                lost(c, t.getMessage());
                if (replayable(op.request)) {
                    replayed.incrementAndGet();
                    dispatch(op);
                } else {
                    failedInFlight.incrementAndGet();
                    forgetIfGone(op.request);
                    op.fail(Errno.EIO, op.request.getClass().getSimpleName() + " was in flight when the connection to "
                            + address + " was lost; it may or may not have been carried out");
                }
                return;
            }
            forgetIfGone(op.request);
            op.future.completeExceptionally(t);
            op.dispose();
        });
    }

    /**
     * Presents the token on {@code c} (after an attach: a server with attach authentication takes
     * it from authenticated connections only). Nothing waits for it on the first connection: no
     * connection of this session can have vanished yet.
     */
    private void identify(NinepClient c) {
        identified = c;
        if (dialect.hasLeases() && !tokenRefused) {
            c.rpc(token).whenComplete((r, ex) -> {
                if (ex != null) {
                    LOG.log(System.Logger.Level.DEBUG, "Tclient to " + address + ": " + ex.getMessage());
                    noteRefusal(asNinep(ex));
                }
            });
        }
    }

    private void noteRefusal(NinepException x) {
        int e = x.errno();
        if (e == Errno.EBADMSG || e == Errno.EOPNOTSUPP || e == Errno.EPROTO) {
            tokenRefused = true;
        }
    }

    /** Whatever the answer of a Tclunk or Tremove, the fid is gone (clunk(5), remove(5)). */
    private void forgetIfGone(Message request) {
        if (request instanceof Message.Tclunk c) {
            shadow.forget(c.fid());
        } else if (request instanceof Message.Tremove r) {
            shadow.forget(r.fid());
        }
    }

    /**
     * The replay table: true for requests that may be sent again after a reconnect because
     * doing them twice is doing them once (reads, writes at an offset, walks to a new fid,
     * queries, clunks, locks, which POSIX makes idempotent per owner). Creating, removing,
     * renaming, linking and truncating are not: the first attempt may have happened.
     */
    public static boolean replayable(Message m) {
        if (m instanceof Message.Tsetattr s) {
            return (s.valid() & Message.Tsetattr.SIZE) == 0;
        }
        return m instanceof Message.Twalk || m instanceof Message.Tgetattr || m instanceof Message.Tread
                || m instanceof Message.Twrite || m instanceof Message.Treaddir
                || m instanceof Message.Treaddirattr || m instanceof Message.Tstatfs
                || m instanceof Message.Txattrwalk || m instanceof Message.Tgetlock || m instanceof Message.Tlock
                || m instanceof Message.Tclunk || m instanceof Message.Tlopen || m instanceof Message.Tfsync
                || m instanceof Message.Treadlink || m instanceof Message.Tlease || m instanceof Message.Tcallback
                || m instanceof Message.Tstat || m instanceof Message.Topen || m instanceof Message.Tattach;
    }

    /** The fids a request names (the ones whose staleness makes it fail). */
    static int[] fidsOf(Message m) {
        if (m instanceof Message.Twalk w) return new int[] {w.fid()};
        if (m instanceof Message.Tread r) return new int[] {r.fid()};
        if (m instanceof Message.Twrite w) return new int[] {w.fid()};
        if (m instanceof Message.Tgetattr g) return new int[] {g.fid()};
        if (m instanceof Message.Tclunk c) return new int[] {c.fid()};
        if (m instanceof Message.Tremove r) return new int[] {r.fid()};
        if (m instanceof Message.Tlopen o) return new int[] {o.fid()};
        if (m instanceof Message.Tlcreate c) return new int[] {c.fid()};
        if (m instanceof Message.Tlcreateattr c) return new int[] {c.dfid()};
        if (m instanceof Message.Tsetattr s) return new int[] {s.fid()};
        if (m instanceof Message.Treaddir r) return new int[] {r.fid()};
        if (m instanceof Message.Treaddirattr r) return new int[] {r.fid()};
        if (m instanceof Message.Tfsync f) return new int[] {f.fid()};
        if (m instanceof Message.Tlock l) return new int[] {l.fid()};
        if (m instanceof Message.Tgetlock g) return new int[] {g.fid()};
        if (m instanceof Message.Txattrwalk x) return new int[] {x.fid()};
        if (m instanceof Message.Txattrcreate x) return new int[] {x.fid()};
        if (m instanceof Message.Tstatfs s) return new int[] {s.fid()};
        if (m instanceof Message.Treadlink r) return new int[] {r.fid()};
        if (m instanceof Message.Tsymlink s) return new int[] {s.fid()};
        if (m instanceof Message.Tmknod k) return new int[] {k.dfid()};
        if (m instanceof Message.Tmkdir k) return new int[] {k.dfid()};
        if (m instanceof Message.Tlink l) return new int[] {l.dfid(), l.fid()};
        if (m instanceof Message.Trename r) return new int[] {r.fid(), r.dfid()};
        if (m instanceof Message.Trenameat r) return new int[] {r.olddirfid(), r.newdirfid()};
        if (m instanceof Message.Tunlinkat u) return new int[] {u.dirfid()};
        if (m instanceof Message.Tlease l) return new int[] {l.fid()};
        if (m instanceof Message.Tstat s) return new int[] {s.fid()};
        if (m instanceof Message.Twstat s) return new int[] {s.fid()};
        if (m instanceof Message.Topen o) return new int[] {o.fid()};
        if (m instanceof Message.Tcreate c) return new int[] {c.fid()};
        return new int[0];
    }

    @Override
    public <R extends Message> R call(Message request, Class<R> reply) throws NinepException {
        CompletableFuture<R> f = rpc(request, reply);
        long bound = waitBoundNanos();
        try {
            return bound == Long.MAX_VALUE ? f.get() : f.get(bound, TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            Throwable t = unwrap(e.getCause());
            if (t instanceof NinepException n) {
                throw new NinepException(n.errno(), n.getMessage(), n);
            }
            throw new NinepException(Errno.EIO, String.valueOf(t), t);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new NinepException(Errno.ETIMEDOUT, request.getClass().getSimpleName() + " to " + address
                    + " timed out");
        } catch (CancellationException e) {
            throw new NinepException(Errno.EINTR, "cancelled");
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new NinepException(Errno.EINTR, "interrupted waiting for " + address);
        }
    }

    @Override
    public long waitBoundNanos() {
        if (softTimeout == null) {
            return Long.MAX_VALUE;
        }
        // A silent server takes the request timeout to be noticed, then the outage the soft timeout.
        return config.requestTimeout().plus(softTimeout).plusSeconds(2).toNanos();
    }

    @Override
    public int allocFid() {
        return fids.alloc();
    }

    @Override
    public void freeFid(int fid) {
        fids.free(fid);
    }

    @Override
    public Dialect dialect() {
        return dialect;
    }

    @Override
    public int msize() {
        return msize;
    }

    @Override
    public String server() {
        return address.toString();
    }

    @Override
    public ClientConfig config() {
        return config;
    }

    @Override
    public boolean isOpen() {
        return state == State.CONNECTED;
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    @Override
    public NinepClient.Stats stats() {
        NinepClient c;
        synchronized (lock) {
            c = conn;
        }
        NinepClient.Stats s = c != null ? c.stats() : new NinepClient.Stats(0, 0, 0, 0);
        int queued;
        synchronized (lock) {
            queued = waiting.size();
        }
        return new NinepClient.Stats(pastRequests.get() + s.requests(), s.inFlight() + queued,
                pastSent.get() + s.bytesSent(), pastReceived.get() + s.bytesReceived());
    }

    /** Ends the session: a goodbye to the server if connected, every waiting request fails. */
    @Override
    public void close() {
        NinepClient c;
        List<Op> drop;
        synchronized (lock) {
            if (state == State.CLOSED) {
                return;
            }
            state = State.CLOSED;
            c = conn;
            drop = new ArrayList<>(waiting);
            waiting.clear();
            lock.notifyAll();
        }
        redialer.interrupt();
        for (Op op : drop) {
            op.fail(Errno.EIO, "session to " + address + " closed");
        }
        if (c != null) {
            c.close();
        }
        timer.shutdownNow();
        try {
            redialer.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closed.complete(null);
    }

    // ------------------------------------------------------------------ losing and redialing

    private void watch(NinepClient c) {
        c.closeFuture().whenComplete((v, e) -> lost(c, "connection ended"));
    }

    /** {@code c} is dead (or stalled): start redialing, once per connection. Any thread. */
    private void lost(NinepClient c, String why) {
        synchronized (lock) {
            if (conn != c || state != State.CONNECTED) {
                return;
            }
            state = State.RECONNECTING;
            outageStart = System.nanoTime();
            conn = null;
            lock.notifyAll();
        }
        NinepClient.Stats s = c.stats();
        pastRequests.addAndGet(s.requests());
        pastSent.addAndGet(s.bytesSent());
        pastReceived.addAndGet(s.bytesReceived());
        LOG.log(System.Logger.Level.WARNING, "connection to " + address + " lost (" + why + "); redialing");
        if (!c.closeFuture().isDone()) {
            // Stalled rather than gone: nothing more will come from it that we would believe.
            Thread t = new Thread(c::abort, "c9fs-abort");
            t.setDaemon(true);
            t.start();
        }
    }

    private void redialLoop() {
        while (true) {
            synchronized (lock) {
                while (state == State.CONNECTED) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        if (state == State.CLOSED) {
                            return;
                        }
                    }
                }
                if (state == State.CLOSED) {
                    return;
                }
            }
            notifyListener(true);
            long backoff = BACKOFF_MIN_MS;
            while (state == State.RECONNECTING) {
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException e) {
                    if (state == State.CLOSED) {
                        return;
                    }
                }
                backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
                NinepClient c = null;
                try {
                    c = NinepClient.connect(address, config);
                    if (c.dialect() != dialect) {
                        throw new NinepException(Errno.EPROTO, address + " now speaks " + c.dialect()
                                + ", not " + dialect);
                    }
                    restore(c);
                    if (!install(c)) {
                        c.close();
                        return;
                    }
                    notifyListener(false);
                    break;
                } catch (NinepException e) {
                    LOG.log(System.Logger.Level.DEBUG, "redialing " + address + ": " + e.getMessage());
                    if (c != null) {
                        c.abort();
                    }
                } catch (InterruptedException e) {
                    if (c != null) {
                        c.abort();
                    }
                    if (state == State.CLOSED) {
                        return;
                    }
                }
            }
        }
    }

    private void notifyListener(boolean lost) {
        try {
            if (lost) {
                listener.connectionLost();
            } else {
                listener.reconnected();
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "outage listener failed", e);
        }
    }

    /** Makes {@code c} the connection and sends what waited for it; false if closed meanwhile. */
    private boolean install(NinepClient c) {
        List<Op> go;
        synchronized (lock) {
            if (state == State.CLOSED) {
                return false;
            }
            conn = c;
            state = State.CONNECTED;
            outageNanos.addAndGet(System.nanoTime() - outageStart);
            reconnects.incrementAndGet();
            go = new ArrayList<>(waiting);
            waiting.clear();
        }
        msize = c.msize();
        watch(c);
        LOG.log(System.Logger.Level.WARNING, "reconnected to " + address + "; " + shadow.size() + " fids restored ("
                + shadow.staleCount() + " stale), " + go.size() + " requests resumed");
        for (Op op : go) {
            if (op.expiry != null) {
                op.expiry.cancel(false);
            }
            dispatch(op);
        }
        return true;
    }

    /** A transient failure of the restore: the whole restore is tried again on a new connection. */
    private static NinepException retry(String why) {
        return new NinepException(Errno.EAGAIN, why);
    }

    /**
     * The errnos by which a server says, of a walk or open, "that file is not there for you":
     * the fid becomes stale. Anything else (EIO, a garbled reply, the connection lost again)
     * says nothing about the file and makes the restore try again.
     */
    static boolean definitive(int errno) {
        switch (errno) {
            case Errno.ENOENT: case Errno.ENOTDIR: case Errno.EACCES: case Errno.EPERM: case Errno.ESTALE:
            case Errno.EISDIR: case Errno.ELOOP: case Errno.ENAMETOOLONG: case Errno.EROFS: case Errno.ETXTBSY:
            case Errno.ENXIO:
                return true;
            default:
                return false;
        }
    }

    /** Re-creates every fid of the shadow on {@code c}, under its own number. Redial thread. */
    void restore(NinepClient c) throws NinepException, InterruptedException {
        List<FidShadow.Entry> all = shadow.snapshot();
        for (FidShadow.Entry e : all) {
            if (!e.isAttach() || e.stale) {
                continue;
            }
            Qid q;
            try {
                q = c.call(e.attach(), Message.Rattach.class).qid();
            } catch (NinepException x) {
                if (!definitive(x.errno()) || !c.isOpen()) {
                    throw retry("re-attach of fid " + e.fid + ": " + x.getMessage());
                }
                makeStale(e, "re-attach refused: " + x.getMessage());
                continue;
            }
            if (q.path() != e.qidPath()) {
                makeStale(e, "the export's root is another directory now");
                c.rpc(new Message.Tclunk(e.fid));
            }
        }
        presentToken(c);
        RestoreRecalls recalls = dialect.hasLeases() ? new RestoreRecalls(c) : null;
        try {
            restoreFids(c, all);
        } finally {
            if (recalls != null) {
                recalls.stop();
            }
        }
    }

    /**
     * Answers the recalls that reach a connection while it is being restored, at once: the
     * mount's caches are not served from until the restore is installed and
     * {@link Listener#reconnected} has dropped them all, laundering dirty pages on the way
     * (docs/reconnect.md). A recall here can only be of a lease this restore took (the walks'
     * read leases, the write leases below), wanted by another client, often one restoring too.
     * Left unanswered, each such recall held that client back for a whole term, and both of them
     * when each wanted the other's file: 10-16 s of outage after a server restart, the holders
     * fenced (their writes refused with ESTALE) and their locks' grace run out. Answering sooner
     * is what the term's expiry did, minus the wait and the fence: the pages this mount still
     * launders land after the other client's write instead of being refused, the order two
     * concurrent writers get anyway.
     */
    private final class RestoreRecalls {
        private final NinepClient c;
        private volatile boolean restoring = true;

        RestoreRecalls(NinepClient c) {
            this.c = c;
            post();
        }

        private void post() {
            c.rpc(new Message.Tcallback(), Message.Rcallback.class).whenComplete((r, err) -> {
                if (err != null) {
                    return; // flushed or the connection gone: the restore notices the latter itself
                }
                for (Message.Recall x : r.recalls()) {
                    restoreRecalls.incrementAndGet();
                    c.rpc(new Message.Trecalled(x.id()), Message.Rrecalled.class);
                }
                // Once restored, the mount's own recall loop keeps the channel: its Tcallback makes
                // the server answer this one empty, and this one is not sent again.
                if (restoring && c.isOpen()) {
                    post();
                }
            });
        }

        void stop() {
            restoring = false;
        }
    }

    /** The fids after the attach fids: walked and opened again, locks reclaimed, write leases retaken. */
    private void restoreFids(NinepClient c, List<FidShadow.Entry> all) throws NinepException, InterruptedException {
        List<CompletableFuture<Void>> steps = new ArrayList<>();
        for (FidShadow.Entry e : all) {
            if (e.isAttach() || e.stale) {
                continue;
            }
            FidShadow.Entry root = shadow.get(e.root());
            if (!e.walkable() || e.path() == null || root == null || root.stale) {
                makeStale(e, "cannot be walked to again");
                continue;
            }
            steps.add(walkAgain(c, e, 0));
        }
        NinepException failure = null;
        for (CompletableFuture<Void> s : steps) {
            try {
                s.get(config.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException x) {
                Throwable t = unwrap(x.getCause());
                failure = t instanceof NinepException n ? n : retry(String.valueOf(t));
            } catch (TimeoutException x) {
                failure = retry("restoring fids timed out");
            }
        }
        if (failure != null) {
            throw failure;
        }
        // Locks first: their reclaims must come within the server's grace, which a write lease
        // waiting for another client's recall could outlast.
        for (FidShadow.Entry e : all) {
            if (e.isAttach() || e.stale) {
                continue;
            }
            List<Message.Tlock> locks;
            synchronized (shadow) {
                locks = new ArrayList<>(e.locks());
            }
            for (Message.Tlock l : locks) {
                if (!reclaim(c, e, l)) {
                    lostLocks.incrementAndGet();
                    shadow.markLockLost(e.fid);
                    LOG.log(System.Logger.Level.WARNING, "lock " + l + " on fid " + e.fid + " lost: " + e.path());
                    break;
                }
            }
        }
        for (FidShadow.Entry e : all) {
            if (e.isAttach() || e.stale) {
                continue;
            }
            if (e.leaseMode() == Message.LEASE_WRITE && dialect.hasLeases()) {
                try {
                    c.call(new Message.Tlease(e.fid, Message.LEASE_WRITE), Message.Rlease.class);
                } catch (NinepException x) {
                    if (!c.isOpen()) {
                        throw retry("write lease of fid " + e.fid + ": " + x.getMessage());
                    }
                    LOG.log(System.Logger.Level.WARNING, "write lease of fid " + e.fid + " not retaken: "
                            + x.getMessage());
                }
            }
        }
    }

    /**
     * Before anything of the restore that other clients' leases could make wait (write leases,
     * and the writes that dropping the kernel's caches launders): the server ends the leases it
     * still holds for this session's broken connection, which would otherwise be recalled, in
     * vain, for up to a term. Refused (no attach restored, an older server): the restore goes on
     * and those waits run out at the term, as before.
     */
    private void presentToken(NinepClient c) throws NinepException {
        if (!dialect.hasLeases() || tokenRefused) {
            return;
        }
        try {
            int settled = c.call(token, Message.Rclient.class).settled();
            identified = c;
            if (settled > 0) {
                LOG.log(System.Logger.Level.INFO, address + " ended the leases of " + settled
                        + " earlier connection(s) of this mount");
            }
        } catch (NinepException x) {
            noteRefusal(x);
            if (!c.isOpen() || x.errno() == Errno.ETIMEDOUT) {
                throw retry("Tclient: " + x.getMessage());
            }
            LOG.log(System.Logger.Level.DEBUG, "Tclient refused by " + address + ": " + x.getMessage());
        }
    }

    /** Walks fid e.fid from its attach again (in steps of MAXWELEM names), then re-opens it. */
    private CompletableFuture<Void> walkAgain(NinepClient c, FidShadow.Entry e, int done) {
        List<String> path = e.path();
        int n = Math.min(Message.MAXWELEM, path.size() - done);
        int from = done == 0 ? e.root() : e.fid;
        Message.Twalk w = new Message.Twalk(from, e.fid, path.subList(done, done + n));
        return c.rpc(w, Message.Rwalk.class).handle((r, ex) -> {
            if (ex != null) {
                NinepException x = asNinep(ex);
                if (done > 0) {
                    c.rpc(new Message.Tclunk(e.fid));
                }
                if (definitive(x.errno()) && c.isOpen()) {
                    makeStale(e, "walk: " + x.getMessage());
                    return CompletableFuture.<Void>completedFuture(null);
                }
                return CompletableFuture.<Void>failedFuture(retry("walk of fid " + e.fid + ": " + x.getMessage()));
            }
            if (r.wqids().size() != n) {
                if (done > 0) {
                    c.rpc(new Message.Tclunk(e.fid));
                }
                makeStale(e, "no such path any more");
                return CompletableFuture.<Void>completedFuture(null);
            }
            if (done + n < path.size()) {
                return walkAgain(c, e, done + n);
            }
            long qp = n == 0 ? rootQidPath(e) : r.wqids().get(n - 1).path();
            if (qp != e.qidPath()) {
                c.rpc(new Message.Tclunk(e.fid));
                makeStale(e, "replaced by another file");
                return CompletableFuture.<Void>completedFuture(null);
            }
            if (e.openFlags() < 0) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            CompletableFuture<? extends Message> reopen = dialect.isLinux()
                    ? c.rpc(new Message.Tlopen(e.fid, e.openFlags() & ~(O_CREAT | O_EXCL | O_TRUNC)), Message.Rlopen.class)
                    : c.rpc(new Message.Topen(e.fid, e.openFlags() & ~(OTRUNC | ORCLOSE)), Message.Ropen.class);
            return reopen.handle((o, oex) -> {
                if (oex == null) {
                    return CompletableFuture.<Void>completedFuture(null);
                }
                NinepException x = asNinep(oex);
                c.rpc(new Message.Tclunk(e.fid));
                if (definitive(x.errno()) && c.isOpen()) {
                    makeStale(e, "re-open: " + x.getMessage());
                    return CompletableFuture.<Void>completedFuture(null);
                }
                return CompletableFuture.<Void>failedFuture(retry("re-open of fid " + e.fid + ": " + x.getMessage()));
            }).thenCompose(f -> f);
        }).thenCompose(f -> f);
    }

    private long rootQidPath(FidShadow.Entry e) {
        FidShadow.Entry root = shadow.get(e.root());
        return root == null ? -1 : root.qidPath();
    }

    /**
     * Takes lock {@code l} back with RECLAIM; a server in its grace period (GRACE) is asked again
     * every 250 ms, for at most 120 s. False if the server will not give it back.
     */
    private boolean reclaim(NinepClient c, FidShadow.Entry e, Message.Tlock l)
            throws NinepException, InterruptedException {
        int flags = l.lockType() == Message.Tlock.UNLCK ? 0 : (l.flags() & ~Message.Tlock.FLAGS_BLOCK)
                | Message.Tlock.FLAGS_RECLAIM;
        Message.Tlock again = new Message.Tlock(e.fid, l.lockType(), flags, l.start(), l.length(), l.procId(),
                l.clientId());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GRACE_LIMIT_MS);
        while (true) {
            Message.Rlock r;
            try {
                r = c.call(again, Message.Rlock.class);
            } catch (NinepException x) {
                if (!c.isOpen() || x.errno() == Errno.ETIMEDOUT) {
                    throw retry("lock reclaim on fid " + e.fid + ": " + x.getMessage());
                }
                return false;
            }
            if (r.status() == Message.Rlock.SUCCESS) {
                return true;
            }
            if (r.status() != Message.Rlock.GRACE || System.nanoTime() - deadline > 0 || state == State.CLOSED) {
                return false;
            }
            Thread.sleep(GRACE_RETRY_MS);
        }
    }

    private void makeStale(FidShadow.Entry e, String why) {
        shadow.markStale(e.fid);
        staleFids.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, "fid " + e.fid + " (" + (e.path() == null ? "?" : String.join("/", e.path()))
                + ") is stale after reconnecting: " + why);
        if (e.isAttach()) {
            for (FidShadow.Entry d : shadow.snapshot()) {
                if (!d.isAttach() && d.root() == e.fid) {
                    shadow.markStale(d.fid);
                }
            }
        }
    }

    private static NinepException asNinep(Throwable t) {
        t = unwrap(t);
        return t instanceof NinepException n ? n : new NinepException(Errno.EIO, String.valueOf(t), t);
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
