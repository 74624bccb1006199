package io.c9fs.server;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Live counters of a running server, read by tests and by operators: open connections, live
 * fids, requests in flight (received, not yet answered), requests answered and backpressure
 * stalls.
 *
 * <p>Threading: lock-free counters, updated and read from any thread.
 */
public final class ServerStats {
    final AtomicLong connections = new AtomicLong();
    final AtomicLong fids = new AtomicLong();
    final AtomicLong inFlight = new AtomicLong();
    final AtomicLong answered = new AtomicLong();
    final AtomicLong stalls = new AtomicLong();

    public long connections() {
        return connections.get();
    }

    public long fids() {
        return fids.get();
    }

    public long inFlight() {
        return inFlight.get();
    }

    public long answered() {
        return answered.get();
    }

    /** Times a connection reached its in-flight limit and its socket stopped being read. */
    public long stalls() {
        return stalls.get();
    }

    @Override
    public String toString() {
        return "connections=" + connections() + " fids=" + fids() + " inFlight=" + inFlight()
                + " answered=" + answered() + " stalls=" + stalls();
    }
}
