package io.c9fs.server;

import static io.c9fs.server.GraceTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message.Rattach;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Tattach;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Tread;
import io.c9fs.transport.proto.Message.Twalk;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Clients that stall: in the middle of a frame (closed), or by not reading their replies (not read either). */
class StalledClientTest {
    private static final int MSIZE = 1 << 20;

    static RawConn opened(ServedExport e) throws Exception {
        RawConn c = new RawConn(e.server.port());
        c.version("9P2000.L", MSIZE);
        c.call(1, new Tattach(0, -1, "root", "", -1), Rattach.class);
        c.call(2, new Twalk(0, 1, List.of("f")), Rwalk.class);
        c.call(3, new Tlopen(1, 0), Rlopen.class);
        return c;
    }

    @Test
    void aConnectionStalledMidFrameIsClosedAnIdleOneIsNot() throws Exception {
        try (ServedExport e = ServedExport.start(c -> c.withFrameTimeout(Duration.ofSeconds(1)))) {
            Files.writeString(e.dir.resolve("f"), "data");
            try (RawConn idle = opened(e); RawConn stalled = opened(e)) {
                byte[] f = stalled.frame(9, new Tread(1, 0, 4));
                long t0 = System.nanoTime();
                stalled.sendBytes(Arrays.copyOf(f, 10)); // half a Tread, then nothing
                assertTrue(stalled.closedByServer(15_000), "the stalled connection was not closed");
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms >= 800, "closed too early: " + ms + " ms");
                await(() -> e.server.stats().connections() == 1, 5000, "the stalled connection gone");

                Thread.sleep(1500); // idle between frames for longer than the timeout
                Rread r = idle.call(10, new Tread(1, 0, 4), Rread.class);
                assertEquals(4, r.data().readableBytes());
                r.release();
            }
        }
    }

    @Test
    void pipelinedReadsWithoutReadingRepliesStayBounded() throws Exception {
        // Each Tread asks past the end of the file: a short read is never served on the event loop
        // (Session#tryInline), so these wait in the queue and the in-flight limit is what stops them.
        pipelined(2, true);
    }

    @Test
    void pipelinedCachedReadsServedOnTheEventLoopStayBounded() throws Exception {
        // Whole reads of a cached file are answered on the event loop, never queued: the write
        // buffer's water marks are what stops reading the socket.
        pipelined(1, false);
    }

    private void pipelined(int askFactor, boolean inFlightLimit) throws Exception {
        int n = 20_000;
        int count = 16 * 1024;
        try (ServedExport e = ServedExport.start()) {
            byte[] content = new byte[count];
            Arrays.fill(content, (byte) 'x');
            Files.write(e.dir.resolve("f"), content);
            try (RawConn c = opened(e)) {
                ByteArrayOutputStream all = new ByteArrayOutputStream(n * 23);
                for (int i = 0; i < n; i++) {
                    all.writeBytes(c.frame(100 + (i % 60000), new Tread(1, 0, count * askFactor)));
                }
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread sender = new Thread(() -> {
                    try {
                        c.sendBytes(all.toByteArray());
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                }, "pipelined-sender");
                sender.setDaemon(true);
                sender.start();
                // Let the server answer what it will, until the count stops moving.
                long last = -1;
                long stableSince = System.nanoTime();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (System.nanoTime() < end) {
                    long a = e.server.stats().answered();
                    if (a != last) {
                        last = a;
                        stableSince = System.nanoTime();
                    } else if (System.nanoTime() - stableSince > TimeUnit.MILLISECONDS.toNanos(1500)) {
                        break;
                    }
                    Thread.sleep(50);
                }
                long answered = e.server.stats().answered() - 4; // the set-up requests
                long inFlight = e.server.stats().inFlight();
                System.out.println("pipelined " + n + " Treads of " + count + " bytes unread: answered " + answered
                        + " (" + answered * count / (1 << 20) + " MiB), in flight " + inFlight
                        + ", stalls " + e.server.stats().stalls());
                assertTrue(answered < 4000, "replies kept piling up: " + answered);
                assertTrue(inFlight <= 256, "in flight beyond the limit: " + inFlight);
                if (inFlightLimit) {
                    assertTrue(e.server.stats().stalls() > 0);
                }

                // Reading the replies lets everything through, in order.
                for (int i = 0; i < n; i++) {
                    Fcall f = c.read();
                    assertEquals(100 + (i % 60000), f.tag());
                    Rread r = (Rread) f.message();
                    assertEquals(count, r.data().readableBytes());
                    r.release();
                }
                sender.join(10_000);
                assertFalse(sender.isAlive());
                assertEquals(null, failed.get());
                await(() -> e.server.stats().inFlight() == 0, 5000, "all answered");
            }
        }
    }
}
