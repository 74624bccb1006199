package io.c9fs.server;

import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.server.lease.Leaseholder;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.netty.buffer.Unpooled;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * 8 clients, each keeping 64 requests in flight, mixed operations for a bounded time: every
 * request is answered, no unexpected error, fid and connection counts return to zero and the
 * heap after GC is where it started. Duration: -Dc9fs.load.seconds (default 10). A second run
 * mixes 9P2000.L.c9 clients (acknowledging their recalls) with plain ones, all writing the files
 * everyone reads, so that most writes and many reads wait for recalls.
 */
class LoadTest {
    private static final int CLIENTS = 8, IN_FLIGHT = 64;

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void eightClientsSixtyFourInFlight() throws Exception {
        run(Long.getLong("c9fs.load.seconds", 10), CLIENTS, 0, ServerLimits.defaults());
    }

    /** Half the clients leased, writes to shared files: every recall acknowledged, nothing left. */
    @Test
    void leasedAndPlainClientsWritingSharedFiles() throws Exception {
        run(Math.min(5, Long.getLong("c9fs.load.seconds", 10)), CLIENTS, CLIENTS / 2, ServerLimits.defaults());
    }

    /** With 4 requests in flight allowed per connection, the socket stalls instead: nothing lost. */
    @Test
    void backpressureLosesNothing() throws Exception {
        ServerLimits l = ServerLimits.defaults();
        long stalls = run(2, 2, 0, new ServerLimits(l.maxFids(), 4, l.maxMsize()));
        assertTrue(stalls > 0, "the limit was reached");
    }

    /**
     * Runs the load with {@code leased} of the clients on 9P2000.L.c9 (their writes then go to the
     * shared files); returns the server's backpressure stalls.
     */
    private long run(long seconds, int clientCount, int leased, ServerLimits limits) throws Exception {
        try (ServedExport e = ServedExport.start(cfg -> cfg.withLimits(limits))) {
            for (int i = 0; i < 16; i++) {
                Files.write(e.dir.resolve("r" + i), new byte[256 * 1024]);
            }
            for (int i = 0; i < 50; i++) {
                Files.createDirectories(e.dir.resolve("d/sub" + i));
            }
            long heapBefore = usedHeapAfterGc();
            AtomicLong done = new AtomicLong();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> drivers = new ArrayList<>();
            List<NinepClient> clients = new ArrayList<>();
            List<Leaseholder> holders = new ArrayList<>();
            boolean shared = leased > 0;
            for (int n = 0; n < clientCount; n++) {
                NinepClient c = e.attached(n < leased ? "9P2000.L.c9" : "9P2000.L");
                if (n < leased) {
                    holders.add(Leaseholder.acknowledging(c));
                }
                clients.add(c);
                int me = n;
                Thread t = new Thread(() -> {
                    try {
                        drive(c, me, seconds, shared, done);
                    } catch (Throwable ex) {
                        failure.compareAndSet(null, ex);
                    }
                }, "load-" + n);
                drivers.add(t);
                t.start();
            }
            for (Thread t : drivers) {
                t.join(TimeUnit.SECONDS.toMillis(seconds + 60));
                assertTrue(!t.isAlive(), "a driver hung");
            }
            if (failure.get() != null) {
                throw new AssertionError("load failed", failure.get());
            }
            assertEquals(clientCount, e.server.stats().connections());
            assertTrue(!shared || holders.stream().mapToLong(Leaseholder::received).sum() > 0,
                    "the leased clients were recalled");
            holders.forEach(Leaseholder::close);
            for (NinepClient c : clients) {
                c.close();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while ((e.server.stats().fids() != 0 || e.server.stats().connections() != 0
                    || e.server.export().nodes().size() != 0) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, e.server.stats().fids(), "fids left after the clients went");
            assertEquals(0, e.server.stats().connections());
            assertEquals(0, e.server.stats().inFlight());
            assertEquals(0, e.server.export().nodes().size(), "file nodes left");
            // The clients closed without a goodbye: their leases stand until the term after their
            // last renewal (they vanished), and recalls sent to them meanwhile wait that long.
            long recallDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (e.server.stats().recallsOutstanding() != 0 && System.nanoTime() < recallDeadline) {
                Thread.sleep(20);
            }
            assertEquals(e.server.stats().leaseCounts().vanishedLeases(), e.server.stats().leasesHeld(),
                    "leases left other than those of the vanished clients");
            assertEquals(0, e.server.stats().recallsOutstanding(), "recalls left");
            assertEquals(0, e.server.stats().localWatches(), "watches left");
            assertEquals(0, e.server.stats().recallsExpired(), "every recall was acknowledged");
            if (shared) {
                assertTrue(e.server.stats().recallsSent() > 0);
                System.out.printf("load with leases: %d recalls, round trip %s%n",
                        e.server.stats().recallsSent(), e.server.stats().recallRoundTrip());
            }
            long heapAfter = usedHeapAfterGc();
            System.out.printf("load: %d clients, %d requests in %d s (%.0f/s), heap after GC %d -> %d KiB%n",
                    clientCount, done.get(), seconds, done.get() / (double) seconds, heapBefore >> 10, heapAfter >> 10);
            assertTrue(done.get() > 1000 * seconds, "requests answered: " + done.get());
            assertTrue(heapAfter - heapBefore < 16 << 20,
                    "heap grew by " + ((heapAfter - heapBefore) >> 10) + " KiB");
            return e.server.stats().stalls();
        }
    }

    /**
     * Keeps IN_FLIGHT requests outstanding on {@code c} for {@code seconds}; with {@code shared},
     * its writes go to the files it (and the others) read.
     */
    private static void drive(NinepClient c, int me, long seconds, boolean shared, AtomicLong done)
            throws Exception {
        int root = 0;
        int[] readers = new int[8];
        for (int i = 0; i < readers.length; i++) {
            readers[i] = walk(c, root, "r" + ((me + i) % 16));
            c.call(new Tlopen(readers[i], shared ? 2 : 0), Rlopen.class);
        }
        int w = walk(c, root);
        c.call(new Tlcreate(w, "w" + me, 2, 0644, 0), Rlcreate.class);
        int dir = walk(c, root, "d");
        Semaphore slots = new Semaphore(IN_FLIGHT);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end && failed.get() == null) {
            if (!slots.tryAcquire(10, TimeUnit.SECONDS)) {
                throw new AssertionError("no reply for 10 s with " + IN_FLIGHT + " in flight");
            }
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            CompletableFuture<?> f;
            switch (rnd.nextInt(6)) {
                case 0:
                    f = c.rpc(new Tgetattr(root, Rgetattr.BASIC), Rgetattr.class);
                    break;
                case 1: {
                    int nf = c.allocFid();
                    f = c.rpc(new Twalk(dir, nf, List.of("sub" + rnd.nextInt(50))), Rwalk.class)
                            .thenCompose(r -> c.rpc(new Tclunk(nf), Rclunk.class))
                            .whenComplete((r, ex) -> c.freeFid(nf));
                    break;
                }
                case 2:
                case 3:
                    f = c.rpc(new Tread(readers[rnd.nextInt(readers.length)],
                            rnd.nextInt(64) * 4096L, 16384), Rread.class)
                            .thenAccept(Message::release);
                    break;
                case 4:
                    f = c.rpc(new Twrite(shared ? readers[rnd.nextInt(readers.length)] : w, rnd.nextInt(64) * 4096L,
                            Unpooled.wrappedBuffer(new byte[4096])), Rwrite.class);
                    break;
                default: {
                    int nf = c.allocFid();
                    f = c.rpc(new Twalk(root, nf, List.of("nonexistent")), Rwalk.class)
                            .handle((r, ex) -> {
                                c.freeFid(nf);
                                if (ex == null) {
                                    throw new AssertionError("walked to a missing name");
                                }
                                return null;
                            });
                    break;
                }
            }
            f.whenComplete((r, ex) -> {
                if (ex != null) {
                    failed.compareAndSet(null, ex);
                }
                done.incrementAndGet();
                slots.release();
            });
        }
        if (!slots.tryAcquire(IN_FLIGHT, 30, TimeUnit.SECONDS)) {
            throw new AssertionError("requests lost: " + (IN_FLIGHT - slots.availablePermits()));
        }
        if (failed.get() != null) {
            throw new AssertionError("request failed", failed.get());
        }
    }
}
