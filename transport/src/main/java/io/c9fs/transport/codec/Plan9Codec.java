package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;

/**
 * 9P2000 (intro(5)..wstat(5)) and, with {@code unix}, 9P2000.u: the latter adds n_uname to
 * Tauth/Tattach (handled by {@link Codec}), extension[s] to Tcreate, errno[4] to Rerror and
 * extension[s] n_uid[4] n_gid[4] n_muid[4] to the stat structure.
 */
final class Plan9Codec extends Codec {
    private final boolean unix;

    Plan9Codec(boolean unix) {
        this.unix = unix;
    }

    @Override
    public Dialect dialect() {
        return unix ? Dialect.P9P2000_U : Dialect.P9P2000;
    }

    @Override
    public boolean carries(int type) {
        return MessageTypes.isCommon(type) || type == 107 || (type >= 112 && type <= 115)
                || (type >= 124 && type <= 127);
    }

    @Override
    boolean hasNUname() {
        return unix;
    }

    @Override
    boolean encodeOwn(Message m, ByteBuf out) {
        switch (m.type()) {
            case 107: {
                Rerror r = (Rerror) m;
                WireWriter.string(out, r.ename());
                if (unix) {
                    out.writeIntLE(r.errno());
                }
                return true;
            }
            case 112: {
                Topen t = (Topen) m;
                out.writeIntLE(t.fid());
                WireWriter.u8(out, t.mode(), "mode");
                return true;
            }
            case 113: {
                Ropen r = (Ropen) m;
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.iounit());
                return true;
            }
            case 114: {
                Tcreate t = (Tcreate) m;
                out.writeIntLE(t.fid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.perm());
                WireWriter.u8(out, t.mode(), "mode");
                if (unix) {
                    WireWriter.string(out, t.extension());
                }
                return true;
            }
            case 115: {
                Rcreate r = (Rcreate) m;
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.iounit());
                return true;
            }
            case 124:
                out.writeIntLE(((Tstat) m).fid());
                return true;
            case 125:
                statWithCount(out, ((Rstat) m).stat());
                return true;
            case 126: {
                Twstat t = (Twstat) m;
                out.writeIntLE(t.fid());
                statWithCount(out, t.stat());
                return true;
            }
            case 127:
                return true;
            default:
                return false;
        }
    }

    /** n[2] then the stat, which begins with its own size[2] = n - 2 (stat(5)). */
    private void statWithCount(ByteBuf out, Stat s) {
        int nAt = out.writerIndex();
        out.writeShortLE(0);
        out.writeShortLE(0);
        WireWriter.u16(out, s.type(), "stat type");
        out.writeIntLE(s.dev());
        WireWriter.qid(out, s.qid());
        out.writeIntLE(s.mode()).writeIntLE(s.atime()).writeIntLE(s.mtime()).writeLongLE(s.length());
        WireWriter.string(out, s.name());
        WireWriter.string(out, s.uid());
        WireWriter.string(out, s.gid());
        WireWriter.string(out, s.muid());
        if (unix) {
            WireWriter.string(out, s.extension());
            out.writeIntLE(s.nUid()).writeIntLE(s.nGid()).writeIntLE(s.nMuid());
        }
        int n = out.writerIndex() - nAt - 2;
        if (n > 0xFFFF) {
            throw new IllegalArgumentException("stat of " + n + " bytes does not fit n[2]");
        }
        out.setShortLE(nAt, n);
        out.setShortLE(nAt + 2, n - 2);
    }

    private Stat statWithCount(WireReader r) {
        int n = r.u16("stat n");
        int size = r.u16("stat size");
        if (size != n - 2) {
            throw new ProtocolException("stat size " + size + " disagrees with count " + n);
        }
        if (r.remaining() < size) {
            throw new ProtocolException("stat of " + size + " bytes exceeds the frame");
        }
        int before = r.remaining();
        int type = r.u16("stat type");
        int dev = r.u32("dev");
        var qid = r.qid("qid");
        int mode = r.u32("mode");
        int atime = r.u32("atime");
        int mtime = r.u32("mtime");
        long length = r.u64("length");
        String name = r.string("name");
        String uid = r.string("uid");
        String gid = r.string("gid");
        String muid = r.string("muid");
        String extension = "";
        int nUid = Stat.NONUNAME;
        int nGid = Stat.NONUNAME;
        int nMuid = Stat.NONUNAME;
        if (unix) {
            extension = r.string("extension");
            nUid = r.u32("n_uid");
            nGid = r.u32("n_gid");
            nMuid = r.u32("n_muid");
        }
        if (before - r.remaining() != size) {
            throw new ProtocolException("stat fields take " + (before - r.remaining())
                    + " bytes, size says " + size);
        }
        return new Stat(type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid,
                extension, nUid, nGid, nMuid);
    }

    @Override
    Message decodeOwn(int type, WireReader r) {
        switch (type) {
            case 107: {
                String ename = r.string("ename");
                return new Rerror(ename, unix ? r.u32("errno") : 0);
            }
            case 112:
                return new Topen(r.u32("fid"), r.u8("mode"));
            case 113:
                return new Ropen(r.qid("qid"), r.u32("iounit"));
            case 114: {
                int fid = r.u32("fid");
                String name = r.string("name");
                int perm = r.u32("perm");
                int mode = r.u8("mode");
                return new Tcreate(fid, name, perm, mode, unix ? r.string("extension") : "");
            }
            case 115:
                return new Rcreate(r.qid("qid"), r.u32("iounit"));
            case 124:
                return new Tstat(r.u32("fid"));
            case 125:
                return new Rstat(statWithCount(r));
            case 126: {
                int fid = r.u32("fid");
                return new Twstat(fid, statWithCount(r));
            }
            case 127:
                return new Rwstat();
            default:
                return null;
        }
    }
}
