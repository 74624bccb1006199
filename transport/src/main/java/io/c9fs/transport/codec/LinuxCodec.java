package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * 9P2000.L as Linux v9fs and diod speak it: the shared messages plus Rlerror and the Linux
 * operations. Tattach/Tauth carry n_uname. There is no Rerror, Topen, Tcreate, Tstat or Twstat:
 * .L replaces them with Rlerror, Tlopen, Tlcreate, Tgetattr and Tsetattr.
 *
 * <p>Tfsync is encoded as fid[4] datasync[4] (Linux since 2.6.38); a bare fid[4] from an older
 * peer decodes with datasync 0, the one place the decoder accepts two lengths.
 */
final class LinuxCodec extends Codec {

    @Override
    public Dialect dialect() {
        return Dialect.P9P2000_L;
    }

    @Override
    public boolean carries(int type) {
        return MessageTypes.isCommon(type) || (type >= 7 && type <= 77 && MessageTypes.isKnown(type));
    }

    @Override
    boolean hasNUname() {
        return true;
    }

    @Override
    boolean encodeOwn(Message m, ByteBuf out) {
        switch (m.type()) {
            case 7:
                out.writeIntLE(((Rlerror) m).ecode());
                return true;
            case 8:
                out.writeIntLE(((Tstatfs) m).fid());
                return true;
            case 9: {
                Rstatfs r = (Rstatfs) m;
                out.writeIntLE(r.fsType()).writeIntLE(r.bsize()).writeLongLE(r.blocks())
                        .writeLongLE(r.bfree()).writeLongLE(r.bavail()).writeLongLE(r.files())
                        .writeLongLE(r.ffree()).writeLongLE(r.fsid()).writeIntLE(r.namelen());
                return true;
            }
            case 12: {
                Tlopen t = (Tlopen) m;
                out.writeIntLE(t.fid()).writeIntLE(t.flags());
                return true;
            }
            case 13: {
                Rlopen r = (Rlopen) m;
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.iounit());
                return true;
            }
            case 14: {
                Tlcreate t = (Tlcreate) m;
                out.writeIntLE(t.fid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.flags()).writeIntLE(t.mode()).writeIntLE(t.gid());
                return true;
            }
            case 15: {
                Rlcreate r = (Rlcreate) m;
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.iounit());
                return true;
            }
            case 16: {
                Tsymlink t = (Tsymlink) m;
                out.writeIntLE(t.fid());
                WireWriter.string(out, t.name());
                WireWriter.string(out, t.symtgt());
                out.writeIntLE(t.gid());
                return true;
            }
            case 17:
                WireWriter.qid(out, ((Rsymlink) m).qid());
                return true;
            case 18: {
                Tmknod t = (Tmknod) m;
                out.writeIntLE(t.dfid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.mode()).writeIntLE(t.major()).writeIntLE(t.minor()).writeIntLE(t.gid());
                return true;
            }
            case 19:
                WireWriter.qid(out, ((Rmknod) m).qid());
                return true;
            case 20: {
                Trename t = (Trename) m;
                out.writeIntLE(t.fid()).writeIntLE(t.dfid());
                WireWriter.string(out, t.name());
                return true;
            }
            case 22:
                out.writeIntLE(((Treadlink) m).fid());
                return true;
            case 23:
                WireWriter.string(out, ((Rreadlink) m).target());
                return true;
            case 24: {
                Tgetattr t = (Tgetattr) m;
                out.writeIntLE(t.fid()).writeLongLE(t.requestMask());
                return true;
            }
            case 25: {
                Rgetattr r = (Rgetattr) m;
                out.writeLongLE(r.valid());
                WireWriter.qid(out, r.qid());
                out.writeIntLE(r.mode()).writeIntLE(r.uid()).writeIntLE(r.gid())
                        .writeLongLE(r.nlink()).writeLongLE(r.rdev()).writeLongLE(r.size())
                        .writeLongLE(r.blksize()).writeLongLE(r.blocks())
                        .writeLongLE(r.atimeSec()).writeLongLE(r.atimeNsec())
                        .writeLongLE(r.mtimeSec()).writeLongLE(r.mtimeNsec())
                        .writeLongLE(r.ctimeSec()).writeLongLE(r.ctimeNsec())
                        .writeLongLE(r.btimeSec()).writeLongLE(r.btimeNsec())
                        .writeLongLE(r.gen()).writeLongLE(r.dataVersion());
                return true;
            }
            case 26: {
                Tsetattr t = (Tsetattr) m;
                out.writeIntLE(t.fid()).writeIntLE(t.valid()).writeIntLE(t.mode()).writeIntLE(t.uid())
                        .writeIntLE(t.gid()).writeLongLE(t.size()).writeLongLE(t.atimeSec())
                        .writeLongLE(t.atimeNsec()).writeLongLE(t.mtimeSec()).writeLongLE(t.mtimeNsec());
                return true;
            }
            case 30: {
                Txattrwalk t = (Txattrwalk) m;
                out.writeIntLE(t.fid()).writeIntLE(t.newfid());
                WireWriter.string(out, t.name());
                return true;
            }
            case 31:
                out.writeLongLE(((Rxattrwalk) m).size());
                return true;
            case 32: {
                Txattrcreate t = (Txattrcreate) m;
                out.writeIntLE(t.fid());
                WireWriter.string(out, t.name());
                out.writeLongLE(t.attrSize()).writeIntLE(t.flags());
                return true;
            }
            case 40: {
                Treaddir t = (Treaddir) m;
                out.writeIntLE(t.fid()).writeLongLE(t.offset()).writeIntLE(t.count());
                return true;
            }
            case 41: {
                int countAt = out.writerIndex();
                out.writeIntLE(0);
                for (Dirent d : ((Rreaddir) m).entries()) {
                    WireWriter.qid(out, d.qid());
                    out.writeLongLE(d.offset());
                    WireWriter.u8(out, d.type(), "dirent type");
                    WireWriter.string(out, d.name());
                }
                out.setIntLE(countAt, out.writerIndex() - countAt - 4);
                return true;
            }
            case 50: {
                Tfsync t = (Tfsync) m;
                out.writeIntLE(t.fid()).writeIntLE(t.datasync());
                return true;
            }
            case 52: {
                Tlock t = (Tlock) m;
                out.writeIntLE(t.fid());
                WireWriter.u8(out, t.lockType(), "lock type");
                out.writeIntLE(t.flags()).writeLongLE(t.start()).writeLongLE(t.length()).writeIntLE(t.procId());
                WireWriter.string(out, t.clientId());
                return true;
            }
            case 53:
                WireWriter.u8(out, ((Rlock) m).status(), "lock status");
                return true;
            case 54: {
                Tgetlock t = (Tgetlock) m;
                out.writeIntLE(t.fid());
                WireWriter.u8(out, t.lockType(), "lock type");
                out.writeLongLE(t.start()).writeLongLE(t.length()).writeIntLE(t.procId());
                WireWriter.string(out, t.clientId());
                return true;
            }
            case 55: {
                Rgetlock r = (Rgetlock) m;
                WireWriter.u8(out, r.lockType(), "lock type");
                out.writeLongLE(r.start()).writeLongLE(r.length()).writeIntLE(r.procId());
                WireWriter.string(out, r.clientId());
                return true;
            }
            case 70: {
                Tlink t = (Tlink) m;
                out.writeIntLE(t.dfid()).writeIntLE(t.fid());
                WireWriter.string(out, t.name());
                return true;
            }
            case 72: {
                Tmkdir t = (Tmkdir) m;
                out.writeIntLE(t.dfid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.mode()).writeIntLE(t.gid());
                return true;
            }
            case 73:
                WireWriter.qid(out, ((Rmkdir) m).qid());
                return true;
            case 74: {
                Trenameat t = (Trenameat) m;
                out.writeIntLE(t.olddirfid());
                WireWriter.string(out, t.oldname());
                out.writeIntLE(t.newdirfid());
                WireWriter.string(out, t.newname());
                return true;
            }
            case 76: {
                Tunlinkat t = (Tunlinkat) m;
                out.writeIntLE(t.dirfid());
                WireWriter.string(out, t.name());
                out.writeIntLE(t.flags());
                return true;
            }
            case 21: case 27: case 33: case 51: case 71: case 75: case 77:
                return true;
            default:
                return false;
        }
    }

    @Override
    Message decodeOwn(int type, WireReader r) {
        switch (type) {
            case 7:
                return new Rlerror(r.u32("ecode"));
            case 8:
                return new Tstatfs(r.u32("fid"));
            case 9:
                return new Rstatfs(r.u32("type"), r.u32("bsize"), r.u64("blocks"), r.u64("bfree"),
                        r.u64("bavail"), r.u64("files"), r.u64("ffree"), r.u64("fsid"), r.u32("namelen"));
            case 12:
                return new Tlopen(r.u32("fid"), r.u32("flags"));
            case 13:
                return new Rlopen(r.qid("qid"), r.u32("iounit"));
            case 14:
                return new Tlcreate(r.u32("fid"), r.string("name"), r.u32("flags"), r.u32("mode"), r.u32("gid"));
            case 15:
                return new Rlcreate(r.qid("qid"), r.u32("iounit"));
            case 16:
                return new Tsymlink(r.u32("fid"), r.string("name"), r.string("symtgt"), r.u32("gid"));
            case 17:
                return new Rsymlink(r.qid("qid"));
            case 18:
                return new Tmknod(r.u32("dfid"), r.string("name"), r.u32("mode"), r.u32("major"),
                        r.u32("minor"), r.u32("gid"));
            case 19:
                return new Rmknod(r.qid("qid"));
            case 20:
                return new Trename(r.u32("fid"), r.u32("dfid"), r.string("name"));
            case 21:
                return new Rrename();
            case 22:
                return new Treadlink(r.u32("fid"));
            case 23:
                return new Rreadlink(r.string("target"));
            case 24:
                return new Tgetattr(r.u32("fid"), r.u64("request_mask"));
            case 25:
                return new Rgetattr(r.u64("valid"), r.qid("qid"), r.u32("mode"), r.u32("uid"),
                        r.u32("gid"), r.u64("nlink"), r.u64("rdev"), r.u64("size"), r.u64("blksize"),
                        r.u64("blocks"), r.u64("atime_sec"), r.u64("atime_nsec"), r.u64("mtime_sec"),
                        r.u64("mtime_nsec"), r.u64("ctime_sec"), r.u64("ctime_nsec"), r.u64("btime_sec"),
                        r.u64("btime_nsec"), r.u64("gen"), r.u64("data_version"));
            case 26:
                return new Tsetattr(r.u32("fid"), r.u32("valid"), r.u32("mode"), r.u32("uid"),
                        r.u32("gid"), r.u64("size"), r.u64("atime_sec"), r.u64("atime_nsec"),
                        r.u64("mtime_sec"), r.u64("mtime_nsec"));
            case 27:
                return new Rsetattr();
            case 30:
                return new Txattrwalk(r.u32("fid"), r.u32("newfid"), r.string("name"));
            case 31:
                return new Rxattrwalk(r.u64("size"));
            case 32:
                return new Txattrcreate(r.u32("fid"), r.string("name"), r.u64("attr_size"), r.u32("flags"));
            case 33:
                return new Rxattrcreate();
            case 40:
                return new Treaddir(r.u32("fid"), r.u64("offset"), r.u32("count"));
            case 41:
                return readdir(r);
            case 50: {
                int fid = r.u32("fid");
                return new Tfsync(fid, r.remaining() == 0 ? 0 : r.u32("datasync"));
            }
            case 51:
                return new Rfsync();
            case 52:
                return new Tlock(r.u32("fid"), r.u8("type"), r.u32("flags"), r.u64("start"),
                        r.u64("length"), r.u32("proc_id"), r.string("client_id"));
            case 53:
                return new Rlock(r.u8("status"));
            case 54:
                return new Tgetlock(r.u32("fid"), r.u8("type"), r.u64("start"), r.u64("length"),
                        r.u32("proc_id"), r.string("client_id"));
            case 55:
                return new Rgetlock(r.u8("type"), r.u64("start"), r.u64("length"), r.u32("proc_id"),
                        r.string("client_id"));
            case 70:
                return new Tlink(r.u32("dfid"), r.u32("fid"), r.string("name"));
            case 71:
                return new Rlink();
            case 72:
                return new Tmkdir(r.u32("dfid"), r.string("name"), r.u32("mode"), r.u32("gid"));
            case 73:
                return new Rmkdir(r.qid("qid"));
            case 74:
                return new Trenameat(r.u32("olddirfid"), r.string("oldname"), r.u32("newdirfid"),
                        r.string("newname"));
            case 75:
                return new Rrenameat();
            case 76:
                return new Tunlinkat(r.u32("dirfid"), r.string("name"), r.u32("flags"));
            case 77:
                return new Runlinkat();
            default:
                return null;
        }
    }

    /** count[4] then exactly count bytes of qid[13] offset[8] type[1] name[s] entries. */
    private static Rreaddir readdir(WireReader r) {
        int count = r.u32("count");
        if (count < 0 || count != r.remaining()) {
            throw new ProtocolException("Rreaddir: count " + Integer.toUnsignedString(count)
                    + " disagrees with " + r.remaining() + " data bytes");
        }
        List<Dirent> entries = new ArrayList<>();
        while (r.remaining() > 0) {
            entries.add(new Dirent(r.qid("qid"), r.u64("offset"), r.u8("type"), r.string("name")));
        }
        return new Rreaddir(entries);
    }
}
