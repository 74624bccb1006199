package io.c9fs.transport.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Encodings checked byte by byte against the layouts of the manual (intro(5), version(5),
 * walk(5), error(5); the 9P2000.u and 9P2000.L descriptions), written out by hand:
 * size[4] type[1] tag[2] fields, all little-endian, strings as len[2] + UTF-8.
 */
class WireBytesTest {

    static void check(Dialect d, Fcall f, String hex) {
        String expect = hex.replace(" ", "").replace("|", "");
        ByteBuf out = Unpooled.buffer();
        Codec.of(d).encode(f, out);
        assertEquals(expect, ByteBufUtil.hexDump(out), f.toString());
        assertEquals(f, Codec.of(d).decode(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(expect))));
        out.release();
    }

    @Test
    void tversion() {
        // size 19 | type 100 | tag NOTAG | msize 8192 | "9P2000"
        check(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P2000")),
                "13000000 | 64 | ffff | 00200000 | 0600 395032303030");
    }

    @Test
    void twalk() {
        // size 27 | 110 | tag 1 | fid 1 | newfid 2 | nwname 2 | "usr" | "bin"
        check(Dialect.P9P2000, new Fcall(1, new Twalk(1, 2, List.of("usr", "bin"))),
                "1b000000 | 6e | 0100 | 01000000 | 02000000 | 0200 | 0300 757372 | 0300 62696e");
    }

    @Test
    void rerrorOfUnixExtension() {
        // size 32 | 107 | tag 5 | "file does not exist" (19 bytes) | errno 2
        check(Dialect.P9P2000_U, new Fcall(5, new Rerror("file does not exist", 2)),
                "20000000 | 6b | 0500 | 1300 66696c6520646f6573206e6f74206578697374 | 02000000");
    }

    @Test
    void rerrorOfPlain9P2000HasNoErrno() {
        check(Dialect.P9P2000, new Fcall(5, new Rerror("permission denied", 0)),
                "1a000000 | 6b | 0500 | 1100 7065726d697373696f6e2064656e696564");
    }

    @Test
    void rlerror() {
        check(Dialect.P9P2000_L, new Fcall(3, new Rlerror(2)), "0b000000 | 07 | 0300 | 02000000");
    }

    @Test
    void tread() {
        // size 23 | 116 | tag 0x0102 | fid 7 | offset 0x0102030405060708 | count 4096
        check(Dialect.P9P2000_L, new Fcall(0x0102, new Tread(7, 0x0102030405060708L, 4096)),
                "17000000 | 74 | 0201 | 07000000 | 0807060504030201 | 00100000");
    }

    @Test
    void tattachOfLinuxCarriesNUname() {
        // size 29 | 104 | tag 1 | fid 0 | afid NOFID | "root" | "/x" | n_uname 0
        check(Dialect.P9P2000_L, new Fcall(1, new Tattach(0, Message.NOFID, "root", "/x", 0)),
                "1d000000 | 68 | 0100 | 00000000 | ffffffff | 0400 726f6f74 | 0200 2f78 | 00000000");
    }

    @Test
    void rwalkWithOneQid() {
        // size 22 | 111 | tag 1 | nwqid 1 | qid type 0x80 version 1 path 0x10
        check(Dialect.P9P2000_L, new Fcall(1, new Rwalk(List.of(new Qid(Qid.QTDIR, 1, 0x10)))),
                "16000000 | 6f | 0100 | 0100 | 80 01000000 1000000000000000");
    }

    @Test
    void tgetattr() {
        check(Dialect.P9P2000_L, new Fcall(1, new Tgetattr(1, 0x7ffL)),
                "13000000 | 18 | 0100 | 01000000 | ff07000000000000");
    }
}
