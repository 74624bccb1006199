package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message.Rcallback;
import io.c9fs.transport.proto.Message.Rgetattr;
import io.c9fs.transport.proto.Message.Rclient;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.proto.Message.Rlease;
import io.c9fs.transport.proto.Message.Rrecalled;
import io.c9fs.transport.proto.Message.Tcallback;
import io.c9fs.transport.proto.Message.Tclient;
import io.c9fs.transport.proto.Message.Tlease;
import io.c9fs.transport.proto.Message.Trecalled;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * 9P2000.L.c9: every message of 9P2000.L, plus the lease messages of docs/protocol.md (types
 * 200..205), Treaddirattr/Rreaddirattr (206, 207), Tlcreateattr/Rlcreateattr (208, 209), the client identity (210, 211) and Tunlist/Runlist (212, 213). Only a
 * connection whose Tversion agreed on "9P2000.L.c9" uses this codec, so a plain 9P2000.L peer
 * never sees these types.
 */
final class LeaseCodec extends Codec {
    /** A recall's fixed fields: id[8] kind[1] path[8] offset[8] length[8] name-length[2]. */
    private static final int RECALL_MIN = 8 + 1 + 8 + 8 + 8 + 2;

    private final LinuxCodec linux = new LinuxCodec();

    @Override
    public Dialect dialect() {
        return Dialect.P9P2000_L_C9;
    }

    @Override
    public boolean carries(int type) {
        return linux.carries(type) || (type >= 200 && type <= 213);
    }

    @Override
    boolean hasNUname() {
        return true;
    }

    @Override
    boolean encodeOwn(Message m, ByteBuf out) {
        switch (m.type()) {
            case 200: {
                Tlease t = (Tlease) m;
                out.writeIntLE(t.fid());
                WireWriter.u8(out, t.mode(), "lease mode");
                return true;
            }
            case 201: {
                Rlease r = (Rlease) m;
                WireWriter.u8(out, r.mode(), "lease mode");
                out.writeLongLE(r.epoch()).writeIntLE(r.termMs());
                WireWriter.qid(out, r.qid());
                return true;
            }
            case 202:
            case 205:
                return true;
            case 203: {
                Rcallback r = (Rcallback) m;
                out.writeIntLE(r.termMs());
                if (r.recalls().size() > 0xFFFF) {
                    throw new IllegalArgumentException("more than 65535 recalls in one Rcallback");
                }
                out.writeShortLE(r.recalls().size());
                for (Recall c : r.recalls()) {
                    out.writeLongLE(c.id());
                    WireWriter.u8(out, c.kind(), "recall kind");
                    out.writeLongLE(c.path()).writeLongLE(c.offset()).writeLongLE(c.length());
                    WireWriter.string(out, c.name());
                }
                return true;
            }
            case 204:
                out.writeLongLE(((Trecalled) m).id());
                return true;
            case 206: {
                Message.Treaddirattr t = (Message.Treaddirattr) m;
                out.writeIntLE(t.fid()).writeLongLE(t.offset()).writeIntLE(t.count());
                return true;
            }
            case 207: {
                int countAt = out.writerIndex();
                out.writeIntLE(0);
                for (Message.AttrDirent e : ((Message.Rreaddirattr) m).entries()) {
                    Dirent d = e.dirent();
                    WireWriter.qid(out, d.qid());
                    out.writeLongLE(d.offset());
                    WireWriter.u8(out, d.type(), "dirent type");
                    WireWriter.string(out, d.name());
                    WireWriter.u8(out, e.flags(), "dirent flags");
                    attr(out, e.attr());
                }
                out.setIntLE(countAt, out.writerIndex() - countAt - 4);
                return true;
            }
            case 208: {
                Message.Tlcreateattr t = (Message.Tlcreateattr) m;
                out.writeIntLE(t.dfid()).writeIntLE(t.fid()).writeIntLE(t.nodefid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.flags()).writeIntLE(t.mode()).writeIntLE(t.gid());
                return true;
            }
            case 209: {
                Message.Rlcreateattr r = (Message.Rlcreateattr) m;
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.iounit());
                attr(out, r.attr());
                return true;
            }
            case 210: {
                Tclient t = (Tclient) m;
                out.writeLongLE(t.tokenHi()).writeLongLE(t.tokenLo());
                return true;
            }
            case 211:
                out.writeIntLE(((Rclient) m).settled());
                return true;
            case 212: {
                List<Message.Unlist> es = ((Message.Tunlist) m).entries();
                if (es.size() > 0xFFFF) {
                    throw new IllegalArgumentException("more than 65535 files in one Tunlist");
                }
                out.writeShortLE(es.size());
                for (Message.Unlist u : es) {
                    out.writeLongLE(u.path()).writeIntLE(u.count());
                }
                return true;
            }
            case 213:
                return true;
            default:
                return linux.encodeOwn(m, out);
        }
    }

    @Override
    Message decodeOwn(int type, WireReader r) {
        switch (type) {
            case 200:
                return new Tlease(r.u32("fid"), r.u8("mode"));
            case 201:
                return new Rlease(r.u8("mode"), r.u64("epoch"), r.u32("term"), r.qid("qid"));
            case 202:
                return new Tcallback();
            case 203: {
                int term = r.u32("term");
                int n = r.u16("nrecall");
                // Checked against the bytes present before the list is sized by the peer's count.
                if ((long) n * RECALL_MIN > r.remaining()) {
                    throw new ProtocolException("Rcallback: " + n + " recalls cannot fit in "
                            + r.remaining() + " bytes");
                }
                List<Recall> recalls = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    recalls.add(new Recall(r.u64("id"), r.u8("kind"), r.u64("path"), r.u64("offset"),
                            r.u64("length"), r.string("name")));
                }
                return new Rcallback(term, recalls);
            }
            case 204:
                return new Trecalled(r.u64("id"));
            case 205:
                return new Rrecalled();
            case 206:
                return new Message.Treaddirattr(r.u32("fid"), r.u64("offset"), r.u32("count"));
            case 207:
                return readdirattr(r);
            case 208:
                return new Message.Tlcreateattr(r.u32("dfid"), r.u32("fid"), r.u32("nodefid"), r.string("name"),
                        r.u32("flags"), r.u32("mode"), r.u32("gid"));
            case 209:
                return new Message.Rlcreateattr(r.qid("qid"), r.u32("iounit"), attr(r));
            case 210:
                return new Tclient(r.u64("token"), r.u64("token"));
            case 211:
                return new Rclient(r.u32("settled"));
            case 212: {
                int n = r.u16("nfile");
                if ((long) n * Message.Unlist.SIZE > r.remaining()) {
                    throw new ProtocolException("Tunlist: " + n + " files cannot fit in " + r.remaining() + " bytes");
                }
                List<Message.Unlist> es = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    es.add(new Message.Unlist(r.u64("path"), r.u32("count")));
                }
                return new Message.Tunlist(es);
            }
            case 213:
                return new Message.Runlist();
            default:
                return linux.decodeOwn(type, r);
        }
    }

    /** count[4] then exactly count bytes of entries (docs/protocol.md, "Treaddirattr"). */
    private static Message.Rreaddirattr readdirattr(WireReader r) {
        int count = r.u32("count");
        if (count < 0 || count != r.remaining()) {
            throw new ProtocolException("Rreaddirattr: count " + Integer.toUnsignedString(count)
                    + " disagrees with " + r.remaining() + " data bytes");
        }
        List<Message.AttrDirent> entries = new ArrayList<>();
        while (r.remaining() > 0) {
            Dirent d = new Dirent(r.qid("qid"), r.u64("offset"), r.u8("type"), r.string("name"));
            int flags = r.u8("flags");
            entries.add(new Message.AttrDirent(d, flags, attr(r)));
        }
        return new Message.Rreaddirattr(entries);
    }

    /** The body of an Rgetattr (valid..data_version), as Rreaddirattr and Rlcreateattr carry it. */
    private static Rgetattr attr(WireReader r) {
        return new Rgetattr(r.u64("valid"), r.qid("qid"), r.u32("mode"), r.u32("uid"),
                r.u32("gid"), r.u64("nlink"), r.u64("rdev"), r.u64("size"), r.u64("blksize"),
                r.u64("blocks"), r.u64("atime_sec"), r.u64("atime_nsec"), r.u64("mtime_sec"),
                r.u64("mtime_nsec"), r.u64("ctime_sec"), r.u64("ctime_nsec"), r.u64("btime_sec"),
                r.u64("btime_nsec"), r.u64("gen"), r.u64("data_version"));
    }

    private static void attr(ByteBuf out, Rgetattr a) {
        out.writeLongLE(a.valid());
        WireWriter.qid(out, a.qid());
        out.writeIntLE(a.mode()).writeIntLE(a.uid()).writeIntLE(a.gid())
                .writeLongLE(a.nlink()).writeLongLE(a.rdev()).writeLongLE(a.size())
                .writeLongLE(a.blksize()).writeLongLE(a.blocks())
                .writeLongLE(a.atimeSec()).writeLongLE(a.atimeNsec())
                .writeLongLE(a.mtimeSec()).writeLongLE(a.mtimeNsec())
                .writeLongLE(a.ctimeSec()).writeLongLE(a.ctimeNsec())
                .writeLongLE(a.btimeSec()).writeLongLE(a.btimeNsec())
                .writeLongLE(a.gen()).writeLongLE(a.dataVersion());
    }
}
