package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rfsync;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tfsync;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.UnaryOperator;
import jnr.ffi.LibraryLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Large reads of what the host's page cache does not hold go around it (O_DIRECT); everything
 * else, and every read where that cannot be done, is read buffered. Each case is checked three
 * ways: the bytes a client gets, the server's count of bytes read directly, and what the host's
 * page cache holds of the file afterwards (cachestat(2)).
 */
class DirectReadTest {
    private static final int MIB = 1 << 20;
    /** Four whole MiB and a tail that ends off any block boundary. */
    private static final int SIZE = 4 * MIB + 1000;
    private static final int O_RDONLY = 0, O_RDWR = 2;

    /** posix_fadvise, to make the host forget a file's clean pages. */
    public interface Fadvise {
        int posix_fadvise(int fd, long offset, long len, int advice);
    }

    private static final Fadvise LIBC = LibraryLoader.create(Fadvise.class).load("c");
    private static final int POSIX_FADV_DONTNEED = 4;

    private ServedExport e;
    private NinepClient c;
    private byte[] data;

    private void serve(UnaryOperator<ServerConfig> tune) throws Exception {
        e = ServedExport.start(tune);
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.getFileStore(e.dir).type().equals("tmpfs"),
                "the export is on tmpfs, whose pages are the files themselves: nothing to read around");
        c = e.attached("9P2000.L");
        data = new byte[SIZE];
        new Random(7).nextBytes(data);
        Path f = e.dir.resolve("big");
        Files.write(f, data);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.getFD().sync();
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (e != null) {
            e.close();
        }
    }

    /** The host forgets the file's pages (clean ones: the file was synced). */
    private void evict() throws Exception {
        assertEquals(0, dropPages());
        assertEquals(0, cached(), "pages still cached after POSIX_FADV_DONTNEED");
    }

    /** posix_fadvise(DONTNEED) of the whole file: its result. */
    private int dropPages() throws Exception {
        int fd = Posix.openat(Posix.AT_FDCWD, e.dir.resolve("big").toString(), Posix.O_RDONLY, 0);
        try {
            return LIBC.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        } finally {
            Posix.close(fd);
        }
    }

    private long cached() throws Exception {
        int fd = Posix.openat(Posix.AT_FDCWD, e.dir.resolve("big").toString(), Posix.O_RDONLY, 0);
        try {
            Posix.CachedPages p = Posix.cachestat(fd, 0, 0);
            assertNotNull(p, "this kernel has no cachestat(2) (Linux 6.5), which direct reads need");
            return p.cached();
        } finally {
            Posix.close(fd);
        }
    }

    private int open(int mode) throws Exception {
        int fid = walk(c, 0, "big");
        c.call(new Tlopen(fid, mode), Rlopen.class);
        return fid;
    }

    private byte[] read(int fid, long offset, int count) throws Exception {
        return ServedExport.read(c, fid, offset, count);
    }

    /** The whole file in Treads of {@code chunk} bytes from {@code from}. */
    private byte[] readAll(int fid, long from, int chunk) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (long off = from; ; off += chunk) {
            byte[] b = read(fid, off, chunk);
            all.write(b);
            if (b.length < chunk) {
                return all.toByteArray();
            }
        }
    }

    @Test
    void aLargeReadOfUncachedDataGoesAroundThePageCache() throws Exception {
        serve(cfg -> cfg);
        evict();
        int f = open(O_RDONLY);
        assertArrayEquals(data, readAll(f, 0, MIB));
        assertEquals(SIZE, e.server.stats().directReadBytes(), "every Tread, the short last one too, read directly");
        assertEquals(0, cached(), "the page cache was not filled");
        clunk(c, f);
    }

    @Test
    void whatThePageCacheHoldsIsReadFromIt() throws Exception {
        serve(cfg -> cfg);
        // Written moments ago: clean but cached.
        int f = open(O_RDONLY);
        assertArrayEquals(data, readAll(f, 0, MIB));
        assertEquals(0, e.server.stats().directReadBytes());
        clunk(c, f);
    }

    @Test
    void smallAndUnalignedReadsAreBuffered() throws Exception {
        serve(cfg -> cfg);
        evict();
        int f = open(O_RDONLY);
        assertArrayEquals(Arrays.copyOfRange(data, 0, 128 << 10), read(f, 0, 128 << 10));
        assertArrayEquals(Arrays.copyOfRange(data, MIB + 1000, 2 * MIB + 1000), read(f, MIB + 1000, MIB));
        assertArrayEquals(Arrays.copyOfRange(data, 3 * MIB, 3 * MIB + 300_000), read(f, 3 * MIB, 300_000));
        assertEquals(0, e.server.stats().directReadBytes());
        assertTrue(cached() > 0, "buffered reads fill the page cache");
        clunk(c, f);
    }

    /**
     * A range another writer left dirty in the page cache is read buffered (a direct read would
     * have to wait for those pages to reach the disk), and the client gets the new bytes: written
     * through the server, and by a process on the server's machine.
     */
    @Test
    void dirtyPagesAreReadFromThePageCache() throws Exception {
        serve(cfg -> cfg);
        evict();
        int w = open(O_RDWR);
        byte[] ours = new byte[8192];
        Arrays.fill(ours, (byte) 'c');
        assertEquals(ours.length, c.call(new Twrite(w, MIB + 4096, Unpooled.wrappedBuffer(ours)), Rwrite.class).count());
        byte[] theirs = new byte[100];
        Arrays.fill(theirs, (byte) 'L');
        try (RandomAccessFile raf = new RandomAccessFile(e.dir.resolve("big").toFile(), "rw")) {
            raf.seek(3 * MIB + 5);
            raf.write(theirs);
        }
        System.arraycopy(ours, 0, data, MIB + 4096, ours.length);
        System.arraycopy(theirs, 0, data, 3 * MIB + 5, theirs.length);

        // The clean MiB first: the buffered reads' readahead would fill the page cache past them.
        int r = open(O_RDONLY);
        for (int m : new int[] {0, 2, 4, 1, 3}) {
            int n = Math.min(MIB, SIZE - m * MIB);
            assertArrayEquals(Arrays.copyOfRange(data, m * MIB, m * MIB + n), read(r, (long) m * MIB, MIB), "MiB " + m);
        }
        assertEquals(2L * MIB + 1000, e.server.stats().directReadBytes(),
                "the two MiB with dirty pages were read buffered, the other three directly");

        // Once on the disk and still cached, the pages are read from the cache.
        c.call(new Tfsync(w, 0), Rfsync.class);
        assertArrayEquals(Arrays.copyOfRange(data, MIB, 2 * MIB), read(r, MIB, MIB));
        assertEquals(2L * MIB + 1000, e.server.stats().directReadBytes());
        clunk(c, w);
        clunk(c, r);
    }

    @Test
    void withoutDirectReadsEveryReadIsBuffered() throws Exception {
        serve(cfg -> cfg.withDirectReads(false));
        evict();
        int f = open(O_RDONLY);
        assertArrayEquals(data, readAll(f, 0, MIB));
        assertEquals(0, e.server.stats().directReadBytes());
        assertTrue(cached() * 4096 >= SIZE - 4096, "the whole file went through the page cache");
        clunk(c, f);
    }

    /**
     * Another client rewrites whole MiB while this one reads them and the host keeps dropping the
     * file's clean pages, so reads go both ways. Each MiB written carries its index and a version
     * in every word: each MiB read is one write's, never a mix, of the MiB asked for, and never
     * older than what an earlier read of it returned; and some reads did go around the cache.
     */
    @Test
    void aDirectReadIsNeverTornByAConcurrentWrite() throws Exception {
        serve(cfg -> cfg);
        NinepClient writer = e.attached("9P2000.L");
        int w = walk(writer, 0, "big");
        writer.call(new Tlopen(w, O_RDWR), Rlopen.class);
        for (int m = 0; m < 4; m++) {
            writer.call(new Twrite(w, (long) m * MIB, stamped(m, 0)), Rwrite.class);
        }
        writer.call(new Tfsync(w, 0), Rfsync.class);
        int r = open(O_RDONLY);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Thread writing = new Thread(() -> {
            try {
                Random rnd = new Random(11);
                for (int k = 1; !stop.get(); k++) {
                    int m = rnd.nextInt(4);
                    writer.call(new Twrite(w, (long) m * MIB, stamped(m, k)), Rwrite.class);
                    // Written back, so that the host may drop the pages and a read go around them.
                    writer.call(new Tfsync(w, 0), Rfsync.class);
                }
            } catch (Throwable t) {
                failed.compareAndSet(null, t);
            }
        }, "writer");
        Thread evicting = new Thread(() -> {
            try {
                while (!stop.get()) {
                    dropPages();
                    Thread.sleep(1);
                }
            } catch (Throwable t) {
                failed.compareAndSet(null, t);
            }
        }, "evictor");
        writing.start();
        evicting.start();
        try {
            Random rnd = new Random(13);
            int[] seen = new int[4];
            long until = System.nanoTime() + 2_000_000_000L;
            int reads = 0;
            while (System.nanoTime() < until || e.server.stats().directReadBytes() == 0 && reads < 20_000) {
                int m = rnd.nextInt(4);
                java.nio.IntBuffer words = java.nio.ByteBuffer.wrap(read(r, (long) m * MIB, MIB)).asIntBuffer();
                assertEquals(MIB / 4, words.remaining());
                int stamp = words.get(0);
                for (int i = 1; i < MIB / 4; i++) {
                    if (words.get(i) != stamp) {
                        throw new AssertionError("MiB " + m + " torn at byte " + 4 * i + ": "
                                + Integer.toHexString(words.get(i)) + " after " + Integer.toHexString(stamp));
                    }
                }
                assertEquals(m, stamp >>> 24, "MiB " + m + " read another MiB's bytes");
                assertTrue((stamp & 0xFFFFFF) >= seen[m], "MiB " + m + " went back in time");
                seen[m] = stamp & 0xFFFFFF;
                reads++;
            }
        } finally {
            stop.set(true);
            writing.join(10_000);
            evicting.join(10_000);
        }
        if (failed.get() != null) {
            throw new AssertionError("writer or evictor failed", failed.get());
        }
        assertTrue(e.server.stats().directReadBytes() > 0, "no read went around the cache");
        clunk(c, r);
        clunk(writer, w);
    }

    /** A MiB whose every big-endian word is {@code m << 24 | version}. */
    private static io.netty.buffer.ByteBuf stamped(int m, int version) {
        io.netty.buffer.ByteBuf b = Unpooled.buffer(MIB);
        for (int i = 0; i < MIB / 4; i++) {
            b.writeInt(m << 24 | (version & 0xFFFFFF));
        }
        return b;
    }

    /** A file system that refuses O_DIRECT (EINVAL) leaves the fid reading buffered, for good. */
    @Test
    void aFileSystemRefusingDirectReadsIsReadBuffered() throws Exception {
        serve(cfg -> cfg);
        evict();
        Posix.refuseDirectOpens(true);
        int f;
        try {
            f = open(O_RDONLY);
            assertArrayEquals(Arrays.copyOfRange(data, 0, MIB), read(f, 0, MIB));
        } finally {
            Posix.refuseDirectOpens(false);
        }
        assertEquals(0, e.server.stats().directReadBytes());
        evict();
        assertArrayEquals(data, readAll(f, 0, MIB));
        assertEquals(0, e.server.stats().directReadBytes(), "the fid does not try again");
        clunk(c, f);
    }
}
