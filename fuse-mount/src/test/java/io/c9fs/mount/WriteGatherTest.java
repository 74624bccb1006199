package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Qid;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** WriteGather with a recording sender: what it sends, when, and which WRITEs each send completes. */
class WriteGatherTest {
    record Sent(OpenHandle h, long offset, byte[] data, List<CompletableFuture<Void>> dones) {
    }

    private final List<Sent> sent = new ArrayList<>();
    private final Node node = new Node(2, new Qid(0, 0, 7), 5, 1, "f", 0);
    private final OpenHandle h = new OpenHandle(1, node, 6, 16);
    private final OpenHandle other = new OpenHandle(2, node, 8, 16);

    private WriteGather gather(long delayMillis) {
        return new WriteGather((handle, offset, data, dones) -> {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            synchronized (sent) {
                sent.add(new Sent(handle, offset, b, dones));
                sent.notifyAll();
            }
        }, TimeUnit.MILLISECONDS.toNanos(delayMillis));
    }

    private static ByteBuffer bytes(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return ByteBuffer.wrap(b);
    }

    @Test
    void aWriteAloneGoesAloneAndTheOnesContinuingItGoAsOneUntilAChunkIsFull() {
        try (WriteGather g = gather(60_000)) {
            assertFalse(g.add(7, h, 96, bytes(0, 4), new CompletableFuture<>()), "the first: sent by the caller");
            List<CompletableFuture<Void>> dones = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                CompletableFuture<Void> d = new CompletableFuture<>();
                dones.add(d);
                assertTrue(g.add(7, h, 100 + 4 * i, bytes(4 * i, 4), d));
            }
            assertEquals(1, sent.size(), "16 bytes fill the 16-byte chunk: sent at once");
            assertEquals(100, sent.get(0).offset());
            assertArrayEquals(bytes(0, 16).array(), sent.get(0).data());
            assertEquals(dones, sent.get(0).dones());
            assertTrue(g.add(7, h, 116, bytes(16, 4), new CompletableFuture<>()), "continues the chunk just sent");
        }
        assertEquals(2, sent.size(), "close sends the rest");
    }

    @Test
    void aGapAnotherHandleOrAFlushSendsWhatIsGathered() {
        try (WriteGather g = gather(60_000)) {
            assertFalse(g.add(7, h, 0, bytes(0, 4), new CompletableFuture<>()));
            assertTrue(g.add(7, h, 4, bytes(4, 4), new CompletableFuture<>()));
            assertTrue(g.add(7, h, 8, bytes(8, 4), new CompletableFuture<>()));
            assertTrue(sent.isEmpty());
            assertFalse(g.add(7, h, 20, bytes(20, 4), new CompletableFuture<>()), "a gap: sent alone");
            assertEquals(1, sent.size(), "after what was gathered");
            assertEquals(4, sent.get(0).offset());
            assertArrayEquals(bytes(4, 8).array(), sent.get(0).data());
            assertFalse(g.add(7, other, 24, bytes(24, 4), new CompletableFuture<>()), "another fid: alone");
            assertTrue(g.add(7, other, 28, bytes(28, 4), new CompletableFuture<>()));
            g.flush(7);
            assertEquals(2, sent.size());
            assertEquals(other, sent.get(1).h());
            assertTrue(g.add(7, other, 32, bytes(32, 4), new CompletableFuture<>()), "continuing the flushed bytes");
            g.flush(7);
            assertEquals(3, sent.size());
            g.flush(7);
            assertEquals(3, sent.size(), "nothing left to flush");
        }
        assertEquals(3, sent.size(), "nothing left at close either");
    }

    @Test
    void gatheredBytesWaitNoLongerThanTheDelay() throws Exception {
        try (WriteGather g = gather(20)) {
            assertFalse(g.add(7, h, 0, bytes(0, 4), new CompletableFuture<>()));
            assertTrue(g.add(7, h, 4, bytes(4, 4), new CompletableFuture<>()));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            synchronized (sent) {
                while (sent.isEmpty() && System.nanoTime() < deadline) {
                    sent.wait(100);
                }
            }
            assertEquals(1, sent.size());
            assertArrayEquals(bytes(4, 4).array(), sent.get(0).data());
        }
    }

    @Test
    void closeSendsWhatIsLeft() {
        WriteGather g = gather(60_000);
        assertFalse(g.add(9, h, 0, bytes(0, 3), new CompletableFuture<>()));
        assertTrue(g.add(9, h, 3, bytes(3, 3), new CompletableFuture<>()));
        g.close();
        assertEquals(1, sent.size());
        assertEquals(3, sent.get(0).offset());
        assertTrue(Arrays.equals(bytes(3, 3).array(), sent.get(0).data()));
    }
}
