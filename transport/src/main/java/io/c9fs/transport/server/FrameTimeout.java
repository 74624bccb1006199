package io.c9fs.transport.server;

import io.c9fs.transport.codec.FrameDecoder;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection that stopped in the middle of a frame: part of a frame is buffered and no
 * byte came for the timeout. A peer that sends half a request and goes quiet is either gone or
 * hostile; either way the request can never be answered and the partial frame (up to msize)
 * would stay buffered for the life of the connection. Silence between frames is fine (an idle
 * client), and so is silence while this side stopped reading (backpressure: the bytes are
 * waiting in the socket, not late).
 *
 * <p>Runs on the channel's event loop only.
 */
final class FrameTimeout extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(FrameTimeout.class.getName());

    private final FrameDecoder frames;
    private final long timeoutNanos;
    private long lastRead;
    private ScheduledFuture<?> check;

    FrameTimeout(FrameDecoder frames, Duration timeout) {
        this.frames = frames;
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastRead = System.nanoTime();
        if (check == null && frames.partial()) {
            schedule(ctx, timeoutNanos);
        }
        ctx.fireChannelReadComplete();
    }

    private void schedule(ChannelHandlerContext ctx, long delayNanos) {
        check = ctx.executor().schedule(() -> check(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }

    private void check(ChannelHandlerContext ctx) {
        check = null;
        if (!ctx.channel().isActive() || !frames.partial()) {
            return;
        }
        long now = System.nanoTime();
        if (!ctx.channel().config().isAutoRead()) {
            // Not reading is this side's doing: the clock starts again when reading does.
            lastRead = now;
        }
        long idle = now - lastRead;
        if (idle >= timeoutNanos) {
            LOG.log(System.Logger.Level.WARNING, "closing " + ctx.channel().remoteAddress()
                    + ": stalled mid-frame for " + TimeUnit.NANOSECONDS.toMillis(idle) + " ms");
            ctx.close();
            return;
        }
        schedule(ctx, timeoutNanos - idle);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
        ctx.fireChannelInactive();
    }
}
