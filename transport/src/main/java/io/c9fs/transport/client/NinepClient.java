package io.c9fs.transport.client;

import io.c9fs.transport.Errno;
import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.codec.FrameDecoder;
import io.c9fs.transport.codec.ProtocolException;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.DecoderException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A 9P client connection with many requests in flight: each request takes a free tag, replies
 * are matched by tag in whatever order the server sends them.
 *
 * <p>Flush (flush(5)): a request whose future is cancelled, or that times out, is flushed with
 * Tflush(oldtag); its tag stays reserved until the Rflush, because the server may still send the
 * original reply first. Such a late reply is dropped and its payload released.
 *
 * <p>Buffers: a Twrite's data is consumed by {@link #rpc}: the client releases it once written
 * (or on failure), the caller must not release it. An Rread's data belongs to the caller, who
 * releases it ({@code rread.release()}).
 *
 * <p>Threads: every public method may be called from any thread. Requests are encoded on the
 * calling thread and written as single buffers. Replies, timeouts, flushes and the loss of the
 * connection are handled on the connection's event loop; futures complete there, so dependent
 * stages must not block (use the *Async variants for blocking work). {@link #rpc} blocks only
 * when all 65535 tags are in use, at most the request timeout, and never on the event loop (it
 * fails there at once with EAGAIN). Locks: the tag pool's, the fid pool's and the one guarding
 * the transition to failed; all are leaves, never held while calling out or taking another.
 */
public final class NinepClient implements NinepSession {
    private static final System.Logger LOG = System.getLogger(NinepClient.class.getName());
    /** How long {@link #close} waits for the server to acknowledge its goodbye Tversion. */
    private static final long GOODBYE_MS = 300;

    private final NinepAddress address;
    private final ClientConfig config;
    /** Set once in {@link #connect} before the client is published or any reply can arrive. */
    private volatile Channel channel;
    private final FrameDecoder frames;
    private final TagPool tags = new TagPool();
    private final FidPool fids = new FidPool();
    private final AtomicReferenceArray<Pending> pending = new AtomicReferenceArray<>(Message.NOTAG);
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** The answer to the Tversion in flight; replaced before each Tversion of the negotiation. */
    private volatile CompletableFuture<Message.Rversion> versionReply = new CompletableFuture<>();
    private final LongAdder requests = new LongAdder();
    private final LongAdder bytesSent = new LongAdder();
    private final LongAdder bytesReceived = new LongAdder();
    /** Guards the transition to failed; a leaf lock, held for no call out. */
    private final Object failLock = new Object();
    private volatile Codec codec = Codec.of(Dialect.P9P2000);
    private volatile int msize;
    /** Why the connection ended; null while open. */
    private volatile NinepException failure;

    /** One outstanding request. Fields other than the finals are touched on the event loop only. */
    private static final class Pending {
        final int tag;
        final int requestType;
        final CompletableFuture<Message> future;
        /** For a Tflush: the request it flushes. */
        final Pending flushOf;
        ScheduledFuture<?> timeout;
        /** A Tflush for this request is out: the tag is kept until its Rflush. */
        boolean flushing;

        Pending(int tag, int requestType, CompletableFuture<Message> future, Pending flushOf) {
            this.tag = tag;
            this.requestType = requestType;
            this.future = future;
            this.flushOf = flushOf;
        }
    }

    private NinepClient(NinepAddress address, ClientConfig config, FrameDecoder frames) {
        this.address = address;
        this.config = config;
        this.frames = frames;
        this.msize = config.msize();
    }

    /**
     * Connects and negotiates the version, together bounded by {@code cfg.connectTimeout()}.
     * The server may answer an older dialect (9P2000.u, 9P2000), which is then used.
     */
    public static NinepClient connect(NinepAddress addr, ClientConfig cfg) throws NinepException {
        FrameDecoder frames = new FrameDecoder(cfg.msize());
        NinepClient c = new NinepClient(addr, cfg, frames);
        long deadline = System.nanoTime() + cfg.connectTimeout().toNanos();
        Bootstrap b = new Bootstrap()
                .group(Sockets.clientGroup())
                .channel(Sockets.channelClass(addr))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        cfg.connectTimeout().toMillis()))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(frames, c.new Replies());
                    }
                });
        if (!addr.isUnix()) {
            b.option(ChannelOption.TCP_NODELAY, true);
        }
        // Let one socket read take up to a whole frame: a 1 MiB Rread in 64 KiB reads costs
        // sixteen trips through the pipeline.
        b.option(ChannelOption.RECVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(512, 64 * 1024, cfg.msize()));
        b.option(ChannelOption.ALLOCATOR, Sockets.allocator());
        ChannelFuture cf = b.connect(Sockets.socketAddress(addr));
        c.channel = cf.channel();
        try {
            if (!cf.await(cfg.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new NinepException(Errno.ETIMEDOUT, "connecting to " + addr + " timed out after "
                        + cfg.connectTimeout().toMillis() + " ms");
            }
            if (!cf.isSuccess()) {
                Throwable t = cf.cause();
                int errno = t instanceof java.net.ConnectException ? Errno.ECONNREFUSED : Errno.EIO;
                throw new NinepException(errno, "cannot connect to " + addr + ": " + t.getMessage(), t);
            }
            c.version(deadline);
            return c;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c.channel.close();
            throw new NinepException(Errno.EINTR, "interrupted connecting to " + addr);
        } catch (NinepException | RuntimeException e) {
            c.channel.close();
            throw e;
        }
    }

    /**
     * Negotiates the dialect. A proposal with an extension suffix ("9P2000.L.c9") that the server
     * refuses (diod answers Rlerror) or answers with something else than the proposal or its base
     * ("9P2000.L") is retried once as the base, on the same connection: a Tversion restarts the
     * session (version(5)). Then the server's answer is taken as it is.
     */
    private void version(long deadline) throws NinepException, InterruptedException {
        String proposal = config.version();
        String base = baseOf(proposal);
        while (true) {
            Message.Rversion rv;
            try {
                rv = exchangeVersion(proposal, deadline);
            } catch (NinepException e) {
                if (base != null && !proposal.equals(base)) {
                    proposal = base;
                    continue;
                }
                throw e;
            }
            if (base != null && !proposal.equals(base) && !rv.version().equals(proposal)
                    && !rv.version().equals(base)) {
                proposal = base;
                continue;
            }
            accept(rv, proposal);
            return;
        }
    }

    /** The proposal without its extension, if it has one c9fs knows ("9P2000.L.c9" -> "9P2000.L"). */
    private static String baseOf(String proposal) {
        Dialect d = Dialect.of(proposal);
        return d != null && d.hasLeases() ? Dialect.P9P2000_L.version() : null;
    }

    private Message.Rversion exchangeVersion(String proposal, long deadline)
            throws NinepException, InterruptedException {
        CompletableFuture<Message.Rversion> reply = new CompletableFuture<>();
        versionReply = reply;
        ByteBuf frame = codec.encode(new Fcall(Message.NOTAG, new Message.Tversion(config.msize(), proposal)),
                channel.alloc());
        channel.writeAndFlush(frame);
        try {
            return reply.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new NinepException(Errno.ETIMEDOUT, "no Rversion from " + address + " within "
                    + config.connectTimeout().toMillis() + " ms");
        } catch (ExecutionException e) {
            NinepException n = asNinep(e.getCause());
            throw new NinepException(n.errno(), "server " + address + " refused Tversion " + proposal
                    + ": " + n.getMessage(), n);
        }
    }

    private void accept(Message.Rversion rv, String proposal) throws NinepException {
        if (rv.version().equals("unknown")) {
            throw new NinepException(Errno.EPROTONOSUPPORT, "server " + address + " does not speak "
                    + proposal + " (Rversion \"unknown\")");
        }
        Dialect d = Dialect.of(rv.version());
        if (d == null) {
            throw new NinepException(Errno.EPROTONOSUPPORT, "server " + address + " answered version \""
                    + rv.version() + "\", which c9fs does not speak");
        }
        long m = Integer.toUnsignedLong(rv.msize());
        if (m > config.msize() || m < Message.IOHDRSZ + Message.HEADER + 1) {
            throw new NinepException(Errno.EPROTO, "server " + address + " answered msize " + m
                    + " for a proposed " + config.msize());
        }
        msize = (int) m;
        frames.msize(msize);
        codec = Codec.of(d);
    }

    @Override
    public Dialect dialect() {
        return codec.dialect();
    }

    @Override
    public int msize() {
        return msize;
    }

    /** The largest read or write count that fits one message: msize - IOHDRSZ. */
    @Override
    public int iounit() {
        return msize - Message.IOHDRSZ;
    }

    /** The server address, as dialled. */
    @Override
    public String server() {
        return address.toString();
    }

    @Override
    public ClientConfig config() {
        return config;
    }

    /** A fid number not in use on this connection; never NOFID. */
    @Override
    public int allocFid() {
        return fids.alloc();
    }

    /** Returns {@code fid} for reuse; call after its Tclunk/Tremove was answered (or failed). */
    @Override
    public void freeFid(int fid) {
        fids.free(fid);
    }

    /**
     * Sends {@code request}; the future completes with the reply, or exceptionally with a
     * {@link NinepException}: the server's Rlerror/Rerror errno, ETIMEDOUT after the request
     * timeout, ECONNRESET when the connection is lost, EPROTO for a reply of the wrong type.
     * Cancelling the future flushes the request.
     */
    @Override
    public CompletableFuture<Message> rpc(Message request) {
        CompletableFuture<Message> future = new CompletableFuture<>();
        if (!request.isRequest() || request instanceof Message.Tversion) {
            request.release();
            future.completeExceptionally(new IllegalArgumentException("not a request rpc() sends: " + request));
            return future;
        }
        NinepException down = failure;
        if (down != null) {
            request.release();
            future.completeExceptionally(down);
            return future;
        }
        int tag;
        try {
            tag = channel.eventLoop().inEventLoop() ? tags.tryAcquire()
                    : tags.acquire(config.requestTimeout().toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            request.release();
            future.completeExceptionally(new NinepException(Errno.EINTR, "interrupted waiting for a tag"));
            return future;
        }
        if (tag < 0) {
            request.release();
            future.completeExceptionally(tag == TagPool.CLOSED ? closedException()
                    : new NinepException(channel.eventLoop().inEventLoop() ? Errno.EAGAIN : Errno.ETIMEDOUT,
                    "all 65535 tags to " + address + " in use"));
            return future;
        }
        Pending p = new Pending(tag, request.type(), future, null);
        ByteBuf frame;
        try {
            frame = codec.encode(new Fcall(tag, request), channel.alloc());
        } catch (IllegalArgumentException e) {
            tags.release(tag);
            future.completeExceptionally(new NinepException(Errno.EINVAL, "cannot send "
                    + request.getClass().getSimpleName() + " to " + address + ": " + e.getMessage(), e));
            return future;
        }
        if (frame.readableBytes() > msize) {
            tags.release(tag);
            future.completeExceptionally(new NinepException(Errno.EMSGSIZE, request.getClass().getSimpleName()
                    + " of " + frame.readableBytes() + " bytes exceeds msize " + msize));
            frame.release();
            return future;
        }
        requests.increment();
        bytesSent.add(frame.readableBytes());
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "9p -> " + address + " tag " + tag + " " + request);
        }
        pending.set(tag, p);
        if (failure != null && pending.compareAndSet(tag, p, null)) {
            // Lost the race with channelInactive's sweep: fail here, the sweep did not see us.
            frame.release();
            future.completeExceptionally(closedException());
            return future;
        }
        EventLoop loop = channel.eventLoop();
        future.whenComplete((r, ex) -> {
            if (ex instanceof CancellationException) {
                loop.execute(() -> flush(p));
            }
        });
        // One hop to the event loop for both the timer and the write: a cancellation queued
        // behind it finds the request written and its timer set.
        Runnable send = () -> {
            if (pending.get(tag) != p) {
                frame.release(); // failed meanwhile: the connection is gone
                return;
            }
            p.timeout = loop.schedule(() -> timedOut(p), config.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
            channel.writeAndFlush(frame).addListener(w -> {
                if (!w.isSuccess()) {
                    fail(new NinepException(Errno.ECONNRESET, "writing to " + address + " failed: " + w.cause(),
                            w.cause()));
                }
            });
        };
        if (loop.inEventLoop()) {
            send.run();
        } else {
            loop.execute(send);
        }
        return future;
    }

    /** {@link #rpc(Message)} expecting reply type {@code reply}; any other is NinepException(EPROTO). */
    @Override
    public <R extends Message> CompletableFuture<R> rpc(Message request, Class<R> reply) {
        CompletableFuture<Message> f = rpc(request);
        CompletableFuture<R> typed = f.thenApply(m -> {
            if (!reply.isInstance(m)) {
                m.release();
                throw new java.util.concurrent.CompletionException(new NinepException(Errno.EPROTO,
                        address + " answered " + m.getClass().getSimpleName() + " where "
                        + reply.getSimpleName() + " was due"));
            }
            return reply.cast(m);
        });
        typed.whenComplete((r, ex) -> {
            if (ex instanceof CancellationException) {
                f.cancel(true);
            }
        });
        return typed;
    }

    /**
     * Sends {@code request} and waits for the reply, at most the request timeout (plus a second of
     * slack). Not on the connection's event loop (IllegalStateException): it would wait for itself.
     */
    @Override
    public <R extends Message> R call(Message request, Class<R> reply) throws NinepException {
        if (channel.eventLoop().inEventLoop()) {
            request.release();
            throw new IllegalStateException("blocking call on the connection's own event loop would wait for itself; use rpc()");
        }
        CompletableFuture<R> f = rpc(request, reply);
        try {
            return f.get(config.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw asNinep(e.getCause());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new NinepException(Errno.ETIMEDOUT, request.getClass().getSimpleName() + " to "
                    + address + " timed out");
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new NinepException(Errno.EINTR, "interrupted waiting for " + address);
        }
    }

    /** Tattach {@code fid} (no auth fid) with the config's n_uname; returns the root qid. */
    @Override
    public Qid attach(int fid, String uname, String aname) throws NinepException {
        return call(new Message.Tattach(fid, Message.NOFID, uname, aname, config.nUname()),
                Message.Rattach.class).qid();
    }

    /** Tags free for new requests (for tests: a flushed request's tag returns only after Rflush). */
    int freeTags() {
        return tags.available();
    }

    /** Counters of this connection, for {@code c9fs stats}. */
    @Override
    public Stats stats() {
        int inFlight = 0;
        for (int i = 0; i < pending.length(); i++) {
            if (pending.get(i) != null) {
                inFlight++;
            }
        }
        return new Stats(requests.sum(), inFlight, bytesSent.sum(), bytesReceived.sum());
    }

    /** Requests sent, requests awaiting their reply now, and bytes of whole frames each way. */
    public record Stats(long requests, int inFlight, long bytesSent, long bytesReceived) {
    }

    @Override
    public boolean isOpen() {
        return failure == null && channel.isActive();
    }

    /** Completes when the connection has ended, for whatever reason. */
    @Override
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    /**
     * A goodbye, then {@link #abort}: a Tversion on the live connection resets the session
     * (version(5)), so the server drops every fid, lease and lock of this connection at once
     * rather than when it notices the socket gone. Waits for the Rversion at most 300 ms.
     */
    @Override
    public void close() {
        Channel ch = channel;
        if (failure == null && ch != null && ch.isActive() && !ch.eventLoop().inEventLoop()) {
            CompletableFuture<Message.Rversion> reply = new CompletableFuture<>();
            versionReply = reply;
            try {
                ch.writeAndFlush(codec.encode(new Fcall(Message.NOTAG,
                        new Message.Tversion(msize, codec.dialect().version())), ch.alloc()));
                reply.get(GOODBYE_MS, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException | RuntimeException e) {
                // the goodbye is a courtesy; the close below is what counts
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        abort();
    }

    /**
     * Closes without a goodbye (bounded, 5 s), for a connection that is lost or stalled;
     * pending requests fail with ECONNRESET.
     */
    public void abort() {
        fail(new NinepException(Errno.ECONNRESET, "connection to " + address + " closed by the client"));
        ChannelFuture f = channel.close();
        if (!channel.eventLoop().inEventLoop()) {
            f.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    // ------------------------------------------------------------------ event loop side

    private void timedOut(Pending p) {
        if (pending.get(p.tag) != p || p.flushing) {
            return;
        }
        p.future.completeExceptionally(new NinepException(Errno.ETIMEDOUT, "no reply from " + address
                + " within " + config.requestTimeout().toMillis() + " ms (tag " + p.tag + ")"));
        flush(p);
    }

    /** Sends Tflush(p.tag) unless p was answered meanwhile. On the event loop. */
    private void flush(Pending p) {
        if (pending.get(p.tag) != p || p.flushing || failure != null) {
            return;
        }
        if (p.timeout != null) {
            p.timeout.cancel(false);
        }
        int ftag = tags.tryAcquire();
        if (ftag < 0) {
            // No tag for Tflush: leave the request outstanding; its reply frees the tag.
            return;
        }
        p.flushing = true;
        Pending fp = new Pending(ftag, 108, new CompletableFuture<>(), p);
        pending.set(ftag, fp);
        channel.writeAndFlush(codec.encode(new Fcall(ftag, new Message.Tflush(p.tag)), channel.alloc()));
    }

    private void reply(Fcall fc) {
        int tag = fc.tag();
        Message m = fc.message();
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "9p <- " + address + " tag " + tag + " " + m);
        }
        Pending p = tag < Message.NOTAG ? pending.get(tag) : null;
        if (p == null) {
            m.release();
            protocolError(new ProtocolException("reply " + m.getClass().getSimpleName()
                    + " with unknown tag " + tag, tag));
            return;
        }
        pending.set(tag, null);
        if (p.timeout != null) {
            p.timeout.cancel(false);
        }
        if (p.flushOf != null) {
            // Rflush (or an error to our Tflush): the flushed request can no longer be answered.
            m.release();
            Pending orig = p.flushOf;
            pending.compareAndSet(orig.tag, orig, null);
            tags.release(orig.tag);
            tags.release(tag);
            return;
        }
        if (!p.flushing) {
            tags.release(tag);
        }
        NinepException error = errorOf(m, p.requestType);
        if (error != null) {
            m.release();
            p.future.completeExceptionally(error);
        } else if (!p.future.complete(m)) {
            m.release();
        }
    }

    private NinepException errorOf(Message m, int requestType) {
        if (m instanceof Message.Rlerror) {
            int e = ((Message.Rlerror) m).ecode();
            return new NinepException(e, Errno.message(e) + " (" + Errno.name(e) + ") from " + address);
        }
        if (m instanceof Message.Rerror) {
            Message.Rerror r = (Message.Rerror) m;
            int e = r.errno() != 0 ? r.errno() : Errno.fromString(r.ename());
            return new NinepException(e, r.ename() + " (" + Errno.name(e) + ") from " + address);
        }
        if (m.type() != requestType + 1) {
            return new NinepException(Errno.EPROTO, address + " answered type " + m.type()
                    + " to a request of type " + requestType);
        }
        return null;
    }

    private NinepException closedException() {
        NinepException f = failure;
        return f != null ? f : new NinepException(Errno.ECONNRESET, "connection to " + address + " closed");
    }

    /** Ends the connection: every pending request fails with {@code why}. Idempotent; any thread. */
    private void fail(NinepException why) {
        synchronized (failLock) {
            if (failure != null) {
                return;
            }
            failure = why;
        }
        tags.close();
        versionReply.completeExceptionally(why);
        for (int i = 0; i < pending.length(); i++) {
            Pending p = pending.getAndSet(i, null);
            if (p != null) {
                if (p.timeout != null) {
                    p.timeout.cancel(false);
                }
                p.future.completeExceptionally(why);
            }
        }
        Channel ch = channel;
        if (ch != null) {
            ch.close();
        }
        closed.complete(null);
    }

    private void protocolError(ProtocolException e) {
        LOG.log(System.Logger.Level.WARNING, "9P protocol error from " + address + ": " + e.getMessage());
        fail(new NinepException(Errno.EPROTO, "protocol error from " + address + ": " + e.getMessage(), e));
    }

    /**
     * The codec for the answer to Tversion, whose dialect is not settled yet: Rversion is the
     * same in all, but a server may refuse with its own error form (diod sends Rlerror, a
     * 9P2000.u server Rerror with errno).
     */
    private static Codec versionCodec(ByteBuf frame) {
        int type = frame.readableBytes() > 4 ? frame.getUnsignedByte(frame.readerIndex() + 4) : -1;
        if (type == 7) {
            return Codec.of(Dialect.P9P2000_L);
        }
        if (type == 107 && frame.readableBytes() >= Message.HEADER + 2) {
            int ename = frame.getUnsignedShortLE(frame.readerIndex() + Message.HEADER);
            boolean withErrno = frame.readableBytes() == Message.HEADER + 2 + ename + 4;
            return Codec.of(withErrno ? Dialect.P9P2000_U : Dialect.P9P2000);
        }
        return Codec.of(Dialect.P9P2000);
    }

    private static NinepException asNinep(Throwable t) {
        if (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof NinepException) {
            NinepException n = (NinepException) t;
            // Rethrown on the caller's thread: keep the original as cause for its stack.
            return new NinepException(n.errno(), n.getMessage(), n);
        }
        return new NinepException(Errno.EIO, String.valueOf(t), t);
    }

    /** The inbound end of the pipeline. */
    private final class Replies extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf frame = (ByteBuf) msg;
            bytesReceived.add(frame.readableBytes());
            CompletableFuture<Message.Rversion> versionReply = NinepClient.this.versionReply;
            boolean versioning = !versionReply.isDone();
            Fcall fc;
            try {
                fc = (versioning ? versionCodec(frame) : codec).decode(frame);
            } catch (ProtocolException e) {
                protocolError(e);
                return;
            } finally {
                frame.release();
            }
            if (versioning) {
                Message m = fc.message();
                if (m instanceof Message.Rversion && fc.tag() == Message.NOTAG) {
                    versionReply.complete((Message.Rversion) m);
                } else if (m instanceof Message.Rlerror || m instanceof Message.Rerror) {
                    NinepException e = errorOf(m, 100);
                    versionReply.completeExceptionally(e);
                } else {
                    m.release();
                    protocolError(new ProtocolException("expected Rversion, got " + fc));
                }
                return;
            }
            if (failure == null) {
                reply(fc);
            } else {
                fc.message().release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(new NinepException(Errno.ECONNRESET, "connection to " + address + " lost"));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
            if (c instanceof ProtocolException) {
                protocolError((ProtocolException) c);
            } else {
                fail(new NinepException(Errno.ECONNRESET, "connection to " + address + " failed: " + c, c));
            }
        }
    }
}
