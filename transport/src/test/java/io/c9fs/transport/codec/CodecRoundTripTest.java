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
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** Every message survives encode/decode in every dialect that carries it, by both encoders. */
class CodecRoundTripTest {

    static void roundTrip(Codec codec, Fcall f) {
        ByteBuf copy = Unpooled.buffer();
        codec.encode(f, copy);
        Fcall back = codec.decode(copy.duplicate());
        assertEquals(f, back);
        back.message().release();
        // The zero-copy encoder consumes the payload: hand it a retained reference.
        Message m = f.message();
        if (m instanceof Message.Rread) {
            ((Message.Rread) m).data().retain();
        } else if (m instanceof Message.Twrite) {
            ((Message.Twrite) m).data().retain();
        }
        ByteBuf wire = codec.encode(f, ByteBufAllocator.DEFAULT);
        assertEquals(copy, wire, "both encoders agree on the bytes");
        Fcall back2 = codec.decode(wire);
        assertEquals(f, back2);
        back2.message().release();
        wire.release();
        copy.release();
    }

    @Property(tries = 3000)
    void everyMessageRoundTrips(@ForAll @LongRange(min = 0, max = 1L << 40) long seed) {
        Random r = new Random(seed);
        for (Dialect d : Dialect.values()) {
            Fcall f = RandomMessages.fcall(d, r);
            try {
                roundTrip(Codec.of(d), f);
            } finally {
                f.message().release();
            }
        }
    }

    /** Not left to chance: every type of every dialect, 20 random instances each. */
    @Test
    void everyTypeOfEveryDialect() {
        Random r = new Random(42);
        for (Dialect d : Dialect.values()) {
            for (Class<? extends Message> t : RandomMessages.typesOf(d)) {
                for (int i = 0; i < 20; i++) {
                    Fcall f = new Fcall(r.nextInt(0x10000), RandomMessages.of(t, d, r));
                    try {
                        roundTrip(Codec.of(d), f);
                    } finally {
                        f.message().release();
                    }
                }
            }
        }
    }

    @Test
    void dialectsCarryTheRightMessages() {
        Set<String> plain = names(Dialect.P9P2000);
        Set<String> unix = names(Dialect.P9P2000_U);
        Set<String> linux = names(Dialect.P9P2000_L);
        assertEquals(plain, unix);
        assertEquals(28 - 1, plain.size(), plain.toString()); // Tversion..Rwstat without Terror
        assertTrue(plain.containsAll(List.of("Rerror", "Topen", "Tcreate", "Tstat", "Twstat")));
        assertTrue(linux.containsAll(List.of("Rlerror", "Tlopen", "Tgetattr", "Treaddir", "Tlock",
                "Trenameat", "Tunlinkat", "Txattrwalk", "Tattach", "Twalk", "Tread", "Twrite", "Tflush")));
        for (String absent : List.of("Rerror", "Topen", "Tcreate", "Tstat", "Rstat", "Twstat")) {
            assertFalse(linux.contains(absent), absent + " is not 9P2000.L");
        }
        assertEquals(28 - 1 - 10 + 40, linux.size(), linux.toString());
        Set<String> leases = names(Dialect.P9P2000_L_C9);
        assertTrue(leases.containsAll(linux));
        assertEquals(Set.of("Tlease", "Rlease", "Tcallback", "Rcallback", "Trecalled", "Rrecalled",
                        "Treaddirattr", "Rreaddirattr", "Tlcreateattr", "Rlcreateattr", "Tclient", "Rclient", "Tunlist", "Runlist"),
                leases.stream().filter(n -> !linux.contains(n)).collect(Collectors.toSet()));
    }

    private static Set<String> names(Dialect d) {
        return RandomMessages.typesOf(d).stream().map(Class::getSimpleName).collect(Collectors.toSet());
    }

    @Test
    void encodingAMessageOutsideTheDialectFails() {
        Codec linux = Codec.of(Dialect.P9P2000_L);
        ByteBuf out = Unpooled.buffer();
        assertThrows(IllegalArgumentException.class, () -> linux.encode(new Fcall(1, new Message.Tstat(3)), out));
        assertEquals(0, out.writerIndex(), "nothing written");
        ByteBuf data = Unpooled.buffer().writeZero(10);
        assertThrows(IllegalArgumentException.class, () -> Codec.of(Dialect.P9P2000).encode(
                new Fcall(1, new Message.Rlerror(2)), ByteBufAllocator.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> Codec.of(Dialect.P9P2000).encode(
                new Fcall(1, new Message.Twalk(1, 2, java.util.Collections.nCopies(17, "x"))), out));
        data.release();
        out.release();
    }

    @Test
    void zeroCopyEncoderTakesOverThePayload() {
        ByteBuf data = Unpooled.directBuffer(100).writeZero(100);
        ByteBuf wire = Codec.of(Dialect.P9P2000_L).encode(new Fcall(9, new Message.Twrite(1, 0, data)),
                ByteBufAllocator.DEFAULT);
        assertEquals(1, data.refCnt(), "the payload is part of the frame, not copied");
        assertEquals(7 + 4 + 8 + 4 + 100, wire.readableBytes());
        wire.release();
        assertEquals(0, data.refCnt(), "released with the frame");
    }

    @Test
    void decodedPayloadIsASliceOfTheFrame() {
        ByteBuf frame = Unpooled.buffer();
        ByteBuf data = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});
        Codec.of(Dialect.P9P2000_L).encode(new Fcall(1, new Message.Rread(data)), frame);
        Message.Rread r = (Message.Rread) Codec.of(Dialect.P9P2000_L).decode(frame).message();
        assertEquals(2, frame.refCnt(), "the payload retains the frame instead of copying");
        frame.setByte(frame.writerIndex() - 1, 9);
        assertEquals(9, r.data().getByte(2));
        r.release();
        assertEquals(1, frame.refCnt());
        frame.release();
    }
}
