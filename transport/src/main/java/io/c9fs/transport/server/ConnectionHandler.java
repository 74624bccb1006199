package io.c9fs.transport.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.codec.FrameDecoder;
import io.c9fs.transport.codec.ProtocolException;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The server side of one connection after framing: decodes frames with the connection's codec,
 * negotiates Tversion (version(5)) and passes every later request to the {@link NinepHandler}.
 * A request before Tversion or a frame that does not decode ends the connection, after an error
 * reply when the tag could be read: a peer that breaks framing cannot be trusted to stay in step.
 *
 * <p>Runs on the channel's event loop only.
 */
final class ConnectionHandler extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(ConnectionHandler.class.getName());
    /** Below this, not even a Tgetattr reply fits with room for data; Linux itself refuses < 4096. */
    static final int MIN_MSIZE = 256;
    static final String UNKNOWN = "unknown";

    private final FrameDecoder frames;
    private final int maxMsize;
    private final List<Dialect> dialects;
    private final NinepHandler handler;
    private final NinepServer.Traffic traffic;
    private ServerConnection conn;
    private boolean closing;
    private ChannelHandlerContext ctx;
    /**
     * Frames decoded while reading is paused: one socket read holds thousands of small requests,
     * and handing them all over would make the in-flight limit a suggestion. They wait here (raw,
     * a few bytes each, at most what one read brought) and go on in order when reading resumes.
     */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();
    private boolean dispatching;

    ConnectionHandler(FrameDecoder frames, int maxMsize, List<Dialect> dialects, NinepHandler handler,
                      NinepServer.Traffic traffic) {
        this.traffic = traffic;
        this.frames = frames;
        this.maxMsize = maxMsize;
        this.dialects = dialects;
        this.handler = handler;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        conn = new ServerConnection(ctx.channel(), maxMsize, traffic);
        conn.onResume(this::drainHeld);
        ctx.fireChannelActive();
    }

    /** Tcallback and Trecalled: no work for the queue, and what waiting requests wait for. */
    private boolean isRecallChannel(ByteBuf frame) {
        if (conn.dialect() == null || !conn.dialect().hasLeases() || frame.readableBytes() < 5) {
            return false;
        }
        int type = frame.getUnsignedByte(frame.readerIndex() + 4);
        return type == 202 || type == 204;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf frame = (ByteBuf) msg;
        traffic.in.add(frame.readableBytes());
        if (closing) {
            frame.release();
            return;
        }
        if (isRecallChannel(frame) && !dispatching) {
            dispatch(frame);
            return;
        }
        held.add(frame);
        drainHeld();
    }

    /**
     * Hands over held frames, in order, until reading is paused again. Not while a frame is being
     * handed over: a Tversion resets the session before the new dialect is set, and frames after
     * it must not run in between; the caller drains once it returns.
     */
    private void drainHeld() {
        while (!dispatching && !held.isEmpty() && !conn.paused() && !closing) {
            dispatch(held.poll());
        }
        if (closing) {
            while (!held.isEmpty()) {
                held.poll().release();
            }
        }
    }

    private void dispatch(ByteBuf frame) {
        dispatching = true;
        try {
            process(ctx, frame);
        } finally {
            dispatching = false;
        }
    }

    private void process(ChannelHandlerContext ctx, ByteBuf frame) {
        if (closing) {
            frame.release();
            return;
        }
        Fcall fcall;
        try {
            fcall = conn.codec().decode(frame);
        } catch (ProtocolException e) {
            protocolError(ctx, e);
            return;
        } finally {
            frame.release();
        }
        Message m = fcall.message();
        if (m instanceof Message.Tversion) {
            version(fcall.tag(), (Message.Tversion) m);
        } else if (conn.dialect() == null) {
            m.release();
            protocolError(ctx, new ProtocolException(m.getClass().getSimpleName()
                    + " before a successful Tversion", fcall.tag()));
        } else {
            if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
                LOG.log(System.Logger.Level.DEBUG, "9p <- " + conn.remote() + " " + fcall);
            }
            handler.request(conn, fcall);
        }
    }

    private void version(int tag, Message.Tversion t) {
        if (conn.dialect() != null) {
            // A goodbye (or a client restarting its session): the channel is still active,
            // which is how the handler tells it from a connection that vanished.
            handler.reset(conn);
        }
        long proposed = Integer.toUnsignedLong(t.msize());
        int msize = (int) Math.min(proposed, maxMsize);
        if (msize < MIN_MSIZE) {
            conn.reply(tag, new Message.Rversion(msize, UNKNOWN));
            return;
        }
        Dialect d = choose(t.version());
        if (d == null) {
            conn.reply(tag, new Message.Rversion(msize, UNKNOWN));
            return;
        }
        conn.versioned(d, msize);
        frames.msize(msize);
        conn.reply(tag, new Message.Rversion(msize, d.version()));
    }

    /**
     * The proposed version if offered, else the longest offered prefix of it that ends before a
     * '.' ("9P2000.L.c9" falls back to "9P2000.L", then "9P2000"): version(5) lets a server strip
     * a suffix it does not know and answer the version it speaks.
     */
    private Dialect choose(String proposed) {
        String v = proposed;
        while (true) {
            Dialect d = Dialect.of(v);
            if (d != null && dialects.contains(d)) {
                return d;
            }
            int dot = v.lastIndexOf('.');
            if (dot <= 0) {
                return null;
            }
            v = v.substring(0, dot);
        }
    }

    private void protocolError(ChannelHandlerContext ctx, ProtocolException e) {
        LOG.log(System.Logger.Level.WARNING, "9P protocol error from " + conn.remote() + ": "
                + e.getMessage() + "; closing");
        closing = true;
        if (e.tag() >= 0) {
            conn.error(e.tag(), conn.dialect() == null ? Errno.EPROTO : Errno.EBADMSG);
        }
        ctx.channel().writeAndFlush(ctx.alloc().buffer(0)).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Backpressure: a client that sends requests faster than it reads the replies stops being
     * read until the replies drain (Netty's write-buffer water marks), so replies cannot pile up
     * in memory without bound.
     */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        conn.writability(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        while (!held.isEmpty()) {
            held.poll().release();
        }
        if (conn != null) {
            handler.reset(conn);
            handler.disconnected(conn);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof ProtocolException) {
            if (!closing) {
                protocolError(ctx, (ProtocolException) c);
            }
        } else if (c instanceof IOException) {
            LOG.log(System.Logger.Level.DEBUG, "connection " + conn.remote() + ": " + c);
            ctx.close();
        } else {
            LOG.log(System.Logger.Level.ERROR, "connection " + conn.remote() + " failed", c);
            ctx.close();
        }
    }
}
