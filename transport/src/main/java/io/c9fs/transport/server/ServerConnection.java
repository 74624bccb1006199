package io.c9fs.transport.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client connection of a {@link NinepServer}: its negotiated dialect and msize, and the way
 * to answer requests.
 *
 * <p>Threads: {@link #reply} and {@link #error} may be called from any thread; a reply is
 * encoded on the calling thread and written as one buffer, so replies from several threads never
 * interleave on the wire. Dialect and msize change only on the event loop while handling Tversion
 * (volatile fields; a reply racing a re-version is encoded in either the old or the new dialect,
 * and the handler was told to abandon those requests by {@link NinepHandler#reset}).
 */
public final class ServerConnection {
    private static final System.Logger LOG = System.getLogger(ServerConnection.class.getName());

    private final Channel channel;
    private final NinepServer.Traffic traffic;
    /** Replies waiting to be written are over the high-water mark. Event loop only. */
    private boolean writeBacklog;
    /** Pauses asked by the handler ({@link #pauseReading}) not yet lifted. Event loop only. */
    private int handlerPauses;
    private Runnable onResume;
    private volatile Dialect dialect;
    private volatile Codec codec = Codec.of(Dialect.P9P2000);
    private volatile int msize;
    /** Replies handed over by other threads and not yet written (see {@link #repliesInTransit}). */
    private final AtomicInteger inTransit = new AtomicInteger();
    private final ChannelFutureListener transitDone = f -> inTransit.decrementAndGet();

    ServerConnection(Channel channel, int maxMsize, NinepServer.Traffic traffic) {
        this.channel = channel;
        this.msize = maxMsize;
        this.traffic = traffic;
    }

    /**
     * Backpressure from the handler: {@code true} stops reading the socket (too many requests in
     * flight), {@code false} lifts one such stop. Stops are counted, so a lift that arrives from
     * a worker after a newer stop (they hop to the event loop) does not undo the newer one.
     * Reading resumes only when no stop is left and the replies have drained below the
     * low-water mark: the two reasons never undo each other. Any thread.
     */
    public void pauseReading(boolean pause) {
        if (!channel.eventLoop().inEventLoop()) {
            channel.eventLoop().execute(() -> pauseReading(pause));
            return;
        }
        handlerPauses = pause ? handlerPauses + 1 : Math.max(0, handlerPauses - 1);
        updateAutoRead();
    }

    /** Forgets the handler's stops (its session was reset). Event loop only. */
    public void clearPauses() {
        handlerPauses = 0;
        updateAutoRead();
    }

    /** The write buffer crossed a water mark. Event loop only. */
    void writability(boolean writable) {
        writeBacklog = !writable;
        updateAutoRead();
    }

    /** True while the socket is not being read because of backpressure. */
    public boolean readingPaused() {
        return !channel.config().isAutoRead();
    }

    private void updateAutoRead() {
        boolean on = !paused();
        channel.config().setAutoRead(on);
        if (on && onResume != null) {
            onResume.run();
        }
    }

    /** Reading is paused (replies backlogged or too many requests in flight). Event loop only. */
    boolean paused() {
        return writeBacklog || handlerPauses > 0;
    }

    void onResume(Runnable r) {
        this.onResume = r;
    }

    /** The negotiated dialect, or null before a successful Tversion. */
    public Dialect dialect() {
        return dialect;
    }

    /** The negotiated msize (before Tversion: the server's maximum). */
    public int msize() {
        return msize;
    }

    /** The largest Rread/Twrite payload the msize allows. */
    public int iounit() {
        return msize - Message.IOHDRSZ;
    }

    public Channel channel() {
        return channel;
    }

    /** The peer's address, for logs. */
    public String remote() {
        return String.valueOf(channel.remoteAddress());
    }

    Codec codec() {
        return codec;
    }

    void versioned(Dialect d, int negotiatedMsize) {
        this.codec = Codec.of(d);
        this.msize = negotiatedMsize;
        this.dialect = d;
    }

    /**
     * Sends {@code rmessage} with {@code tag}. Consumes the message: an Rread's data is released
     * once written (or at once if the connection is gone). A reply that does not fit the dialect
     * or the msize is a handler bug: it is logged and answered with EIO/EMSGSIZE instead, so the
     * client's tag does not hang.
     */
    public void reply(int tag, Message rmessage) {
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "9p -> " + remote() + " tag " + tag + " " + rmessage);
        }
        ByteBuf frame;
        try {
            frame = codec.encode(new Fcall(tag, rmessage), channel.alloc());
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot send " + rmessage.getClass().getSimpleName()
                    + " to " + remote() + ": " + e.getMessage());
            if (!(rmessage instanceof Message.Rlerror) && !(rmessage instanceof Message.Rerror)) {
                error(tag, Errno.EIO);
            }
            return;
        }
        if (frame.readableBytes() > msize) {
            LOG.log(System.Logger.Level.WARNING, rmessage.getClass().getSimpleName() + " of "
                    + frame.readableBytes() + " bytes exceeds msize " + msize + " (" + remote() + ")");
            frame.release();
            error(tag, Errno.EMSGSIZE);
            return;
        }
        traffic.out.add(frame.readableBytes());
        // Netty releases the buffer after writing it, or when the channel is already closed.
        if (channel.eventLoop().inEventLoop()) {
            channel.writeAndFlush(frame, channel.voidPromise());
        } else {
            inTransit.incrementAndGet();
            channel.writeAndFlush(frame).addListener(transitDone);
        }
    }

    /**
     * True while a reply handed over by another thread (a worker) may still be on its way to the
     * socket: a reply written now on the event loop could overtake it. A handler that answers on
     * the event loop does so only when this is false, so that replies keep the order in which
     * requests were answered. Conservative: it turns false once those replies are written out.
     */
    public boolean repliesInTransit() {
        return inTransit.get() != 0;
    }

    /** Answers {@code tag} with the error of the dialect: Rlerror, or Rerror with string and errno. */
    public void error(int tag, int errno) {
        Dialect d = dialect;
        if (d != null && d.isLinux()) {
            reply(tag, new Message.Rlerror(errno));
        } else {
            reply(tag, new Message.Rerror(Errno.toString9p(errno), d == Dialect.P9P2000_U ? errno : 0));
        }
    }

    @Override
    public String toString() {
        return "9P connection " + remote() + " " + dialect + " msize " + msize;
    }
}
