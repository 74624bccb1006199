package io.c9fs.mount;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Clunks fids that were replaced while a request may still be using them (a node got a freshly
 * walked fid): after the longest a 9P request can live, nobody holds the old one any more.
 *
 * <p>Threads: {@link #retire} from any thread; the clunks run on the reaper's own daemon thread
 * and only send (never wait).
 */
final class FidReaper implements AutoCloseable {
    private final Rpc rpc;
    private final long delayNanos;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "c9fs-fid-reaper");
        t.setDaemon(true);
        return t;
    });

    /** @param requestTimeout the client's bound on one request; the delay adds a margin to it */
    FidReaper(Rpc rpc, Duration requestTimeout) {
        this.rpc = rpc;
        this.delayNanos = requestTimeout.plusSeconds(2).toNanos();
    }

    void retire(int fid) {
        try {
            timer.schedule(() -> rpc.clunk(fid), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            rpc.clunk(fid);
        }
    }

    /** Clunks everything still waiting, now (the session is over). */
    @Override
    public void close() {
        timer.shutdownNow().forEach(Runnable::run);
    }
}
