package io.c9fs.server;

import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.server.NinepHandler;
import io.c9fs.transport.server.ServerConnection;
import java.util.concurrent.Executor;

/**
 * The {@link NinepHandler} of one client connection: after each Tversion it starts a fresh
 * {@link Session} and {@link RequestQueue} in the negotiated dialect and msize, and hands every
 * request to the queue. A re-version or a disconnect closes the queue, which clunks all the
 * session's fids (closing their descriptors and so dropping their locks).
 *
 * <p>On a 9P2000.L.c9 connection the recall channel bypasses the queue: Tcallback, Trecalled and
 * Tflush of a held Tcallback go to the {@link CallbackChannel} on the event loop, so that
 * acknowledgements are never stuck behind requests waiting for them.
 *
 * <p>Threading: every method is called on the connection's event loop (NinepHandler's contract),
 * so {@code queue} needs no lock. Replies go out from worker threads through
 * {@link ServerConnection#reply}, which is thread-safe.
 */
final class ConnectionService implements NinepHandler {
    private final FileServer server;
    private final Executor workers;
    private RequestQueue queue;
    private CallbackChannel callbacks;

    ConnectionService(FileServer server, Executor workers) {
        this.server = server;
        this.workers = workers;
        server.stats().connections.incrementAndGet();
    }

    @Override
    public void request(ServerConnection conn, Fcall tcall) {
        if (queue == null) {
            if (conn.dialect().hasLeases()) {
                callbacks = new CallbackChannel(conn, server.leases().leases());
            }
            Session session = new Session(server.export(), conn.dialect(), conn.msize(),
                    server.config().limits(), server.config().authToken(), server.stats(),
                    conn.channel().alloc(), this, server.leases(), callbacks);
            queue = new RequestQueue(session, workers, new Sink(conn),
                    server.config().limits().maxInFlight());
        }
        Message m = tcall.message();
        if (m instanceof Message.Tcallback) {
            callbacks.callback(tcall.tag());
        } else if (m instanceof Message.Trecalled t) {
            callbacks.recalled(tcall.tag(), t.id());
        } else if (m instanceof Message.Tflush f) {
            if (callbacks != null && callbacks.flush(f.oldtag())) {
                conn.reply(tcall.tag(), new Message.Rflush());
            } else {
                queue.flush(tcall.tag(), f.oldtag());
            }
        } else {
            queue.submit(tcall.tag(), m);
        }
    }

    /**
     * A Tversion on the established session (the channel is still active) is the client's
     * goodbye: its fids, locks and leases go at once. A connection that closed without one
     * vanished: its fids go (their locks are remembered for reclaims), its leases stand until the
     * term after their last renewal, since a partitioned client may still trust its cache.
     */
    @Override
    public void reset(ServerConnection conn) {
        boolean vanished = !conn.channel().isActive();
        if (callbacks != null) {
            callbacks.close(vanished);
            callbacks = null;
        }
        if (queue != null) {
            queue.close(vanished);
            queue = null;
        }
        if (vanished) {
            server.stats().vanished.incrementAndGet();
        } else {
            server.stats().goodbyes.incrementAndGet();
            conn.clearPauses();
        }
    }

    @Override
    public void disconnected(ServerConnection conn) {
        server.stats().connections.decrementAndGet();
    }

    private static final class Sink implements RequestQueue.Sink {
        private final ServerConnection conn;

        Sink(ServerConnection conn) {
            this.conn = conn;
        }

        @Override
        public void reply(int tag, Message r) {
            conn.reply(tag, r);
        }

        @Override
        public void error(int tag, int errno) {
            conn.error(tag, errno);
        }

        @Override
        public void flushed(int tag) {
            // Through the event loop's task queue, so it is written after replies that other
            // threads have already queued there.
            conn.channel().eventLoop().execute(() -> conn.reply(tag, new Message.Rflush()));
        }

        @Override
        public boolean repliesInTransit() {
            return conn.repliesInTransit();
        }

        @Override
        public void reading(boolean on) {
            conn.pauseReading(!on);
        }
    }
}
