package io.c9fs.mount;

import io.c9fs.fuse.FuseException;
import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Decodes what a 9P2000 or 9P2000.u server returns when a directory is read: whole stat
 * structures (stat(5)) back to back, each starting with its own size[2], little-endian, strings
 * as len[2] + UTF-8; 9P2000.u appends extension[s] n_uid[4] n_gid[4] n_muid[4].
 */
final class DirStats {
    private DirStats() {
    }

    /** Appends every stat in {@code data} to {@code out}; EIO if the data is not whole stats. */
    static void decode(ByteBuf data, boolean unix, List<Stat> out) throws FuseException {
        ByteBuf b = data.duplicate();
        while (b.isReadable()) {
            if (b.readableBytes() < 2) {
                throw garbled("truncated stat size");
            }
            int size = b.readUnsignedShortLE();
            if (b.readableBytes() < size) {
                throw garbled("stat of " + size + " bytes with " + b.readableBytes() + " left");
            }
            ByteBuf s = b.readSlice(size);
            try {
                int type = s.readUnsignedShortLE();
                int dev = s.readIntLE();
                Qid qid = new Qid(s.readUnsignedByte(), s.readIntLE(), s.readLongLE());
                int mode = s.readIntLE();
                int atime = s.readIntLE();
                int mtime = s.readIntLE();
                long length = s.readLongLE();
                String name = string(s);
                String uid = string(s);
                String gid = string(s);
                String muid = string(s);
                String extension = "";
                int nUid = Stat.NONUNAME;
                int nGid = Stat.NONUNAME;
                int nMuid = Stat.NONUNAME;
                if (unix && s.isReadable()) {
                    extension = string(s);
                    nUid = s.readIntLE();
                    nGid = s.readIntLE();
                    nMuid = s.readIntLE();
                }
                out.add(new Stat(type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid, extension,
                        nUid, nGid, nMuid));
            } catch (IndexOutOfBoundsException e) {
                throw garbled("stat fields overrun their size");
            }
        }
    }

    private static String string(ByteBuf s) {
        int n = s.readUnsignedShortLE();
        return s.readCharSequence(n, StandardCharsets.UTF_8).toString();
    }

    private static FuseException garbled(String why) {
        return new FuseException(Errno.EIO, "garbled directory read: " + why);
    }
}
