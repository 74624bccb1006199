package io.c9fs.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message.Rstat;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;

/** The stat records of 9P2000 directory reads decode, with the transport's codec, to what was encoded. */
class StatEncoderTest {
    @Property(tries = 300)
    void encodedStatsDecodeToThemselves(@ForAll boolean dotu, @ForAll @IntRange(min = 0, max = 255) int qtype,
                                        @ForAll int version, @ForAll long path, @ForAll int mode,
                                        @ForAll int atime, @ForAll int mtime, @ForAll long length,
                                        @ForAll @StringLength(max = 40) String name,
                                        @ForAll @StringLength(max = 12) String uid,
                                        @ForAll @StringLength(max = 30) String ext,
                                        @ForAll int nUid) {
        Stat st = new Stat(0, 0, new Qid(qtype, version, path), mode, atime, mtime, length, name,
                uid, "g", "", dotu ? ext : "", dotu ? nUid : Stat.NONUNAME,
                dotu ? 7 : Stat.NONUNAME, Stat.NONUNAME);
        ByteBuf rec = Unpooled.buffer();
        StatEncoder.encode(st, dotu, rec);
        assertEquals(StatEncoder.size(st, dotu), rec.readableBytes());
        ByteBuf frame = Unpooled.buffer().writeIntLE(4 + 1 + 2 + 2 + rec.readableBytes())
                .writeByte(125).writeShortLE(1).writeShortLE(rec.readableBytes()).writeBytes(rec);
        Dialect d = dotu ? Dialect.P9P2000_U : Dialect.P9P2000;
        assertEquals(st, ((Rstat) Codec.of(d).decode(frame).message()).stat());
    }
}
