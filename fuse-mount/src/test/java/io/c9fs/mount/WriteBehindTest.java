package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.c9fs.server.FileServer;
import io.c9fs.server.ServerConfig;
import io.c9fs.transport.client.NinepAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Write-behind (docs/coherence.md): a WRITE of a write-leased file is answered before the server
 * answers its Twrites. What a process may observe after write(2) returned must not change: its
 * own reads through another descriptor, another mount's stat, listing and read (clauses 1 and 5),
 * and a Twrite that fails afterwards is reported at fsync (errseq), never lost silently.
 */
@Tag("mount")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class WriteBehindTest {
    static final int MIB = 1 << 20;

    Path scratch;
    Path export;
    boolean tmpfs;
    FileServer server;
    Process a;
    Process b;
    Path mntA;
    Path mntB;

    TcpRelay throttle;
    /** Mount options of a. */
    String optionsA = "timeout=30";

    void start(boolean smallDisk, boolean two) throws Exception {
        start(smallDisk, two, 0);
    }

    /** {@code throttleBytes}: a's bytes to the server go through a relay at that rate (0: direct). */
    void start(boolean smallDisk, boolean two, int throttleBytes) throws Exception {
        TestEnv.requireFuse();
        scratch = TestEnv.freshDir("writebehind");
        export = Files.createDirectory(scratch.resolve("export"));
        if (smallDisk) {
            TestEnv.require(Main.uid() == 0, "root (to mount a tmpfs export)");
            TestEnv.Result m = TestEnv.run(null, 20, "mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs",
                    export.toString());
            TestEnv.require(m.status() == 0, "a tmpfs mount (" + m.output().strip() + ")");
            tmpfs = true;
        }
        server = FileServer.start(ServerConfig.of(export, NinepAddress.tcp("127.0.0.1", 0)).withLeases(true));
        mntA = Files.createDirectory(scratch.resolve("a"));
        int portA = server.port();
        if (throttleBytes > 0) {
            throttle = new TcpRelay(server.port(), throttleBytes);
            portA = throttle.port();
        }
        a = MountDaemon.start("127.0.0.1:" + portA, mntA, optionsA, scratch.resolve("a.log"));
        if (two) {
            mntB = Files.createDirectory(scratch.resolve("b"));
            b = MountDaemon.start("127.0.0.1:" + server.port(), mntB, "timeout=30", scratch.resolve("b.log"));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            for (Path m : new Path[] {mntA, mntB}) {
                if (m != null && MountedFs.isMounted(m)) {
                    TestEnv.run(null, 30, "umount", m.toString());
                    if (MountedFs.isMounted(m)) {
                        TestEnv.forceUnmount(m);
                    }
                }
            }
            for (Process p : new Process[] {a, b}) {
                if (p != null) {
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        p.destroyForcibly();
                        p.waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        } finally {
            if (throttle != null) {
                throttle.close();
            }
            try {
                if (server != null) {
                    server.close();
                }
            } finally {
                if (tmpfs) {
                    TestEnv.run(null, 20, "umount", "-l", export.toString());
                }
                TestEnv.delete(scratch);
            }
        }
    }

    static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** The size of {@code name} as a listing of {@code dir} shows it; -1 if it is not listed. */
    static long listedSize(Path dir, String name) throws IOException {
        long listed = -1;
        try (DirectoryStream<Path> d = Files.newDirectoryStream(dir)) {
            for (Path p : d) {
                if (p.getFileName().toString().equals(name)) {
                    listed = Files.readAttributes(p, BasicFileAttributes.class).size();
                }
            }
        }
        return listed;
    }

    static byte[] read(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf, at + buf.position()) < 0) {
                break;
            }
        }
        return java.util.Arrays.copyOf(buf.array(), buf.position());
    }

    @Test
    void aWriteThatFailsBehindIsReportedAtFsync() throws Exception {
        start(true, false);
        Path f = mntA.resolve("full");
        int writes = 0;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            // 4 MiB into a 1 MiB disk: with the file under this mount's write lease every WRITE is
            // answered before its Twrite, so the failures can only come at fsync.
            byte[] chunk = random(1, 256 * 1024);
            IOException failed = null;
            for (int i = 0; i < 16; i++) {
                try {
                    ch.write(ByteBuffer.wrap(chunk), (long) i * chunk.length);
                    writes++;
                } catch (IOException e) {
                    failed = e;
                    break;
                }
            }
            if (failed == null) {
                try {
                    ch.force(true);
                    fail("fsync succeeded although 4 MiB cannot fit a 1 MiB disk");
                } catch (IOException e) {
                    failed = e;
                }
            }
            assertTrue(String.valueOf(failed.getMessage()).contains("No space left"), String.valueOf(failed));
            // errseq: reported once to this descriptor; what is left to write fits nothing, but
            // nothing new was written, so a second fsync has nothing to report.
            ch.force(true);
        }
        String log = Files.readString(scratch.resolve("a.log"));
        assertTrue(writes == 16 && log.contains("behind failed"),
                "the writes were not written behind (" + writes + " of 16 returned): " + log);
    }

    @Test
    void anotherDescriptorReadsWhatWasJustWritten() throws Exception {
        start(false, false);
        Path f = mntA.resolve("f");
        Files.write(f, new byte[0]);
        try (FileChannel w = FileChannel.open(f, StandardOpenOption.WRITE);
             FileChannel r = FileChannel.open(f, StandardOpenOption.READ)) {
            for (int i = 0; i < 12; i++) {
                byte[] chunk = random(100 + i, MIB);
                assertEquals(MIB, w.write(ByteBuffer.wrap(chunk), (long) i * MIB));
                assertEquals((long) (i + 1) * MIB, Files.size(f), "size after write " + i);
                assertArrayEquals(chunk, read(r, (long) i * MIB, MIB), "bytes of write " + i);
                // a part of the chunk too, so a read that is not served by the kernel's pages
                assertArrayEquals(java.util.Arrays.copyOfRange(chunk, 4096, 8192), read(r, (long) i * MIB + 4096, 4096));
            }
            w.force(true);
        }
        byte[] all = Files.readAllBytes(export.resolve("f"));
        assertEquals(12L * MIB, all.length);
        for (int i = 0; i < 12; i++) {
            assertArrayEquals(random(100 + i, MIB), java.util.Arrays.copyOfRange(all, i * MIB, (i + 1) * MIB));
        }
    }

    /**
     * What another mount sees once a's write(2)s returned, with a's Twrites slowed to 16 MiB/s
     * (a relay), so that 8 MiB written behind take half a second to land and b always looks
     * while they are in flight. b holds a lease on the file before a writes (it stat'ed it): the
     * hole write-behind had while any write lease allowed it (docs/coherence.md, "Write-behind"):
     * b's size, refreshed only as each Twrite landed, showed 0 or a part; now a is not the file's
     * sole holder and writes through. b knows nothing of the file: a writes behind, and b's
     * lookup (its first fid on the file) or listing waits for a's writes to land.
     */
    @Test
    void anotherMountSeesTheWholeSizeWhileTheWritesAreStillInFlight() throws Exception {
        start(false, true, 16 * MIB);
        byte[] chunk = random(300, MIB);
        for (int i = 0; i < 9; i++) {
            String name = "h" + i;
            Path fa = mntA.resolve(name);
            Path fb = mntB.resolve(name);
            Files.write(fa, new byte[0]);
            if (i % 3 == 0) {
                assertEquals(0, Files.size(fb));
            }
            try (FileChannel w = FileChannel.open(fa, StandardOpenOption.WRITE)) {
                for (int k = 0; k < 8; k++) {
                    assertEquals(MIB, w.write(ByteBuffer.wrap(chunk), (long) k * MIB));
                }
                if (i % 3 == 2) {
                    assertEquals(8L * MIB, listedSize(mntB, name), "b's listing after a's writes, " + name);
                }
                assertEquals(8L * MIB, Files.size(fb), "b's stat after a's writes, " + name);
            }
        }
    }

    /**
     * Under the sole write lease a close does not wait for the writes behind (as NFS closes a file
     * it holds a write delegation for), yet another mount that opens the file right after, while
     * they are still on their way (a's link to the server is slow), reads every byte: its open
     * recalls a's lease, and the recall waits for them.
     */
    @Test
    void closeDoesNotWaitUnderTheSoleLeaseAndAnotherMountStillReadsEverything() throws Exception {
        start(false, true, 4 * MIB);
        byte[] chunk = random(400, MIB);
        Path fa = mntA.resolve("c");
        try (FileChannel w = FileChannel.open(fa, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
            for (int k = 0; k < 6; k++) {
                assertEquals(MIB, w.write(ByteBuffer.wrap(chunk), (long) k * MIB));
            }
        }
        long atServer = Files.size(export.resolve("c"));
        assertTrue(atServer < 6L * MIB, "closed before its writes reached the server (" + atServer + " bytes there)");
        try (FileChannel r = FileChannel.open(mntB.resolve("c"), StandardOpenOption.READ)) {
            assertEquals(6L * MIB, r.size(), "b's size of the file a closed");
            for (int k = 0; k < 6; k++) {
                assertArrayEquals(chunk, read(r, (long) k * MIB, MIB), "b's read of MiB " + k);
            }
        }
        assertEquals(6L * MIB, Files.size(export.resolve("c")));
    }

    /**
     * 4 KiB WRITEs are gathered into far fewer Twrites (WriteGather), and nothing another mount or
     * the server machine can observe changes: b's stat and read while a still writes see every
     * byte a's write(2)s returned (b's look recalls a's lease, whose acknowledgement sends and
     * waits for what is gathered), and the server has all of it once a's close(2) returned and b
     * read the file.
     */
    @Test
    void smallWritesAreGatheredAndNothingObservableChanges() throws Exception {
        start(false, true);
        byte[] data = random(500, 8 * MIB);
        Path fa = mntA.resolve("small");
        try (FileChannel w = FileChannel.open(fa, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
            long before = server.stats().answered();
            for (int off = 0; off < data.length; off += 4096) {
                assertEquals(4096, w.write(ByteBuffer.wrap(data, off, 4096), off));
                if (off == 5 * MIB) {
                    // b's look ends write-behind of the file (the rest is written through).
                    long requests = server.stats().answered() - before;
                    assertTrue(requests < 256, requests + " requests for the first 1,281 WRITEs of 4 KiB");
                    assertEquals(5 * MIB + 4096, Files.size(mntB.resolve("small")), "b's stat while a writes");
                }
            }
        }
        try (FileChannel r = FileChannel.open(mntB.resolve("small"), StandardOpenOption.READ)) {
            assertArrayEquals(data, read(r, 0, data.length), "b's read of the whole file");
        }
        assertArrayEquals(data, Files.readAllBytes(export.resolve("small")), "the server's copy");
    }

    /**
     * With a 64 KiB msize a chunk is smaller than the largest WRITE that is gathered: such WRITEs
     * go as they come, the smaller ones are gathered, and the bytes are the bytes.
     */
    @Test
    void writesLargerThanASmallChunkAreNotGathered() throws Exception {
        optionsA = "timeout=30,msize=65560";
        start(false, false);
        byte[] data = random(600, 3 * MIB + 777);
        try (FileChannel w = FileChannel.open(mntA.resolve("odd"), StandardOpenOption.WRITE,
                StandardOpenOption.CREATE_NEW)) {
            int[] sizes = {100 * 1024, 4096, 70 * 1024, 300, 200 * 1024};
            int off = 0;
            for (int i = 0; off < data.length; i++) {
                int n = Math.min(sizes[i % sizes.length], data.length - off);
                assertEquals(n, w.write(ByteBuffer.wrap(data, off, n), off));
                off += n;
            }
            w.force(false);
            assertArrayEquals(data, Files.readAllBytes(export.resolve("odd")), "the server's copy after fsync");
        }
        assertArrayEquals(data, Files.readAllBytes(mntA.resolve("odd")));
    }

    @Test
    void anotherMountSeesBytesAndSizeOnceWriteReturned() throws Exception {
        start(false, true);
        // A file per round: b's first look at a file a writes ends write-behind of it until a
        // closes it (b may cache what it saw), so each way of looking gets files of its own.
        for (int i = 0; i < 12; i++) {
            String name = "g" + i;
            Path fa = mntA.resolve(name);
            Path fb = mntB.resolve(name);
            Files.write(fa, new byte[0]);
            if (i % 2 == 1) {
                // b knows the file and caches its attributes under its lease before a writes
                assertEquals(0, Files.size(fb));
            }
            byte[] chunk = random(200 + i, MIB);
            long want = 3L * MIB;
            try (FileChannel w = FileChannel.open(fa, StandardOpenOption.WRITE)) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(MIB, w.write(ByteBuffer.wrap(chunk), (long) k * MIB));
                }
                switch (i / 2 % 3) {
                    case 0:
                        assertEquals(want, Files.size(fb), "b's stat after a's writes, " + name);
                        break;
                    case 1:
                        assertEquals(want, listedSize(mntB, name), "b's listing after a's writes, " + name);
                        break;
                    default:
                        try (FileChannel r = FileChannel.open(fb, StandardOpenOption.READ)) {
                            assertArrayEquals(chunk, read(r, want - MIB, MIB), "b's read after a's writes, " + name);
                        }
                        assertEquals(want, Files.size(fb), "b's stat after its read, " + name);
                        break;
                }
                // and a goes on writing, through again now that b looked
                assertEquals(MIB, w.write(ByteBuffer.wrap(chunk), want));
                assertEquals(want + MIB, Files.size(fb), "b's stat after a's write through, " + name);
            }
            assertEquals(want + MIB, Files.size(export.resolve(name)));
        }
    }
}
