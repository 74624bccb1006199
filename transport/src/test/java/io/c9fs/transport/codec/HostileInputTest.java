package io.c9fs.transport.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.testing.RandomMessages;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Random and mutated frames: the decoder either decodes or throws {@link ProtocolException},
 * never anything else, never leaks the frame, never buffers beyond msize.
 */
class HostileInputTest {

    static ByteBuf frame(String hex) {
        return Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex.replace(" ", "")));
    }

    static ProtocolException rejects(Dialect d, String hex) {
        ByteBuf f = frame(hex);
        ProtocolException e = assertThrows(ProtocolException.class, () -> Codec.of(d).decode(f));
        assertEquals(1, f.refCnt());
        return e;
    }

    /** Decodes or throws ProtocolException; either way the frame keeps exactly its reference. */
    static void survive(Codec codec, ByteBuf frame) {
        try {
            Fcall f = codec.decode(frame);
            f.message().release();
        } catch (ProtocolException expected) {
            // fine: hostile input is refused
        }
        assertEquals(1, frame.refCnt(), "frame reference leaked by decode");
    }

    @Test
    void namedViolations() {
        ProtocolException e = rejects(Dialect.P9P2000_L, "0b000000 07 0300 020000");
        assertTrue(e.getMessage().contains("disagrees"), e.getMessage());
        assertTrue(rejects(Dialect.P9P2000_L, "0700000063 0100").getMessage().contains("unknown message type 99"));
        ProtocolException notL = rejects(Dialect.P9P2000_L, "0b000000 7c 0400 01000000");
        assertTrue(notL.getMessage().contains("not in 9P2000.L"), notL.getMessage());
        assertEquals(4, notL.tag());
        assertTrue(rejects(Dialect.P9P2000, "0b000000 07 0300 02000000").getMessage().contains("not in 9P2000"));
        // Rread whose count claims more than the frame holds
        assertTrue(rejects(Dialect.P9P2000_L, "0e000000 75 0100 ffffff7f 4142 00").getMessage().contains("data"));
        // Rread count shorter than the data: trailing bytes
        assertTrue(rejects(Dialect.P9P2000_L, "0e000000 75 0100 02000000 414243").getMessage().contains("trailing"));
        // Twalk with 17 names
        StringBuilder walk = new StringBuilder("00000000 6e 0100 01000000 02000000 1100");
        for (int i = 0; i < 17; i++) {
            walk.append(" 0100 61");
        }
        String w = walk.toString().replace(" ", "");
        int size = w.length() / 2;
        w = String.format("%02x%02x0000", size & 0xff, size >> 8) + w.substring(8);
        assertTrue(rejects(Dialect.P9P2000, w).getMessage().contains("17 names"));
        // Rwalk with 17 qids: refused on the count, before reading them
        assertTrue(rejects(Dialect.P9P2000_L, "09000000 6f 0100 1100").getMessage().contains("17 qids"));
        // string longer than the frame
        assertTrue(rejects(Dialect.P9P2000_L, "0b000000 17 0100 ff00 6162").getMessage().contains("truncated"));
        // malformed UTF-8: overlong '/' (c0 af), lone continuation byte, CESU surrogate
        for (String bad : new String[] {"c0af", "80", "eda080"}) {
            int n = bad.length() / 2;
            String hex = String.format("%02x000000 17 0100 %02x00 %s", 9 + n, n, bad);
            assertTrue(rejects(Dialect.P9P2000_L, hex).getMessage().contains("UTF-8"), bad);
        }
        // stat whose size disagrees with its count
        assertTrue(rejects(Dialect.P9P2000, "0b000000 7d 0100 0200 0500").getMessage().contains("stat"));
        // frame shorter than a header
        assertThrows(ProtocolException.class, () -> Codec.of(Dialect.P9P2000).decode(frame("050000006401")));
    }

    @Property(tries = 2000)
    void randomBytesNeverEscapeAsOtherExceptions(@ForAll @LongRange(min = 0, max = 1L << 40) long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[r.nextInt(80)];
        r.nextBytes(b);
        if (b.length >= 5) {
            if (r.nextBoolean()) {
                b[0] = (byte) b.length; b[1] = 0; b[2] = 0; b[3] = 0;  // plausible size
            }
            if (r.nextBoolean()) {
                int[] known = {7, 8, 12, 14, 24, 25, 40, 41, 52, 100, 101, 104, 107, 110, 111, 116, 117, 118, 125, 126};
                b[4] = (byte) known[r.nextInt(known.length)];
            }
        }
        for (Dialect d : Dialect.values()) {
            survive(Codec.of(d), Unpooled.wrappedBuffer(b));
        }
    }

    @Property(tries = 3000)
    void mutatedValidFramesNeverEscape(@ForAll @LongRange(min = 0, max = 1L << 40) long seed) {
        Random r = new Random(seed);
        Dialect d = Dialect.values()[r.nextInt(3)];
        Fcall f = RandomMessages.fcall(d, r);
        ByteBuf out = Unpooled.buffer();
        Codec.of(d).encode(f, out);
        f.message().release();
        byte[] b = ByteBufUtil.getBytes(out);
        out.release();
        int mutations = 1 + r.nextInt(4);
        for (int i = 0; i < mutations; i++) {
            switch (r.nextInt(4)) {
                case 0: // flip a byte
                    b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
                    break;
                case 1: // truncate
                    b = java.util.Arrays.copyOf(b, r.nextInt(b.length + 1));
                    break;
                case 2: // extend with garbage
                    int old = b.length;
                    b = java.util.Arrays.copyOf(b, old + 1 + r.nextInt(20));
                    for (int j = old; j < b.length; j++) {
                        b[j] = (byte) r.nextInt();
                    }
                    break;
                default: // make size agree again, so the body parser is what gets tested
                    if (b.length >= 4) {
                        b[0] = (byte) b.length; b[1] = (byte) (b.length >> 8); b[2] = 0; b[3] = 0;
                    }
            }
            if (b.length == 0) {
                break;
            }
        }
        survive(Codec.of(Dialect.values()[r.nextInt(3)]), Unpooled.wrappedBuffer(b));
    }

    @Test
    void frameDecoderRefusesOversizeBeforeBuffering() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(8192));
        // Only the 4 size bytes (announcing 2 GiB) are sent: refused at once, nothing waited for.
        DecoderException e = assertThrows(DecoderException.class,
                () -> ch.writeInbound(frame("ffffff7f")));
        assertTrue(e.getCause() instanceof ProtocolException, e.toString());
        assertEquals(-1, ((ProtocolException) e.getCause()).tag());
        // Whatever follows is discarded, not framed.
        ch.writeInbound(frame("0b000000 07 0300 02000000"));
        assertTrue(ch.inboundMessages().isEmpty());
        assertFalse(ch.finish());
    }

    @Test
    void frameDecoderReportsTagOfOversizeFrameAndRejectsTinySize() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(8192));
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(frame("01200000 74 3412")));
        assertEquals(0x1234, ((ProtocolException) e.getCause()).tag());
        EmbeddedChannel ch2 = new EmbeddedChannel(new FrameDecoder(8192));
        assertThrows(DecoderException.class, () -> ch2.writeInbound(frame("06000000 74 3412")));
        ch.finishAndReleaseAll();
        ch2.finishAndReleaseAll();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void frameDecoderCutsRandomStreamsIntoBoundedFrames() {
        Random r = new Random(1);
        for (int round = 0; round < 300; round++) {
            int msize = 64 + r.nextInt(4096);
            EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(msize));
            // a stream of valid frames of random sizes, possibly ending in garbage, in random chunks
            ByteBuf stream = Unpooled.buffer();
            int frames = 0;
            while (stream.readableBytes() < 20000) {
                int size = 7 + r.nextInt(msize - 6);
                stream.writeIntLE(size).writeByte(116).writeShortLE(frames++);
                stream.writeZero(size - 7);
            }
            if (r.nextBoolean()) {
                byte[] junk = new byte[r.nextInt(64)];
                r.nextBytes(junk);
                stream.writeBytes(junk);
            }
            int seen = 0;
            boolean failed = false;
            while (stream.isReadable() && !failed) {
                ByteBuf chunk = stream.readRetainedSlice(Math.min(stream.readableBytes(), 1 + r.nextInt(3000)));
                try {
                    ch.writeInbound(chunk);
                } catch (DecoderException e) {
                    assertTrue(e.getCause() instanceof ProtocolException, e.toString());
                    failed = true;
                }
                for (Object o; (o = ch.readInbound()) != null; ) {
                    ByteBuf f = (ByteBuf) o;
                    assertTrue(f.readableBytes() >= 7 && f.readableBytes() <= msize);
                    assertEquals(f.readableBytes(), f.getIntLE(f.readerIndex()));
                    if (seen < frames) {
                        assertEquals(seen, f.getUnsignedShortLE(f.readerIndex() + 5), "frames in order, none lost");
                    }
                    seen++;
                    f.release();
                }
            }
            assertTrue(seen >= frames, "all " + frames + " valid frames came out, got " + seen);
            stream.release();
            ch.finishAndReleaseAll();
        }
    }
}
