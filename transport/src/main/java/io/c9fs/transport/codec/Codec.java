package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * Encoder and decoder of one 9P dialect: frames are size[4] type[1] tag[2] body, little-endian
 * (intro(5)). The base class holds the messages every dialect shares (version, auth, attach,
 * flush, walk, read, write, clunk, remove); {@link Plan9Codec} adds open/create/stat/wstat and
 * Rerror for 9P2000 and 9P2000.u, {@link LinuxCodec} the 9P2000.L set with Rlerror.
 *
 * <p>Decoding is strict: a frame must be exactly as long as its size field, every field inside
 * the frame, strings valid UTF-8, no trailing bytes, at most {@link Message#MAXWELEM} walk
 * elements; anything else is a {@link ProtocolException}. Twrite and Rread data are decoded as
 * retained slices of the frame (no copy); the caller releases the frame and, separately, the
 * message.
 *
 * <p>Instances are immutable and shared: any thread may use them at once.
 */
public abstract class Codec {
    private static final Codec P9P2000 = new Plan9Codec(false);
    private static final Codec P9P2000_U = new Plan9Codec(true);
    private static final Codec P9P2000_L = new LinuxCodec();
    private static final Codec P9P2000_L_C9 = new LeaseCodec();

    Codec() {
    }

    /** The codec of {@code dialect}. */
    public static Codec of(Dialect dialect) {
        switch (dialect) {
            case P9P2000: return P9P2000;
            case P9P2000_U: return P9P2000_U;
            case P9P2000_L: return P9P2000_L;
            case P9P2000_L_C9: return P9P2000_L_C9;
            default: throw new IllegalArgumentException("dialect " + dialect);
        }
    }

    public abstract Dialect dialect();

    /** True if {@code type} is a message of this dialect. */
    public abstract boolean carries(int type);

    /** Encodes the dialect-specific message {@code m}, or returns false if it is not one. */
    abstract boolean encodeOwn(Message m, ByteBuf out);

    /** Decodes the body of a dialect-specific message, or returns null if {@code type} is not one. */
    abstract Message decodeOwn(int type, WireReader r);

    /** True if Tauth/Tattach carry n_uname[4] (9P2000.u and 9P2000.L). */
    abstract boolean hasNUname();

    /**
     * Appends the whole frame of {@code fcall} to {@code out}, copying any payload. The message
     * stays the caller's (its payload is not released).
     *
     * @throws IllegalArgumentException if the message is not in this dialect or a field does not fit
     */
    public final void encode(Fcall fcall, ByteBuf out) {
        checkCarried(fcall.message());
        int start = out.writerIndex();
        try {
            ByteBuf payload = header(fcall, out);
            if (payload != null) {
                out.writeBytes(payload, payload.readerIndex(), payload.readableBytes());
            }
        } catch (RuntimeException e) {
            out.writerIndex(start);
            throw e;
        }
        out.setIntLE(start, out.writerIndex() - start);
    }

    /**
     * The whole frame of {@code fcall} as one buffer, taking over the message's payload: for
     * Twrite/Rread the returned buffer is a composite of the header and the payload itself (no
     * copy), and the caller must not release the message any more. On failure the payload is
     * released all the same, so a message handed to this method is always consumed.
     */
    public final ByteBuf encode(Fcall fcall, ByteBufAllocator alloc) {
        Message m = fcall.message();
        ByteBuf payload = payloadOf(m);
        ByteBuf head = null;
        boolean done = false;
        try {
            checkCarried(m);
            head = alloc.buffer(payload != null ? 32 : 64);
            header(fcall, head);
            if (payload == null) {
                head.setIntLE(0, head.readableBytes());
                done = true;
                return head;
            }
            head.setIntLE(0, head.readableBytes() + payload.readableBytes());
            CompositeByteBuf frame = alloc.compositeBuffer(2);
            frame.addComponents(true, head, payload);
            done = true;
            return frame;
        } finally {
            if (!done) {
                if (head != null) {
                    head.release();
                }
                m.release();
            }
        }
    }

    private void checkCarried(Message m) {
        if (!carries(m.type())) {
            throw new IllegalArgumentException(m.getClass().getSimpleName() + " is not a "
                    + dialect() + " message");
        }
    }

    private static ByteBuf payloadOf(Message m) {
        if (m instanceof Rread) {
            return ((Rread) m).data();
        }
        if (m instanceof Twrite) {
            return ((Twrite) m).data();
        }
        return null;
    }

    /** Writes size (placeholder), type, tag and every field; returns the payload left to append. */
    private ByteBuf header(Fcall fcall, ByteBuf out) {
        Message m = fcall.message();
        out.writeIntLE(0);
        out.writeByte(m.type());
        out.writeShortLE(fcall.tag());
        switch (m.type()) {
            case 116: {
                Tread t = (Tread) m;
                out.writeIntLE(t.fid()).writeLongLE(t.offset()).writeIntLE(t.count());
                return null;
            }
            case 117: {
                ByteBuf data = ((Rread) m).data();
                out.writeIntLE(data.readableBytes());
                return data;
            }
            case 118: {
                Twrite t = (Twrite) m;
                out.writeIntLE(t.fid()).writeLongLE(t.offset()).writeIntLE(t.data().readableBytes());
                return t.data();
            }
            case 119:
                out.writeIntLE(((Rwrite) m).count());
                return null;
            case 100: {
                Tversion t = (Tversion) m;
                out.writeIntLE(t.msize());
                WireWriter.string(out, t.version());
                return null;
            }
            case 101: {
                Rversion r = (Rversion) m;
                out.writeIntLE(r.msize());
                WireWriter.string(out, r.version());
                return null;
            }
            case 102: {
                Tauth t = (Tauth) m;
                out.writeIntLE(t.afid());
                WireWriter.string(out, t.uname());
                WireWriter.string(out, t.aname());
                if (hasNUname()) {
                    out.writeIntLE(t.nUname());
                }
                return null;
            }
            case 103:
                WireWriter.qid(out, ((Rauth) m).aqid());
                return null;
            case 104: {
                Tattach t = (Tattach) m;
                out.writeIntLE(t.fid()).writeIntLE(t.afid());
                WireWriter.string(out, t.uname());
                WireWriter.string(out, t.aname());
                if (hasNUname()) {
                    out.writeIntLE(t.nUname());
                }
                return null;
            }
            case 105:
                WireWriter.qid(out, ((Rattach) m).qid());
                return null;
            case 108:
                WireWriter.u16(out, ((Tflush) m).oldtag(), "oldtag");
                return null;
            case 109:
            case 121:
            case 123:
                return null;
            case 110: {
                Twalk t = (Twalk) m;
                if (t.wnames().size() > Message.MAXWELEM) {
                    throw new IllegalArgumentException("Twalk with " + t.wnames().size() + " names");
                }
                out.writeIntLE(t.fid()).writeIntLE(t.newfid()).writeShortLE(t.wnames().size());
                for (String name : t.wnames()) {
                    WireWriter.string(out, name);
                }
                return null;
            }
            case 111: {
                Rwalk r = (Rwalk) m;
                if (r.wqids().size() > Message.MAXWELEM) {
                    throw new IllegalArgumentException("Rwalk with " + r.wqids().size() + " qids");
                }
                out.writeShortLE(r.wqids().size());
                for (Qid q : r.wqids()) {
                    WireWriter.qid(out, q);
                }
                return null;
            }
            case 120:
                out.writeIntLE(((Tclunk) m).fid());
                return null;
            case 122:
                out.writeIntLE(((Tremove) m).fid());
                return null;
            default:
                if (!encodeOwn(m, out)) {
                    throw new IllegalArgumentException(m.getClass().getSimpleName() + " is not a "
                            + dialect() + " message");
                }
                return null;
        }
    }

    /**
     * Decodes one whole frame (size[4] included; exactly the frame's bytes readable). The frame
     * is not released; a Twrite/Rread result holds a retained slice of it.
     *
     * @throws ProtocolException if the frame breaks the rules of this dialect
     */
    public final Fcall decode(ByteBuf frame) {
        int length = frame.readableBytes();
        if (length < Message.HEADER) {
            throw new ProtocolException("frame of " + length + " bytes is shorter than the 7-byte header");
        }
        int size = frame.readIntLE();
        int type = frame.readUnsignedByte();
        int tag = frame.readUnsignedShortLE();
        if (size != length) {
            throw new ProtocolException("size field " + Integer.toUnsignedString(size)
                    + " disagrees with frame of " + length + " bytes", tag);
        }
        if (!carries(type)) {
            throw new ProtocolException(MessageTypes.isKnown(type)
                    ? "message type " + type + " (" + MessageTypes.name(type) + ") is not in " + dialect()
                    : "unknown message type " + type, tag);
        }
        WireReader r = new WireReader(frame, MessageTypes.name(type));
        Message m = null;
        try {
            m = decodeBody(type, r);
            r.end();
            return new Fcall(tag, m);
        } catch (ProtocolException e) {
            if (m != null) {
                m.release();
            }
            throw e.withTag(tag);
        }
    }

    private Message decodeBody(int type, WireReader r) {
        switch (type) {
            case 116:
                return new Tread(r.u32("fid"), r.u64("offset"), r.u32("count"));
            case 117: {
                int count = r.u32("count");
                return new Rread(r.payload(count, "data"));
            }
            case 118: {
                int fid = r.u32("fid");
                long offset = r.u64("offset");
                int count = r.u32("count");
                return new Twrite(fid, offset, r.payload(count, "data"));
            }
            case 119:
                return new Rwrite(r.u32("count"));
            case 100:
                return new Tversion(r.u32("msize"), r.string("version"));
            case 101:
                return new Rversion(r.u32("msize"), r.string("version"));
            case 102: {
                int afid = r.u32("afid");
                String uname = r.string("uname");
                String aname = r.string("aname");
                int nUname = hasNUname() ? r.u32("n_uname") : io.c9fs.transport.proto.Stat.NONUNAME;
                return new Tauth(afid, uname, aname, nUname);
            }
            case 103:
                return new Rauth(r.qid("aqid"));
            case 104: {
                int fid = r.u32("fid");
                int afid = r.u32("afid");
                String uname = r.string("uname");
                String aname = r.string("aname");
                int nUname = hasNUname() ? r.u32("n_uname") : io.c9fs.transport.proto.Stat.NONUNAME;
                return new Tattach(fid, afid, uname, aname, nUname);
            }
            case 105:
                return new Rattach(r.qid("qid"));
            case 108:
                return new Tflush(r.u16("oldtag"));
            case 109:
                return new Rflush();
            case 110: {
                int fid = r.u32("fid");
                int newfid = r.u32("newfid");
                int n = r.u16("nwname");
                if (n > Message.MAXWELEM) {
                    throw new ProtocolException("Twalk: " + n + " names, more than " + Message.MAXWELEM);
                }
                List<String> names = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    names.add(r.string("wname"));
                }
                return new Twalk(fid, newfid, names);
            }
            case 111: {
                int n = r.u16("nwqid");
                if (n > Message.MAXWELEM) {
                    throw new ProtocolException("Rwalk: " + n + " qids, more than " + Message.MAXWELEM);
                }
                List<Qid> qids = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    qids.add(r.qid("wqid"));
                }
                return new Rwalk(qids);
            }
            case 120:
                return new Tclunk(r.u32("fid"));
            case 121:
                return new Rclunk();
            case 122:
                return new Tremove(r.u32("fid"));
            case 123:
                return new Rremove();
            default: {
                Message m = decodeOwn(type, r);
                if (m == null) {
                    throw new ProtocolException("message type " + type + " is not in " + dialect());
                }
                return m;
            }
        }
    }
}
