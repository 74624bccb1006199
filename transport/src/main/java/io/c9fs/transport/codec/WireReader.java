package io.c9fs.transport.codec;

import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Bounds-checked little-endian field reads from one frame. Every read checks the bytes present
 * first, so a length taken from the peer never sizes an allocation beyond the frame itself.
 * Not thread-safe; one per decode call.
 */
final class WireReader {
    private static final ThreadLocal<CharsetDecoder> UTF8 = ThreadLocal.withInitial(() ->
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT));

    private final ByteBuf buf;
    private final String what;

    WireReader(ByteBuf buf, String what) {
        this.buf = buf;
        this.what = what;
    }

    private void need(int n, String field) {
        if (buf.readableBytes() < n) {
            throw new ProtocolException(what + ": truncated at " + field + " (need " + n
                    + " bytes, have " + buf.readableBytes() + ")");
        }
    }

    int u8(String field) {
        need(1, field);
        return buf.readUnsignedByte();
    }

    int u16(String field) {
        need(2, field);
        return buf.readUnsignedShortLE();
    }

    int u32(String field) {
        need(4, field);
        return buf.readIntLE();
    }

    long u64(String field) {
        need(8, field);
        return buf.readLongLE();
    }

    Qid qid(String field) {
        need(Qid.SIZE, field);
        int type = buf.readUnsignedByte();
        int version = buf.readIntLE();
        long path = buf.readLongLE();
        return new Qid(type, version, path);
    }

    /** s[2]: length then UTF-8 bytes; malformed sequences are rejected, not replaced. */
    String string(String field) {
        int len = u16(field);
        need(len, field);
        int start = buf.readerIndex();
        boolean ascii = true;
        for (int i = 0; i < len; i++) {
            if (buf.getByte(start + i) < 0) {
                ascii = false;
                break;
            }
        }
        String s;
        if (ascii) {
            s = buf.toString(start, len, StandardCharsets.US_ASCII);
        } else {
            ByteBuffer bytes = buf.nioBuffer(start, len);
            try {
                CharBuffer chars = UTF8.get().reset().decode(bytes);
                s = chars.toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolException(what + ": " + field + " is not valid UTF-8");
            }
        }
        buf.skipBytes(len);
        return s;
    }

    /** A retained slice of the next {@code count} bytes: payloads travel without copying. */
    ByteBuf payload(int count, String field) {
        if (count < 0) {
            throw new ProtocolException(what + ": " + field + " count " + Integer.toUnsignedString(count)
                    + " exceeds the frame");
        }
        need(count, field);
        return buf.readRetainedSlice(count);
    }

    int remaining() {
        return buf.readableBytes();
    }

    void end() {
        if (buf.isReadable()) {
            throw new ProtocolException(what + ": " + buf.readableBytes() + " trailing bytes");
        }
    }
}
