package io.c9fs.server;

import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Writes a {@link Stat} in the stat(5) wire form into a buffer: the payload of a 9P2000
 * directory read, which is a byte stream of such records rather than a message of its own.
 */
final class StatEncoder {
    private StatEncoder() {
    }

    /** Bytes {@code st} takes, its own size[2] field included. */
    static int size(Stat st, boolean dotu) {
        int n = 2 + 2 + 4 + Qid.SIZE + 4 + 4 + 4 + 8
                + str(st.name()) + str(st.uid()) + str(st.gid()) + str(st.muid());
        if (dotu) {
            n += str(st.extension()) + 12;
        }
        return n;
    }

    static void encode(Stat st, boolean dotu, ByteBuf out) {
        out.writeShortLE(size(st, dotu) - 2);
        out.writeShortLE(st.type());
        out.writeIntLE(st.dev());
        out.writeByte(st.qid().type());
        out.writeIntLE(st.qid().version());
        out.writeLongLE(st.qid().path());
        out.writeIntLE(st.mode());
        out.writeIntLE(st.atime());
        out.writeIntLE(st.mtime());
        out.writeLongLE(st.length());
        string(out, st.name());
        string(out, st.uid());
        string(out, st.gid());
        string(out, st.muid());
        if (dotu) {
            string(out, st.extension());
            out.writeIntLE(st.nUid());
            out.writeIntLE(st.nGid());
            out.writeIntLE(st.nMuid());
        }
    }

    private static int str(String s) {
        return 2 + s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static void string(ByteBuf out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeShortLE(b.length);
        out.writeBytes(b);
    }
}
