package io.c9fs.server.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.server.ServedExport;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Measures, on loopback, the recall round trip (recall created to Trecalled received, the
 * server's own figure) with 1 and 8 leased clients acknowledging at once, and what holding a
 * file costs a plain writer: the latency of its 4 KiB Twrites with nobody, 1 and 8 holders.
 * Prints the figures; asserts that every recall was acknowledged, none expired.
 * Rounds: -Dc9fs.recall.writes (default 1000).
 */
class RecallLatencyTest {
    private static final int WRITES = Integer.getInteger("c9fs.recall.writes", 1000);

    @Test
    void recallRoundTripAndWriteLatency() throws Exception {
        measure(1); // JIT warm-up of both sides
        long[] none = measure(0);
        long[] one = measure(1);
        long[] eight = measure(8);
        System.out.printf("write latency, 4 KiB Twrite, nobody holding: median %.1f us p99 %.1f us%n",
                none[0] / 1e3, none[1] / 1e3);
        System.out.printf("write latency, 1 holder: median %.1f us p99 %.1f us; recall round trip median %.1f us p99 %.1f us%n",
                one[0] / 1e3, one[1] / 1e3, one[2] / 1e3, one[3] / 1e3);
        System.out.printf("write latency, 8 holders: median %.1f us p99 %.1f us; recall round trip median %.1f us p99 %.1f us%n",
                eight[0] / 1e3, eight[1] / 1e3, eight[2] / 1e3, eight[3] / 1e3);
    }

    /** {write median, write p99, recall round trip median, p99} in ns with {@code holders} leased clients. */
    private static long[] measure(int holders) throws Exception {
        try (ServedExport x = ServedExport.start()) {
            // Larger than the writes reach: a write that reaches the end of file also recalls
            // attributes (its size may have moved), which this test does not count.
            Files.write(x.dir.resolve("f"), new byte[2 << 20]);
            List<Leaseholder> held = new ArrayList<>();
            try {
                for (int i = 0; i < holders; i++) {
                    LeaseProtocolTest.Conn h = LeaseProtocolTest.conn(x, LeaseProtocolTest.C9);
                    h.walk("f");
                    held.add(Leaseholder.acknowledging(h.c()));
                }
                LeaseProtocolTest.Conn b = LeaseProtocolTest.conn(x, LeaseProtocolTest.L);
                int fid = b.open("f");
                byte[] page = new byte[4096];
                int warm = WRITES / 5;
                long[] lat = new long[WRITES];
                for (int i = 0; i < warm + WRITES; i++) {
                    long t0 = System.nanoTime();
                    b.c().call(new Twrite(fid, (long) (i % 256) * 4096, Unpooled.wrappedBuffer(page)), Rwrite.class);
                    if (i >= warm) {
                        lat[i - warm] = System.nanoTime() - t0;
                    }
                }
                Arrays.sort(lat);
                long sent = x.server.stats().recallsSent();
                assertEquals((long) holders * (warm + WRITES), sent, "one recall per holder per write");
                assertEquals(0, x.server.stats().recallsExpired());
                var rtt = x.server.stats().recallRoundTrip();
                assertTrue(holders == 0 || rtt.samples() > 0);
                return new long[] {lat[WRITES / 2], lat[(int) (WRITES * 0.99)], rtt.medianNanos(), rtt.p99Nanos()};
            } finally {
                held.forEach(Leaseholder::close);
            }
        }
    }
}
