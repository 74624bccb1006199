package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rcallback;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.server.ServerConnection;
import io.netty.channel.EventLoop;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The recall channel of one connection that negotiated 9P2000.L.c9, and that connection as a
 * lease {@link LeaseManager.Holder}. The client keeps one Tcallback outstanding; it is held here
 * (not in the request queue: it is no work, must not take a worker and must not count against
 * backpressure) until a recall is queued for the client or a third of the term has passed, then
 * answered with the queued recalls. Trecalled is answered at once, on the event loop, so that
 * acknowledgements flow even while every worker is busy with requests waiting for them.
 *
 * <p>Threading: all state is confined to the connection's event loop. {@link #recall} may be
 * called from any thread (the lease manager, after releasing its lock) and hops onto the loop;
 * everything else is called on the loop by {@link ConnectionService}.
 */
final class CallbackChannel implements LeaseManager.Holder {
    /** size[4] type[1] tag[2] term[4] nrecall[2]. */
    private static final int RCALLBACK_HEADER = 13;
    private static final int NO_TAG = -1;

    private final ServerConnection conn;
    private final LeaseManager leases;
    private final EventLoop loop;
    private final int termMs;
    private final ArrayDeque<Recall> queued = new ArrayDeque<>();
    private int heldTag = NO_TAG;
    private ScheduledFuture<?> heartbeat;
    private boolean closed;

    CallbackChannel(ServerConnection conn, LeaseManager leases) {
        this.conn = conn;
        this.leases = leases;
        this.loop = conn.channel().eventLoop();
        this.termMs = (int) leases.term().toMillis();
        leases.register(this);
    }

    int termMs() {
        return termMs;
    }

    @Override
    public void recall(LeaseManager.Recall r) {
        Recall wire = new Recall(r.id(), r.kind().wire, r.path(), r.offset(), r.length(), r.name());
        try {
            loop.execute(() -> {
                if (closed) {
                    return;
                }
                queued.add(wire);
                if (heldTag != NO_TAG) {
                    int tag = heldTag;
                    release();
                    answer(tag);
                }
            });
        } catch (RejectedExecutionException e) {
            // The server is stopping: the connection goes, and with it the lease.
        }
    }

    /** Tcallback: renews every lease, then is answered now if recalls wait, else held. */
    void callback(int tag) {
        leases.renew(this);
        if (heldTag != NO_TAG) {
            // At most one outstanding: the older one goes back empty, the newer one is held.
            int older = heldTag;
            release();
            conn.reply(older, new Rcallback(termMs, List.of()));
        }
        if (!queued.isEmpty()) {
            answer(tag);
            return;
        }
        heldTag = tag;
        heartbeat = loop.schedule(() -> {
            if (heldTag == tag) {
                release();
                answer(tag);
            }
        }, Math.max(1, termMs / 3), TimeUnit.MILLISECONDS);
    }

    /** Tflush of {@code oldtag}: true if it was the held Tcallback, now dropped unanswered. */
    boolean flush(int oldtag) {
        if (heldTag != oldtag || heldTag == NO_TAG) {
            return false;
        }
        release();
        return true;
    }

    /** Trecalled: the client did what recall {@code id} asked. */
    void recalled(int tag, long id) {
        leases.acknowledge(this, id);
        conn.reply(tag, new Message.Rrecalled());
    }

    /**
     * Tversion (a goodbye: {@code vanished} false) ends the leases at once, and nobody waits for
     * this client any more. A connection that vanished leaves its leases standing until the term
     * after its last renewal ({@link LeaseManager#vanished}): it may be partitioned, still trusting
     * its cache.
     */
    void close(boolean vanished) {
        closed = true;
        release();
        queued.clear();
        if (vanished) {
            leases.vanished(this);
        } else {
            leases.disconnected(this);
        }
    }

    private void release() {
        heldTag = NO_TAG;
        if (heartbeat != null) {
            heartbeat.cancel(false);
            heartbeat = null;
        }
    }

    /** Answers {@code tag} with as many queued recalls as fit in the msize; the rest wait for the next Tcallback. */
    private void answer(int tag) {
        int room = conn.msize() - RCALLBACK_HEADER;
        List<Recall> out = new ArrayList<>(Math.min(queued.size(), 64));
        while (!queued.isEmpty() && out.size() < 0xFFFF && queued.peek().encodedSize() <= room) {
            Recall r = queued.poll();
            room -= r.encodedSize();
            out.add(r);
        }
        conn.reply(tag, new Rcallback(termMs, out));
    }
}
