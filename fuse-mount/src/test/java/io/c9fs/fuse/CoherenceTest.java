package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Page-cache and mmap coherence through real mounts: a C process maps a file MAP_SHARED while the
 * test changes the filesystem's bytes and sends notifications from a non-worker thread.
 */
@Tag("fuse")
class CoherenceTest {
    private static Path tool;

    @BeforeAll
    static void compileTool() throws Exception {
        FuseTestSupport.requireFuse();
        tool = FuseTestSupport.compile("fuse-mmap");
    }

    /** Two pages: page p starts with "P{p}:" and is filled with letter 'a'+p. */
    private static byte[] twoPages() {
        byte[] b = new byte[8192];
        for (int p = 0; p < 2; p++) {
            java.util.Arrays.fill(b, p * 4096, (p + 1) * 4096, (byte) ('a' + p));
            byte[] tag = ("P" + p + ":").getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(tag, 0, b, p * 4096, tag.length);
        }
        return b;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void invalInodeMakesMappedReaderSeeNewBytes() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            assertEquals("DATA P1:bbbbbbbbbbbbb", c.cmd("load 4096 16"));

            fs.poke(ino, 0, ascii("CHANGED-1"));
            fs.poke(ino, 4096, ascii("CHANGED-2"));
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"), "no notification: the mapping stays stale");

            m.session.notifier().invalInode(ino, 0, 4096);
            assertEquals("DATA CHANGED-1aaaaaaa", c.cmd("load 0 16"));
            assertEquals("DATA P1:bbbbbbbbbbbbb", c.cmd("load 4096 16"), "pages outside the range stay cached");

            m.session.notifier().invalInode(ino, 0, 0);
            assertEquals("DATA CHANGED-2bbbbbbb", c.cmd("load 4096 16"), "length 0 means to EOF");
        }
    }

    @Test
    void invalInodeLaundersDirtyMappedPages() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            c.ok("store 0 DIRTY-1");

            m.session.notifier().invalInode(ino, 0, 4096);
            // The laundering WRITE completed inside invalInode: the bytes are in the filesystem now.
            assertEquals("DIRTY-1", new String(fs.peek(ino, 0, 7), StandardCharsets.US_ASCII));
            MemFs.WriteEvent w = fs.writes.stream().filter(e -> e.offset() == 0).reduce((a, b) -> b).orElseThrow();
            assertEquals(FuseFilesystem.FUSE_WRITE_CACHE, w.writeFlags() & FuseFilesystem.FUSE_WRITE_CACHE);
            assertEquals(4096, w.data().length, "laundering writes whole pages");
            assertEquals("DATA DIRTY-1aaaaaaaaa", c.cmd("load 0 16"));
        }
    }

    /** syncfs flushes a dirty mapping without dropping it: the flush behind clause 3c of docs/coherence.md. */
    @Test
    void syncfsWritesBackDirtyMappedPagesAndKeepsThemResident() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            assertEquals("DATA P1:bbbbbbbbbbbbb", c.cmd("load 4096 16"));
            c.ok("store 4096 FLUSHED");
            m.session.syncfs();
            // syncfs starts the writeback; the WRITE may be answered just after it returns.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (!"FLUSHED".equals(new String(fs.peek(ino, 4096, 7), StandardCharsets.US_ASCII))
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals("FLUSHED", new String(fs.peek(ino, 4096, 7), StandardCharsets.US_ASCII));
            assertEquals("RESIDENT 2/2", c.cmd("resident"), "the pages stay cached and mapped");
            int reads = fs.reads.size();
            assertEquals("DATA FLUSHEDbbbbbbbbb", c.cmd("load 4096 16"));
            assertEquals(reads, fs.reads.size(), "no READ: the page was never dropped");
        }
    }

    @Test
    void writeSeenByMappedLoadAndStoreSeenByRead() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            assertEquals("OK 8", c.cmd("pwrite 0 PWRITE-1"));
            assertEquals("DATA PWRITE-1aaaaaaaa", c.cmd("load 0 16"), "write() updates the mapped page");
            assertEquals("PWRITE-1", new String(fs.peek(ino, 0, 8), StandardCharsets.US_ASCII), "write-through");

            c.ok("store 100 STORED");
            assertEquals("DATA STORED", c.cmd("pread 100 6"), "read() sees the mapped store");
            c.ok("msync");
            assertEquals("STORED", new String(fs.peek(ino, 100, 6), StandardCharsets.US_ASCII));
            assertTrue(fs.writes.stream().anyMatch(w -> (w.writeFlags() & FuseFilesystem.FUSE_WRITE_CACHE) != 0));
        }
    }

    @Test
    void truncateWhileMapped() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P1:bbbbbbbbbbbbb", c.cmd("load 4096 16"));
            c.ok("truncate 4096");
            assertEquals(4096, Files.size(m.path("m")));
            assertEquals("SIGBUS", c.cmd("load 4096 16"), "a load beyond EOF faults");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            c.ok("truncate 8192");
            assertEquals("DATA ................", c.cmd("load 4096 16"), "regrown part reads as zeros");
            assertEquals(0, fs.peek(ino, 4096, 1)[0]);
        }
    }

    @Test
    void storeNotificationUpdatesMappedPagesInPlace() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
            fs.readHook = nodeid -> reads.incrementAndGet();
            m.session.notifier().store(ino, 0, ByteBuffer.wrap(ascii("STORED-1!")));
            assertEquals("DATA STORED-1!aaaaaaa", c.cmd("load 0 16"));
            assertEquals(0, reads.get(), "the mapped page was updated in place, without a READ");
            assertEquals("P0:", new String(fs.peek(ino, 0, 3), StandardCharsets.US_ASCII), "store is cache-only");
        }
    }

    @Test
    void notifierRefusesWorkerThreads() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("f", ascii("content"));
        AtomicReference<Throwable> fromWorker = new AtomicReference<>();
        try (TestMount m = TestMount.mount(fs)) {
            fs.readHook = nodeid -> {
                try {
                    m.session.notifier().invalInode(nodeid, 0, 0);
                } catch (Throwable t) {
                    fromWorker.set(t);
                }
            };
            assertEquals("content", Files.readString(m.path("f")));
            assertInstanceOf(IllegalStateException.class, fromWorker.get());
            fs.readHook = null;
            m.session.notifier().invalInode(ino, -1, 0); // from the test thread: fine
        }
    }

    @Test
    void attributeAndEntryInvalidation() throws Exception {
        MemFs fs = new MemFs();
        fs.entryValidNanos = TimeUnit.SECONDS.toNanos(60);
        fs.attrValidNanos = TimeUnit.SECONDS.toNanos(60);
        long ino = fs.putFile("f", ascii("12345"));
        fs.putFile("gone", ascii("x"));
        try (TestMount m = TestMount.mount(fs)) {
            assertEquals(5, Files.size(m.path("f")));
            fs.resizeBehind(ino, 2);
            assertEquals(5, Files.size(m.path("f")), "attributes cached for 60 s");
            m.session.notifier().invalInode(ino, -1, 0);
            assertEquals(2, Files.size(m.path("f")), "offset -1 drops the attributes");

            assertTrue(Files.exists(m.path("gone")));
            fs.unlinkBehind("gone");
            assertTrue(Files.exists(m.path("gone")), "dentry cached for 60 s");
            m.session.notifier().invalEntry(1, "gone");
            assertThrows(NoSuchFileException.class, () -> Files.size(m.path("gone")));

            long del = fs.putFile("del", ascii("d"));
            assertTrue(Files.exists(m.path("del")));
            fs.unlinkBehind("del");
            m.session.notifier().delete(1, del, "del");
            assertThrows(NoSuchFileException.class, () -> Files.size(m.path("del")));

            FuseException unknown = assertThrows(FuseException.class,
                    () -> m.session.notifier().invalInode(999_999, 0, 0));
            assertEquals(2, unknown.errno(), "the kernel does not know that inode");
        }
    }

    @Test
    void closeAbortsTheConnectionWhenAMappingKeepsItBusy() throws Exception {
        MemFs fs = new MemFs();
        fs.putFile("m", twoPages());
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("m"));
            c.ok("map 8192");
            assertEquals("DATA P0:aaaaaaaaaaaaa", c.cmd("load 0 16"));
            long t0 = System.nanoTime();
            m.session.close(); // umount is busy -> lazy; workers still serve the mapping -> fusectl abort
            assertTrue(m.session.ended(), "close() returns with every worker gone");
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15), "bounded");
            assertTrue(!FuseTestSupport.mounted(m.mountpoint));
            assertTrue(fs.destroyed);
        }
    }

    @Test
    void notifierAfterCloseFailsWithEnodev() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("f", ascii("x"));
        FuseSession s;
        try (TestMount m = TestMount.mount(fs)) {
            s = m.session;
        }
        FuseException e = assertThrows(FuseException.class, () -> s.notifier().invalInode(ino, 0, 0));
        assertEquals(19, e.errno());
    }
}
