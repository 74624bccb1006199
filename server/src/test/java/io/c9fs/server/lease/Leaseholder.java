package io.c9fs.server.lease;

import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rcallback;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.proto.Message.Rrecalled;
import io.c9fs.transport.proto.Message.Tcallback;
import io.c9fs.transport.proto.Message.Trecalled;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The recall side of a test client on a 9P2000.L.c9 connection: keeps one Tcallback outstanding,
 * as docs/protocol.md asks, collects the recalls it brings (with their arrival time) and, when
 * told to, acknowledges each one as soon as it arrives.
 */
public final class Leaseholder implements AutoCloseable {
    /** A recall and when it arrived (System.nanoTime). */
    record Arrived(Recall recall, long at) {
    }

    final NinepClient client;
    private final boolean autoAck;
    private final boolean keep;
    private final AtomicLong count = new AtomicLong();
    private final LinkedBlockingQueue<Arrived> recalls = new LinkedBlockingQueue<>();
    private volatile boolean stopped;
    volatile long heartbeats;

    private Leaseholder(NinepClient client, boolean autoAck, boolean keep) {
        this.client = client;
        this.autoAck = autoAck;
        this.keep = keep;
    }

    /** Starts the callback loop on {@code client}, keeping the recalls for {@link #poll}. */
    static Leaseholder listen(NinepClient client, boolean autoAck) {
        Leaseholder h = new Leaseholder(client, autoAck, true);
        h.next();
        return h;
    }

    /** Starts a callback loop that acknowledges every recall at once and only counts them. */
    public static Leaseholder acknowledging(NinepClient client) {
        Leaseholder h = new Leaseholder(client, true, false);
        h.next();
        return h;
    }

    /** Recalls received so far. */
    public long received() {
        return count.get();
    }

    private void next() {
        if (stopped || !client.isOpen()) {
            return;
        }
        client.rpc(new Tcallback(), Rcallback.class).whenComplete((r, e) -> {
            if (e != null) {
                return;
            }
            long now = System.nanoTime();
            if (r.recalls().isEmpty()) {
                heartbeats++;
            }
            count.addAndGet(r.recalls().size());
            for (Recall rc : r.recalls()) {
                if (keep) {
                    recalls.add(new Arrived(rc, now));
                }
                if (autoAck) {
                    client.rpc(new Trecalled(rc.id()), Rrecalled.class);
                }
            }
            next();
        });
    }

    /** The next recall, waiting at most {@code ms}; null if none came. */
    Arrived poll(long ms) throws InterruptedException {
        return recalls.poll(ms, TimeUnit.MILLISECONDS);
    }

    /** Every recall that arrives within {@code ms}. */
    List<Arrived> drain(long ms) throws InterruptedException {
        List<Arrived> out = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (true) {
            long left = end - System.nanoTime();
            Arrived a = left <= 0 ? recalls.poll() : recalls.poll(left, TimeUnit.NANOSECONDS);
            if (a == null) {
                return out;
            }
            out.add(a);
        }
    }

    void acknowledge(Recall r) throws Exception {
        client.call(new Trecalled(r.id()), Rrecalled.class);
    }

    @Override
    public void close() {
        stopped = true;
    }
}
