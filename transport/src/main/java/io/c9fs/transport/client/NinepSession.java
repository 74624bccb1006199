package io.c9fs.transport.client;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import java.util.concurrent.CompletableFuture;

/**
 * What a mount needs of a 9P server: requests with replies matched for it, fid numbers, and the
 * negotiated dialect and sizes. {@link NinepClient} is one connection, which dies with its
 * socket; {@link RedialingSession} outlives connections (docs/reconnect.md): it redials, restores
 * every fid under the same number, and replays what can be replayed.
 *
 * <p>Threads: every method may be called from any thread; {@link #call} never on an event loop.
 */
public interface NinepSession extends AutoCloseable {
    /**
     * Sends {@code request}; the future completes with the reply or exceptionally with a
     * {@link NinepException} (the server's errno, or a transport one). Cancelling the future
     * flushes the request (or withdraws it, if it waits for a connection). A Twrite's data is
     * consumed.
     */
    CompletableFuture<Message> rpc(Message request);

    /** {@link #rpc(Message)} expecting reply type {@code reply}; any other is NinepException(EPROTO). */
    default <R extends Message> CompletableFuture<R> rpc(Message request, Class<R> reply) {
        CompletableFuture<Message> f = rpc(request);
        CompletableFuture<R> typed = f.thenApply(m -> {
            if (!reply.isInstance(m)) {
                m.release();
                throw new java.util.concurrent.CompletionException(new NinepException(
                        io.c9fs.transport.Errno.EPROTO, server() + " answered " + m.getClass().getSimpleName()
                        + " where " + reply.getSimpleName() + " was due"));
            }
            return reply.cast(m);
        });
        typed.whenComplete((r, ex) -> {
            if (ex instanceof java.util.concurrent.CancellationException) {
                f.cancel(true);
            }
        });
        return typed;
    }

    /** Sends {@code request} and waits for the reply (bounded as {@link #waitBoundNanos} says). */
    <R extends Message> R call(Message request, Class<R> reply) throws NinepException;

    /** Tattach {@code fid} (no auth fid) with the config's n_uname; returns the root qid. */
    default Qid attach(int fid, String uname, String aname) throws NinepException {
        return call(new Message.Tattach(fid, Message.NOFID, uname, aname, config().nUname()),
                Message.Rattach.class).qid();
    }

    /** A fid number not in use; never NOFID. */
    int allocFid();

    /** Returns {@code fid} for reuse; call after its Tclunk/Tremove was answered (or failed). */
    void freeFid(int fid);

    Dialect dialect();

    int msize();

    /** The largest read or write count that fits one message: msize - IOHDRSZ. */
    default int iounit() {
        return msize() - Message.IOHDRSZ;
    }

    /** The server address, as dialled. */
    String server();

    ClientConfig config();

    /** True while requests can be sent now (a redialing session between connections: false). */
    boolean isOpen();

    /**
     * How long a caller should wait for one reply before giving up on its own: a request that
     * the session will still answer must not be abandoned earlier. {@link Long#MAX_VALUE} for a
     * hard session, which blocks until the server is back.
     */
    default long waitBoundNanos() {
        return config().requestTimeout().plusSeconds(2).toNanos();
    }

    /** Completes when the session has ended for good (for a redialing one: closed). */
    CompletableFuture<Void> closeFuture();

    /** Counters, for {@code c9fs stats}. */
    NinepClient.Stats stats();

    /** Ends the session; pending requests fail. */
    @Override
    void close();
}
