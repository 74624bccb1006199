package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.nio.charset.StandardCharsets;

/** Little-endian 9P field writes. Stateless helpers; safe from any thread. */
final class WireWriter {
    private WireWriter() {
    }

    static void qid(ByteBuf out, Qid q) {
        out.writeByte(q.type());
        out.writeIntLE(q.version());
        out.writeLongLE(q.path());
    }

    /** s[2]; a string whose UTF-8 form exceeds 65535 bytes cannot be a 9P string. */
    static void string(ByteBuf out, String s) {
        int len = ByteBufUtil.utf8Bytes(s);
        if (len > 0xFFFF) {
            throw new IllegalArgumentException("9P string longer than 65535 bytes: " + len);
        }
        out.writeShortLE(len);
        if (len == s.length()) {
            out.writeCharSequence(s, StandardCharsets.US_ASCII);
        } else {
            ByteBufUtil.reserveAndWriteUtf8(out, s, len);
        }
    }

    static void u16(ByteBuf out, int v, String field) {
        if ((v & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(field + " is 16 bits: " + v);
        }
        out.writeShortLE(v);
    }

    static void u8(ByteBuf out, int v, String field) {
        if ((v & ~0xFF) != 0) {
            throw new IllegalArgumentException(field + " is 8 bits: " + v);
        }
        out.writeByte(v);
    }
}
