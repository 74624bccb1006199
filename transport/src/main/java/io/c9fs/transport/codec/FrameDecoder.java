package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Message;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Cuts the byte stream into whole 9P frames, each passed on as a retained slice (size[4]
 * included). The size field is checked against the bounds 7..msize as soon as its four bytes
 * are in, BEFORE anything is buffered for the frame: a peer cannot make this side hold more than
 * msize bytes by announcing a large size. A bad size raises {@link ProtocolException} (tag
 * attached if the header is present) and everything after it is discarded, since the stream has
 * lost its framing.
 *
 * <p>Runs on the channel's event loop. {@link #msize(int)} may be called from any thread; it is
 * called once Tversion/Rversion fixed the session's msize.
 */
public final class FrameDecoder extends ByteToMessageDecoder {
    private volatile int msize;
    private boolean broken;

    public FrameDecoder(int msize) {
        msize(msize);
        // Frames of up to msize (1 MiB) arrive in many socket reads; merging them into one
        // buffer would copy each read again every time the cumulation grows. Composing the
        // reads keeps the payload where the socket put it.
        setCumulator(COMPOSITE_CUMULATOR);
    }

    /** Sets the largest frame accepted from now on. */
    public void msize(int msize) {
        if (msize < Message.HEADER) {
            throw new IllegalArgumentException("msize " + msize);
        }
        this.msize = msize;
    }

    public int msize() {
        return msize;
    }

    /** True while part of a frame is buffered, waiting for the rest. On the event loop. */
    public boolean partial() {
        return !broken && internalBuffer().isReadable();
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (broken) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (in.readableBytes() < 4) {
            return;
        }
        long size = in.getUnsignedIntLE(in.readerIndex());
        if (size < Message.HEADER || size > msize) {
            int tag = in.readableBytes() >= Message.HEADER ? in.getUnsignedShortLE(in.readerIndex() + 5) : -1;
            broken = true;
            in.skipBytes(in.readableBytes());
            throw new ProtocolException("frame size " + size + " outside 7.." + msize, tag);
        }
        if (in.readableBytes() < size) {
            return;
        }
        out.add(in.readRetainedSlice((int) size));
    }
}
