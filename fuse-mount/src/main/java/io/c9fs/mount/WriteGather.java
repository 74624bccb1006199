package io.c9fs.mount;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Gathers small WRITEs written behind into one Twrite. A program writing 4 KiB at a time (dd
 * bs=4k, a Go or Java writer with its small default buffer) otherwise costs a Twrite and its
 * answer per 4 KiB, CPU on both sides of the connection for every one. Under the sole write lease
 * nobody sees the file without a recall, which waits for the writes ({@link WriteBehind#pending}
 * sends what is gathered first), so the bytes may wait a little: per file, one handle's bytes,
 * contiguous, up to one chunk, sent when the chunk is full, when a WRITE does not continue them,
 * when anything waits for the file's writes, and at the latest {@code delayNanos} after the first.
 * Each WRITE keeps its own entry in {@link WriteBehind}, completed with the gathered Twrite.
 *
 * <p>Only a WRITE that continues the one before it is gathered: a file written in one piece (most
 * small files) has its Twrite sent with the WRITE, as before, so it is on its way before close(2)
 * and nothing waits for a timer.
 *
 * <p>Threads: every method from any thread; sends run on the caller's thread or the gather
 * timer's. One monitor (this) guards the map and is held while a gathered Twrite is handed to the
 * {@link Sender}: the server serves one fid's requests in the order they arrive, so a gather the
 * timer sends must not be overtaken by a later WRITE's Twrite (callers send their own large
 * WRITEs after {@link #flush}, which waits for the monitor). Handing over only queues the Twrite
 * (it waits just for a free tag, when all 65,535 are taken); the Sender must not call back here.
 */
final class WriteGather implements AutoCloseable {
    /** Sends {@code data} (positioned to be read) at {@code offset} through {@code h}; completes {@code dones} when answered. */
    interface Sender {
        void send(OpenHandle h, long offset, ByteBuffer data, List<CompletableFuture<Void>> dones);
    }

    private static final int FIRST_CAPACITY = 64 * 1024;

    private static final class Gather {
        final OpenHandle h;
        final long offset;
        ByteBuffer data;
        final List<CompletableFuture<Void>> dones = new ArrayList<>();
        /** The timer's send; cancelled when the bytes go earlier (most often at FLUSH). */
        ScheduledFuture<?> timeout;

        Gather(OpenHandle h, long offset) {
            this.h = h;
            this.offset = offset;
            this.data = ByteBuffer.allocate(Math.min(FIRST_CAPACITY, h.chunk));
        }

        long end() {
            return offset + data.position();
        }

        void add(ByteBuffer src, CompletableFuture<Void> done) {
            if (data.remaining() < src.remaining()) {
                int want = Math.min(h.chunk, Math.max(data.capacity() * 2, data.position() + src.remaining()));
                data = ByteBuffer.allocate(want).put(data.flip());
            }
            data.put(src.duplicate());
            dones.add(done);
        }
    }

    private final Sender sender;
    private final long delayNanos;
    private final Map<Long, Gather> gathers = new HashMap<>();
    /** Where the last WRITE of a file sent alone ended, and through which handle: the next may start a gather. */
    private final Map<Long, Tail> tails = new HashMap<>();

    private record Tail(OpenHandle h, long end) {
    }
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "c9fs-write-gather");
        t.setDaemon(true);
        return t;
    });

    WriteGather(Sender sender, long delayNanos) {
        this.sender = sender;
        this.delayNanos = delayNanos;
        // A file written and closed in one go (most small files) cancels its send at FLUSH:
        // gone from the queue, it does not wake the timer thread 5 ms later.
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * Offers a WRITE of {@code src} at {@code offset} through {@code h}, recorded in
     * {@link WriteBehind} as {@code done}: appended to the file's gathered bytes if it continues
     * them on the same handle and they stay within a chunk; else what is gathered is sent, and the
     * WRITE starts a new gather if it continues the file's last WRITE. False if it does not: the
     * caller sends it now. {@code src} is copied before this returns; it must be smaller than a chunk.
     */
    synchronized boolean add(long path, OpenHandle h, long offset, ByteBuffer src, CompletableFuture<Void> done) {
        Gather g = gathers.get(path);
        if (g != null && g.h == h && g.end() == offset && g.data.position() + src.remaining() <= h.chunk) {
            g.add(src, done);
            if (g.data.position() == h.chunk) {
                send(gathers.remove(path));
            }
            return true;
        }
        if (g != null) {
            send(gathers.remove(path));
        }
        Tail t = tails.get(path);
        if (t == null || t.h() != h || t.end() != offset) {
            tails.put(path, new Tail(h, offset + src.remaining()));
            return false;
        }
        Gather started = new Gather(h, offset);
        started.add(src, done);
        try {
            started.timeout = timer.schedule(() -> sendIfStill(path, started), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            send(started); // closed: nothing to wait for
            return true;
        }
        gathers.put(path, started);
        return true;
    }

    /** Sends what is gathered of {@code path} now (a WRITE continuing it starts a new gather). */
    synchronized void flush(long path) {
        Gather g = gathers.remove(path);
        if (g != null) {
            send(g);
        }
    }

    private synchronized void sendIfStill(long path, Gather g) {
        if (gathers.get(path) == g) {
            send(gathers.remove(path));
        }
    }

    /** Under the monitor, {@code g} already out of the map. */
    private void send(Gather g) {
        if (g.timeout != null) {
            g.timeout.cancel(false);
        }
        long path = g.h.node.qidPath;
        tails.put(path, new Tail(g.h, g.end()));
        sender.send(g.h, g.offset, g.data.flip(), g.dones);
    }

    /** Sends everything gathered and stops the timer. */
    @Override
    public synchronized void close() {
        List<Gather> left = new ArrayList<>(gathers.values());
        gathers.clear();
        left.forEach(this::send);
        tails.clear();
        timer.shutdownNow();
    }
}
