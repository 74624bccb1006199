package io.c9fs.mount;

import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseRequest;
import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepSession;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Message;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Turns 9P exchanges into the blocking, bounded, interruptible calls a FUSE worker makes.
 *
 * <p>Every wait is bounded by the request timeout (plus a margin for the client's own timer), so
 * a dead or silent server yields EIO, never a hung worker; except on a hard redialing session
 * ({@link NinepSession#waitBoundNanos}), where a call waits for the server to come back and only
 * an interrupt ends it sooner. A FUSE_INTERRUPT cancels the pending
 * future, which makes the client send Tflush; the caller sees EINTR. Server errors keep their
 * errno (9P2000.L Rlerror carries Linux errnos); an error without one becomes EIO.
 *
 * <p>Threads: any worker; stateless apart from the client.
 */
final class Rpc {
    private final NinepSession client;
    private final long boundNanos;

    Rpc(NinepSession client, Duration requestTimeout) {
        this.client = client;
        // A redialing hard session answers every request eventually (or the caller interrupts):
        // waiting less would turn an outage into EIO, which is what soft is for.
        this.boundNanos = Math.max(requestTimeout.plusSeconds(2).toNanos(), client.waitBoundNanos());
    }

    /** Sends {@code request} and waits for its reply of type {@code reply}. */
    <R extends Message> R call(FuseRequest r, Message request, Class<R> reply) throws FuseException {
        return await(r, client.rpc(request, reply));
    }

    /**
     * Sends {@code request} and returns at once; the caller waits with {@link #await} and sets up
     * its own interrupt hook (several requests in flight share one), or none on paths that must
     * finish.
     */
    <R extends Message> CompletableFuture<R> send(Message request, Class<R> reply) {
        return client.rpc(request, reply);
    }

    /**
     * {@code f}, failing with a timeout after the bound {@link #await} would wait (never on a hard
     * redialing session); {@code f} itself is left alone. For replies nobody awaits (write-behind).
     */
    <R> CompletableFuture<R> bounded(CompletableFuture<R> f) {
        return boundNanos == Long.MAX_VALUE ? f : f.copy().orTimeout(boundNanos, TimeUnit.NANOSECONDS);
    }

    /** Waits for {@code f}; a FUSE_INTERRUPT of {@code r} (may be null) cancels it. */
    <R> R await(FuseRequest r, CompletableFuture<R> f) throws FuseException {
        if (r != null) {
            r.onInterrupt(() -> f.cancel(true));
        }
        try {
            return boundNanos == Long.MAX_VALUE ? f.get() : f.get(boundNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new FuseException(Errno.EINTR, "worker interrupted");
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new FuseException(Errno.EIO, "9P request timed out");
        } catch (CancellationException e) {
            throw new FuseException(Errno.EINTR, "interrupted");
        } catch (ExecutionException e) {
            throw error(e.getCause());
        }
    }

    /** Clunks a fid in the background and returns its number to the client's pool. */
    /** A new fid walked from {@code from} to its entry {@code name}; ENOENT if there is none. */
    int walk(FuseRequest r, int from, String name) throws FuseException {
        int fid = client.allocFid();
        Message.Rwalk w;
        try {
            w = call(r, new Message.Twalk(from, fid, List.of(name)), Message.Rwalk.class);
        } catch (FuseException e) {
            abandon(fid, e);
            throw e;
        }
        if (w.wqids().size() != 1) {
            // walk(5): a partial walk leaves newfid unassigned.
            client.freeFid(fid);
            throw new FuseException(Errno.ENOENT);
        }
        return fid;
    }

    /** True if directory {@code dirFid} has an entry {@code name} (a walk, then a clunk). */
    boolean exists(FuseRequest r, int dirFid, String name) throws FuseException {
        try {
            clunk(walk(r, dirFid, name));
            return true;
        } catch (FuseException e) {
            if (e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
    }

    /** A new fid for the same file as {@code from} (a walk of no names). */
    int clone(FuseRequest r, int from) throws FuseException {
        int fid = client.allocFid();
        try {
            call(r, new Message.Twalk(from, fid, List.of()), Message.Rwalk.class);
        } catch (FuseException e) {
            abandon(fid, e);
            throw e;
        }
        return fid;
    }

    void clunk(int fid) {
        // Sent even while a redialing session is between connections: the fid is restored on
        // the next one unless its clunk says otherwise, so its number is free only after that.
        client.rpc(new Message.Tclunk(fid), Message.Rclunk.class)
                .whenComplete((ok, err) -> client.freeFid(fid));
    }

    /**
     * A request that would have created {@code fid} on the server (Twalk, Txattrwalk) or destroyed
     * it (Tremove) did not get its answer. If the server refused, the number is free again. If the
     * request was flushed or timed out, the server may have acted on it anyway, so the fid is
     * clunked before its number is reused (a clunk of an unknown fid fails harmlessly).
     */
    void abandon(int fid, FuseException why) {
        if (why.errno() == Errno.EINTR || why.errno() == Errno.EIO) {
            clunk(fid);
        } else {
            client.freeFid(fid);
        }
    }

    /** Releases the payload of a reply that will arrive for a future nobody waits on any more. */
    static void discard(CompletableFuture<? extends Message> f) {
        f.thenAccept(Message::release);
    }

    /**
     * The errnos the client reports when the server, not the operation, failed (no reply in time,
     * connection lost, garbled reply). Programs see these as EIO, the traditional "the storage
     * behind this file is gone" (a server's own Rlerror of one of these is rare enough to share it).
     */
    private static boolean lostServer(int errno) {
        return errno == Errno.ETIMEDOUT || errno == Errno.ECONNRESET || errno == Errno.ECONNABORTED
                || errno == Errno.EPIPE || errno == Errno.ENOTCONN || errno == Errno.EPROTO;
    }

    /** The errno a failed exchange means for the kernel. */
    static FuseException error(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof FuseException) {
            return (FuseException) t;
        }
        if (t instanceof CancellationException) {
            return new FuseException(Errno.EINTR, "interrupted");
        }
        if (t instanceof NinepException) {
            int errno = ((NinepException) t).errno();
            return new FuseException(lostServer(errno) || errno <= 0 ? Errno.EIO : errno, t.getMessage());
        }
        return new FuseException(Errno.EIO, String.valueOf(t));
    }
}
