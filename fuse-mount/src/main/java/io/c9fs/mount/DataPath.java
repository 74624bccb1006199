package io.c9fs.mount;

import io.c9fs.cache.BlockLoader;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseRequest;
import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rwrite;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * READ and WRITE as 9P Tread/Twrite on an open fid, the same in every dialect. A kernel request
 * (up to 1 MiB) is cut into pieces of at most the fid's iounit, all sent at once so their round
 * trips overlap; a FUSE_INTERRUPT flushes every piece still pending.
 *
 * <p>Threads: any worker; stateless.
 */
final class DataPath {
    private DataPath() {
    }

    /** Reads up to {@code size} bytes at {@code offset} into {@code dst}; fewer only at end of file. */
    static int read(Rpc rpc, FuseRequest r, int fid, int chunk, long offset, int size, ByteBuffer dst)
            throws FuseException {
        List<CompletableFuture<Rread>> parts = new ArrayList<>();
        for (int done = 0; done < size; done += chunk) {
            int n = Math.min(chunk, size - done);
            parts.add(rpc.send(new Message.Tread(fid, offset + done, n), Rread.class));
        }
        r.onInterrupt(() -> parts.forEach(f -> f.cancel(true)));
        int total = 0;
        int i = 0;
        try {
            for (; i < parts.size(); i++) {
                int want = Math.min(chunk, size - i * chunk);
                Rread rr = rpc.await(null, parts.get(i));
                int got;
                try {
                    ByteBuf data = rr.data();
                    got = Math.min(data.readableBytes(), want);
                    ByteBuffer into = dst.duplicate();
                    into.limit(into.position() + got);
                    data.getBytes(data.readerIndex(), into);
                    dst.position(dst.position() + got);
                } finally {
                    rr.release();
                }
                total += got;
                if (got < want) {
                    // End of file: the pieces after it read nothing, or bytes written since,
                    // which must not be glued after a hole.
                    i++;
                    break;
                }
            }
            return total;
        } finally {
            for (; i < parts.size(); i++) {
                Rpc.discard(parts.get(i));
            }
        }
    }

    /**
     * Reads {@code into.length()} bytes at {@code offset} into the page cache's blocks without
     * blocking the caller: for the page cache, which loads ahead of sequential readers while they
     * are answered from blocks already there. Pieces of at most {@code chunk} bytes are all in
     * flight at once and are copied once every piece is in (so nothing is stored after the future
     * completes, as {@link BlockLoader} requires); the count stops at the first short piece (end of
     * file). Not interruptible: no process waits on it directly.
     */
    static CompletableFuture<Integer> readAsync(Rpc rpc, int fid, int chunk, long offset, BlockLoader.Destination into) {
        int size = into.length();
        List<CompletableFuture<Rread>> parts = new ArrayList<>();
        for (int done = 0; done < size; done += chunk) {
            parts.add(rpc.send(new Message.Tread(fid, offset + done, Math.min(chunk, size - done)), Rread.class));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            if (err != null) {
                parts.forEach(Rpc::discard);
                throw new java.util.concurrent.CompletionException(Rpc.error(err));
            }
            int total = 0;
            boolean ended = false;
            for (int i = 0; i < parts.size(); i++) {
                Rread rr = parts.get(i).join();
                try {
                    if (ended) {
                        continue;
                    }
                    int want = Math.min(chunk, size - i * chunk);
                    ByteBuf data = rr.data();
                    int got = Math.min(data.readableBytes(), want);
                    for (ByteBuffer b : data.nioBuffers(data.readerIndex(), got)) {
                        into.put(total, b);
                        total += b.remaining();
                    }
                    // End of file: what later pieces read (bytes written since) must not be
                    // glued after a hole.
                    ended = got < want;
                } finally {
                    rr.release();
                }
            }
            return total;
        });
    }

    /**
     * Sends {@code src}'s remaining bytes at {@code offset} as Twrites (copies: {@code src} may be
     * reused once this returns) and returns at once (write-behind). The future completes with the
     * count that landed as a prefix, or fails if none did; a Twrite is never cancelled by it.
     */
    static CompletableFuture<Integer> writeAsync(Rpc rpc, int fid, int chunk, long offset, ByteBuffer src) {
        int size = src.remaining();
        List<CompletableFuture<Rwrite>> parts = send(rpc, fid, chunk, offset, src);
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            int total = 0;
            Throwable failure = null;
            for (int i = 0; i < parts.size(); i++) {
                int want = Math.min(chunk, size - i * chunk);
                CompletableFuture<Rwrite> p = parts.get(i);
                if (p.isCompletedExceptionally()) {
                    if (failure == null) {
                        failure = p.handle((x, e) -> e).join();
                    }
                    continue;
                }
                int got = p.join().count();
                if (failure == null) {
                    total += Math.min(got, want);
                    if (got < want) {
                        failure = new FuseException(Errno.EIO, "short write");
                    }
                }
            }
            if (failure != null && total == 0) {
                throw new java.util.concurrent.CompletionException(Rpc.error(failure));
            }
            return total;
        });
    }

    private static List<CompletableFuture<Rwrite>> send(Rpc rpc, int fid, int chunk, long offset, ByteBuffer src) {
        int size = src.remaining();
        List<CompletableFuture<Rwrite>> parts = new ArrayList<>();
        for (int done = 0; done < size; done += chunk) {
            int n = Math.min(chunk, size - done);
            // A copy: src is the worker's request buffer, reused once we return, while a flushed
            // or timed-out Twrite may still sit in the client's outbound queue. From the
            // allocator the connection's own buffers come from: PooledByteBufAllocator, called
            // from a worker (no thread cache), created and zeroed a fresh 4 MiB chunk for about
            // every 1 MiB WRITE and dropped it again when the Twrite was sent.
            ByteBuf data = ByteBufAllocator.DEFAULT.directBuffer(n);
            ByteBuffer slice = src.duplicate();
            slice.position(src.position() + done).limit(src.position() + done + n);
            data.writeBytes(slice);
            parts.add(rpc.send(new Message.Twrite(fid, offset + done, data), Rwrite.class));
        }
        return parts;
    }

    /**
     * Writes {@code src}'s remaining bytes at {@code offset}. Returns how many landed as a prefix;
     * an error only if none did (a short count is how write(2) reports a partial write).
     */
    static int write(Rpc rpc, FuseRequest r, int fid, int chunk, long offset, ByteBuffer src) throws FuseException {
        int size = src.remaining();
        List<CompletableFuture<Rwrite>> parts = send(rpc, fid, chunk, offset, src);
        r.onInterrupt(() -> parts.forEach(f -> f.cancel(true)));
        int total = 0;
        FuseException failure = null;
        for (int i = 0; i < parts.size(); i++) {
            int want = Math.min(chunk, size - i * chunk);
            try {
                int got = rpc.await(null, parts.get(i)).count();
                if (failure == null) {
                    total += Math.min(got, want);
                    if (got < want) {
                        failure = new FuseException(Errno.EIO, "short write");
                    }
                }
            } catch (FuseException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null && total == 0) {
            throw failure;
        }
        return total;
    }
}
