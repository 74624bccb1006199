package io.c9fs.transport.testing;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.server.NinepHandler;
import io.c9fs.transport.server.NinepServer;
import io.c9fs.transport.server.ServerConnection;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real {@link NinepServer} on 127.0.0.1 whose handler answers nothing by itself: every request
 * is queued for the test thread, which answers (or not) through {@link Request#conn}. For tests
 * of the client's tag, flush, timeout and failure handling.
 */
public final class ScriptedServer implements AutoCloseable {
    /** A request as the server received it. */
    public record Request(ServerConnection conn, Fcall fcall) {
        public int tag() {
            return fcall.tag();
        }
    }

    private final BlockingQueue<Request> requests = new LinkedBlockingQueue<>();
    private final AtomicInteger resets = new AtomicInteger();
    private final AtomicInteger disconnects = new AtomicInteger();
    private final NinepServer server;

    public ScriptedServer(Set<Dialect> dialects, int maxMsize) throws IOException {
        this(NinepAddress.tcp("127.0.0.1", 0), dialects, maxMsize);
    }

    public ScriptedServer(NinepAddress where, Set<Dialect> dialects, int maxMsize) throws IOException {
        server = NinepServer.bind(where, maxMsize, dialects, () -> new NinepHandler() {
            @Override
            public void request(ServerConnection conn, Fcall tcall) {
                requests.add(new Request(conn, tcall));
            }

            @Override
            public void reset(ServerConnection conn) {
                resets.incrementAndGet();
            }

            @Override
            public void disconnected(ServerConnection conn) {
                disconnects.incrementAndGet();
            }
        });
    }

    public NinepAddress address() {
        return server.address();
    }

    /** The next request, waiting at most 10 s (fails the test otherwise). */
    public Request next() throws InterruptedException {
        Request r = requests.poll(10, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("no request reached the server within 10 s");
        }
        return r;
    }

    /** The next request if one comes within {@code millis}, else null. */
    public Request poll(long millis) throws InterruptedException {
        return requests.poll(millis, TimeUnit.MILLISECONDS);
    }

    public int resets() {
        return resets.get();
    }

    public int disconnects() {
        return disconnects.get();
    }

    @Override
    public void close() {
        server.close();
        Request r;
        while ((r = requests.poll()) != null) {
            r.fcall().message().release();
        }
    }
}
