package io.c9fs.server.bench;

import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.*;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Measures one 9P2000.L server with the c9fs client, msize 1 MiB: sequential read of FILE with one
 * and with four 1 MiB Treads in flight, sequential write of WRITE_MIB MiB (four 1 MiB Twrites in
 * flight) plus Tfsync, and small-operation rates: Tgetattr with one and with 32 in flight, and
 * Twalk+Tclunk pairs with 32 in flight. Prints one "metric value unit" line each.
 *
 * <pre>ServerBench HOST:PORT ANAME FILE [SECONDS=3] [WRITE_MIB=256]</pre>
 *
 * The same program runs against c9fs-serve and diod (scripts/bench/server-bench.sh).
 */
public final class ServerBench {
    private static final int MIB = 1 << 20;

    private ServerBench() {
    }

    public static void main(String[] args) throws Exception {
        NinepAddress address = NinepAddress.parse(args[0]);
        String aname = args[1];
        String file = args[2];
        long seconds = args.length > 3 ? Long.parseLong(args[3]) : 3;
        int writeMib = args.length > 4 ? Integer.parseInt(args[4]) : 256;
        try (NinepClient c = NinepClient.connect(address, ClientConfig.defaults())) {
            int root = c.allocFid();
            c.attach(root, "root", aname);
            readOnce(c, root, file, 4);
            report("read_qd1", readOnce(c, root, file, 1), "MiB/s");
            report("read_qd4", readOnce(c, root, file, 4), "MiB/s");
            report("write_fsync", write(c, root, writeMib), "MiB/s");
            report("getattr_qd1", rate(c, seconds, 1, () -> c.rpc(new Tgetattr(root, Rgetattr.BASIC), Rgetattr.class)), "ops/s");
            report("getattr_qd32", rate(c, seconds, 32, () -> c.rpc(new Tgetattr(root, Rgetattr.BASIC), Rgetattr.class)), "ops/s");
            report("walk_clunk_qd32", rate(c, seconds, 32, () -> {
                int nf = c.allocFid();
                return c.rpc(new Twalk(root, nf, List.of(file)), Rwalk.class)
                        .thenCompose(r -> c.rpc(new Tclunk(nf), Rclunk.class))
                        .whenComplete((r, ex) -> c.freeFid(nf));
            }), "pairs/s");
        }
    }

    private static void report(String metric, double value, String unit) {
        System.out.printf("%s\t%.1f\t%s%n", metric, value, unit);
    }

    private static int walkOpen(NinepClient c, int root, String name, int flags) throws Exception {
        int f = c.allocFid();
        c.call(new Twalk(root, f, List.of(name)), Rwalk.class);
        c.call(new Tlopen(f, flags), Rlopen.class);
        return f;
    }

    /** Reads the whole file with {@code depth} 1 MiB reads in flight; MiB/s. */
    private static double readOnce(NinepClient c, int root, String name, int depth) throws Exception {
        int f = walkOpen(c, root, name, 0);
        long size = c.call(new Tgetattr(f, Rgetattr.BASIC), Rgetattr.class).size();
        int chunk = Math.min(MIB, c.iounit());
        Semaphore slots = new Semaphore(depth);
        AtomicLong got = new AtomicLong();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long t0 = System.nanoTime();
        for (long off = 0; off < size; off += chunk) {
            slots.acquire();
            c.rpc(new Tread(f, off, chunk), Rread.class).whenComplete((r, ex) -> {
                if (ex != null) {
                    failed.set(ex);
                } else {
                    got.addAndGet(r.data().readableBytes());
                    r.release();
                }
                slots.release();
            });
        }
        slots.acquire(depth);
        double secs = (System.nanoTime() - t0) / 1e9;
        c.call(new Tclunk(f), Rclunk.class);
        c.freeFid(f);
        if (failed.get() != null || got.get() != size) {
            throw new IllegalStateException("read " + got.get() + " of " + size, failed.get());
        }
        return size / (double) MIB / secs;
    }

    /** Writes {@code mib} MiB to a new file, four 1 MiB Twrites in flight, then fsyncs; MiB/s. */
    private static double write(NinepClient c, int root, int mib) throws Exception {
        String name = ".server-bench-" + ProcessHandle.current().pid();
        int f = c.allocFid();
        c.call(new Twalk(root, f, List.of()), Rwalk.class);
        c.call(new Tlcreate(f, name, 2, 0644, 0), Rlcreate.class);
        byte[] block = new byte[MIB];
        new java.util.Random(1).nextBytes(block);
        int chunk = Math.min(MIB, c.iounit());
        Semaphore slots = new Semaphore(4);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long total = (long) mib * MIB;
        long t0 = System.nanoTime();
        for (long off = 0; off < total; off += chunk) {
            slots.acquire();
            ByteBuf data = Unpooled.wrappedBuffer(block, 0, chunk);
            c.rpc(new Twrite(f, off, data), Rwrite.class).whenComplete((r, ex) -> {
                if (ex != null) {
                    failed.set(ex);
                } else if (r.count() != chunk) {
                    failed.set(new IllegalStateException("short write " + r.count()));
                }
                slots.release();
            });
        }
        slots.acquire(4);
        c.call(new Tfsync(f, 0), Rfsync.class);
        double secs = (System.nanoTime() - t0) / 1e9;
        // Tremove rather than Tunlinkat: diod 1.0 does not implement the latter.
        c.call(new Tremove(f), Rremove.class);
        c.freeFid(f);
        if (failed.get() != null) {
            throw new IllegalStateException("write failed", failed.get());
        }
        return mib / secs;
    }

    /** Completed operations per second with {@code depth} in flight, after a one-second warm-up. */
    private static double rate(NinepClient c, long seconds, int depth,
                               java.util.function.Supplier<CompletableFuture<?>> op) throws Exception {
        rateFor(TimeUnit.SECONDS.toNanos(1), depth, op);
        return rateFor(TimeUnit.SECONDS.toNanos(seconds), depth, op);
    }

    private static double rateFor(long nanos, int depth,
                                  java.util.function.Supplier<CompletableFuture<?>> op) throws Exception {
        Semaphore slots = new Semaphore(depth);
        AtomicLong done = new AtomicLong();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long t0 = System.nanoTime();
        long end = t0 + nanos;
        while (System.nanoTime() < end) {
            slots.acquire();
            op.get().whenComplete((r, ex) -> {
                if (ex != null) {
                    failed.set(ex);
                }
                done.incrementAndGet();
                slots.release();
            });
        }
        slots.acquire(depth);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (failed.get() != null) {
            throw new IllegalStateException("operation failed", failed.get());
        }
        return done.get() / secs;
    }
}
