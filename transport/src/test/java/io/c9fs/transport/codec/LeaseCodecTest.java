package io.c9fs.transport.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The 9P2000.L.c9 messages: bytes as docs/protocol.md lays them out, and only on that dialect. */
class LeaseCodecTest {
    private static final Codec C9 = Codec.of(Dialect.P9P2000_L_C9);

    private static String hex(Fcall f) {
        ByteBuf out = Unpooled.buffer();
        C9.encode(f, out);
        String h = ByteBufUtil.hexDump(out);
        out.release();
        return h;
    }

    @Test
    void tleaseBytes() {
        // size[4]=12 type[1]=200 tag[2]=5 fid[4]=7 mode[1]=2
        assertEquals("0c000000" + "c8" + "0500" + "07000000" + "02",
                hex(new Fcall(5, new Message.Tlease(7, Message.LEASE_WRITE))));
    }

    @Test
    void rleaseBytes() {
        // size 7+1+8+4+13 = 33: mode[1] epoch[8] term[4] qid[13]
        assertEquals("21000000" + "c9" + "0500" + "01" + "0200000001000000" + "10270000"
                        + "00" + "03000000" + "2a00000000000000",
                hex(new Fcall(5, new Message.Rlease(1, (1L << 32) | 2, 10_000, new Qid(0, 3, 42)))));
    }

    @Test
    void rcallbackBytes() {
        // term[4] nrecall[2] then id[8] kind[1] path[8] offset[8] length[8] name[s]
        Message.Recall entry = new Message.Recall(9, Message.Recall.ENTRY, 100, 0, 0, "a");
        assertEquals("31000000" + "cb" + "0100" + "10270000" + "0100"
                        + "0900000000000000" + "03" + "6400000000000000" + "0000000000000000"
                        + "0000000000000000" + "0100" + "61",
                hex(new Fcall(1, new Message.Rcallback(10_000, List.of(entry)))));
    }

    @Test
    void tclientAndRclientBytes() {
        // size[4]=23 type[1]=210 tag[2]=5 token[16] (two little-endian 64-bit halves)
        assertEquals("17000000" + "d2" + "0500" + "0807060504030201" + "100f0e0d0c0b0a09",
                hex(new Fcall(5, new Message.Tclient(0x0102030405060708L, 0x090a0b0c0d0e0f10L))));
        // size[4]=11 type[1]=211 tag[2]=5 settled[4]=1
        assertEquals("0b000000" + "d3" + "0500" + "01000000", hex(new Fcall(5, new Message.Rclient(1))));
    }

    @Test
    void leaseMessagesAreNotPlain9P2000L() {
        ByteBuf f = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump("0c000000c8050007000000" + "02"));
        ProtocolException e = assertThrows(ProtocolException.class, () -> Codec.of(Dialect.P9P2000_L).decode(f));
        assertTrue(e.getMessage().contains("200") || e.getMessage().contains("Tlease"), e.getMessage());
        f.release();
    }

    @Test
    void aRecallCountLargerThanTheFrameIsRefusedBeforeAllocating() {
        // Rcallback claiming 65535 recalls in a frame with none.
        ByteBuf f = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump("0d000000cb0100" + "10270000" + "ffff"));
        ProtocolException e = assertThrows(ProtocolException.class, () -> C9.decode(f));
        assertTrue(e.getMessage().contains("65535"), e.getMessage());
        f.release();
    }

    private static Message.Rgetattr attrs(Qid q, int mode, long size) {
        return new Message.Rgetattr(Message.Rgetattr.BASIC, q, mode, 1000, 100, 1, 0, size, 4096, 8,
                1, 2, 3, 4, 5, 6, 0, 0, 0, 0);
    }

    @Test
    void treaddirattrBytes() {
        // fid[4] offset[8] count[4], as Treaddir
        assertEquals("17000000" + "ce" + "0300" + "07000000" + "0500000000000000" + "00800000",
                hex(new Fcall(3, new Message.Treaddirattr(7, 5, 32768))));
    }

    @Test
    void rreaddirattrRoundTripsWithTheDocumentedEntrySize() {
        Qid a = new Qid(0, 0, 42);
        Qid d = new Qid(Qid.QTDIR, 0, 43);
        List<Message.AttrDirent> entries = List.of(
                new Message.AttrDirent(new io.c9fs.transport.proto.Dirent(a, 1, 8, "a.txt"), 0,
                        attrs(new Qid(0, 77, 42), 0100644, 12345)),
                new Message.AttrDirent(new io.c9fs.transport.proto.Dirent(d, 2, 4, "sub"),
                        Message.AttrDirent.HAS_ACL_ACCESS | Message.AttrDirent.HAS_ACL_DEFAULT,
                        attrs(new Qid(Qid.QTDIR, 9, 43), 040755, 4096)));
        ByteBuf out = Unpooled.buffer();
        C9.encode(new Fcall(4, new Message.Rreaddirattr(entries)), out);
        // size[4] type[1] tag[2] count[4], then per entry 178 fixed bytes plus the name
        int data = (Message.AttrDirent.FIXED + 5) + (Message.AttrDirent.FIXED + 3);
        assertEquals(178, Message.AttrDirent.FIXED);
        assertEquals(4 + 1 + 2 + 4 + data, out.readableBytes());
        assertEquals(data, out.getIntLE(7));
        assertEquals(207, out.getUnsignedByte(4));
        Fcall back = C9.decode(out);
        assertEquals(4, back.tag());
        assertEquals(new Message.Rreaddirattr(entries), back.message());
        out.release();
    }

    @Test
    void tlcreateattrBytes() {
        // dfid[4] fid[4] nodefid[4] name[s] flags[4] mode[4] gid[4]
        assertEquals("22000000" + "d0" + "0300" + "01000000" + "0a000000" + "0b000000" + "0100" + "66"
                        + "c1000000" + "a4010000" + "e8030000",
                hex(new Fcall(3, new Message.Tlcreateattr(1, 10, 11, "f", 0301, 0644, 1000))));
    }

    @Test
    void rlcreateattrRoundTripsWithTheDocumentedSize() {
        Qid q = new Qid(0, 7, 42);
        Message.Rlcreateattr r = new Message.Rlcreateattr(q, 8192, attrs(q, 0100644, 0));
        ByteBuf out = Unpooled.buffer();
        C9.encode(new Fcall(4, r), out);
        // size[4] type[1] tag[2] qid[13] iounit[4] attr[153]
        assertEquals(4 + 1 + 2 + 13 + 4 + 153, out.readableBytes());
        assertEquals(209, out.getUnsignedByte(4));
        Fcall back = C9.decode(out);
        assertEquals(r, back.message());
        out.release();
    }

    @Test
    void tunlistBytes() {
        // nfile[2] then path[8] count[4] each
        assertEquals("21000000" + "d4" + "0500" + "0200" + "2a00000000000000" + "01000000"
                        + "2b00000000000000" + "03000000",
                hex(new Fcall(5, new Message.Tunlist(List.of(new Message.Unlist(42, 1), new Message.Unlist(43, 3))))));
    }

    @Test
    void lcreateattrIsNotPlain9P2000L() {
        assertFalse(Codec.of(Dialect.P9P2000_L).carries(208));
        assertFalse(Codec.of(Dialect.P9P2000_L).carries(209));
        assertFalse(Codec.of(Dialect.P9P2000_L).carries(212));
    }

    @Test
    void rreaddirattrWithACountOtherThanItsBytesIsRefused() {
        ByteBuf out = Unpooled.buffer();
        C9.encode(new Fcall(4, new Message.Rreaddirattr(List.of())), out);
        out.setIntLE(7, 1);
        assertThrows(ProtocolException.class, () -> C9.decode(out));
        out.release();
    }

    @Test
    void readdirattrIsNotPlain9P2000L() {
        ByteBuf f = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(
                "17000000" + "ce" + "0300" + "07000000" + "0500000000000000" + "00800000"));
        assertThrows(ProtocolException.class, () -> Codec.of(Dialect.P9P2000_L).decode(f));
        f.release();
    }
}
