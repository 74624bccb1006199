package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Real mounts of {@link MemFs} through /dev/fuse, driven with java.nio file operations and tools. */
@Tag("fuse")
class FuseMountTest {

    @Test
    void fileOperationsGoThroughTheMount() throws Exception {
        try (TestMount m = TestMount.mount(new MemFs())) {
            Path f = m.path("a.txt");
            Files.writeString(f, "hello, fuse\n");
            assertEquals("hello, fuse\n", Files.readString(f));
            Files.writeString(f, "more\n", StandardOpenOption.APPEND);
            assertEquals("hello, fuse\nmore\n", Files.readString(f));
            assertEquals(17, Files.size(f));

            Files.createDirectory(m.path("d"));
            Files.writeString(m.path("d/inner"), "x");
            Files.createSymbolicLink(m.path("link"), Path.of("a.txt"));
            assertEquals(Path.of("a.txt"), Files.readSymbolicLink(m.path("link")));
            assertEquals("hello, fuse\nmore\n", Files.readString(m.path("link")));
            Files.createLink(m.path("hard"), f);
            assertEquals(2, Files.getAttribute(f, "unix:nlink"));

            try (Stream<Path> s = Files.list(m.mountpoint)) {
                assertEquals(List.of("a.txt", "d", "hard", "link"),
                        s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()));
            }
            assertTrue(Files.isDirectory(m.path("d")));
            assertTrue(Files.isSymbolicLink(m.path("link")));

            Files.move(m.path("d/inner"), m.path("moved"));
            assertFalse(Files.exists(m.path("d/inner")));
            assertEquals("x", Files.readString(m.path("moved")));
            Files.writeString(m.path("d/keep"), "k");
            assertThrows(java.nio.file.DirectoryNotEmptyException.class,
                    () -> Files.move(m.path("moved"), m.path("d"), java.nio.file.StandardCopyOption.REPLACE_EXISTING));

            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(5);
            }
            assertEquals("hello", Files.readString(f));

            Files.delete(m.path("moved"));
            Files.delete(m.path("d/keep"));
            Files.delete(m.path("d"));
            Files.delete(m.path("hard"));
            assertThrows(NoSuchFileException.class, () -> Files.size(m.path("moved")));
            assertEquals(4096, Files.getFileStore(f).getBlockSize());
            assertEquals((1L << 20) * 4096, Files.getFileStore(f).getTotalSpace());
        }
    }

    @Test
    void largeWritesAndReadsUseWholeRequests() throws Exception {
        try (TestMount m = TestMount.mount(new MemFs())) {
            byte[] data = new byte[3 * (1 << 20) + 12345];
            new Random(42).nextBytes(data);
            Path f = m.path("big");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data).flip();
                while (direct.hasRemaining()) {
                    ch.write(direct); // one write(2): the kernel cuts it into max_write WRITEs
                }
            }
            assertArrayEquals(data, Files.readAllBytes(f));
            int largest = m.fs.writes.stream().mapToInt(w -> w.data().length).max().orElse(0);
            assertEquals(1 << 20, largest, "MAX_PAGES=256 should give 1 MiB WRITEs");
        }
    }

    @Test
    void xattrsWithSizeProbes() throws Exception {
        try (TestMount m = TestMount.mount(new MemFs())) {
            Path f = m.path("x");
            Files.writeString(f, "");
            UserDefinedFileAttributeView view = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
            byte[] big = new byte[3000];
            new Random(1).nextBytes(big);
            view.write("colour", ByteBuffer.wrap("blue".getBytes(StandardCharsets.UTF_8)));
            view.write("blob", ByteBuffer.wrap(big));
            assertEquals(List.of("blob", "colour"), view.list().stream().sorted().collect(Collectors.toList()));
            assertEquals(3000, view.size("blob"));
            ByteBuffer got = ByteBuffer.allocate(3000);
            view.read("blob", got);
            assertArrayEquals(big, got.array());
            ByteBuffer small = ByteBuffer.allocate(2);
            assertThrows(IOException.class, () -> view.read("colour", small), "ERANGE for a short buffer");
            view.delete("colour");
            assertEquals(List.of("blob"), view.list());
            assertThrows(IOException.class, () -> view.size("colour"));
        }
    }

    @Test
    void seekDataHoleAndFallocate() throws Exception {
        Path tool = FuseTestSupport.compile("fuse-mmap");
        MemFs fs = new MemFs();
        byte[] sparse = new byte[10000];
        sparse[0] = 'x';
        sparse[8192] = 'y'; // pages: data, hole, data
        fs.putFile("s", sparse);
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("s"));
            assertEquals("POS 100", c.cmd("seek 100 3"), "SEEK_DATA inside data");
            assertEquals("POS 4096", c.cmd("seek 0 4"), "SEEK_HOLE: the filesystem's hole, not the kernel's EOF");
            assertEquals("POS 8192", c.cmd("seek 5000 3"), "SEEK_DATA skips the hole");
            assertEquals("POS 10000", c.cmd("seek 9000 4"), "no hole before EOF");
            assertEquals("ERR 6", c.cmd("seek 20000 3"), "ENXIO past EOF");
            c.ok("fallocate 0 65536");
            assertEquals(65536, Files.size(m.path("s")));
        }
    }

    @Test
    void refusesBadMountpoints() throws Exception {
        FuseTestSupport.requireFuse();
        Path dir = FuseTestSupport.newMountpoint();
        try {
            MountOptions o = MountOptions.defaults("memfs");
            FuseException missing = assertThrows(FuseException.class,
                    () -> FuseMount.mount(dir.resolve("nope"), o, new MemFs()));
            assertEquals(2, missing.errno());
            Path file = Files.writeString(dir.resolve("file"), "x");
            assertEquals(20, assertThrows(FuseException.class, () -> FuseMount.mount(file, o, new MemFs())).errno());
            FuseException nonEmpty = assertThrows(FuseException.class, () -> FuseMount.mount(dir, o, new MemFs()));
            assertEquals(39, nonEmpty.errno());
            assertTrue(nonEmpty.getMessage().contains("nonempty"), nonEmpty.getMessage());
            assertFalse(FuseTestSupport.mounted(dir));

            try (FuseSession s = FuseMount.mount(dir, o.withExtra(List.of("nonempty")), new MemFs())) {
                assertTrue(FuseTestSupport.mounted(dir));
                assertFalse(Files.exists(dir.resolve("file")), "the mount hides the directory's content");
            }
            Files.delete(file);
        } finally {
            FuseTestSupport.cleanup(dir);
        }
    }

    @Test
    void umountFromOutsideEndsTheSession() throws Exception {
        MemFs fs = new MemFs();
        try (TestMount m = TestMount.mount(fs)) {
            Files.writeString(m.path("f"), "data");
            FuseTestSupport.Result r = FuseTestSupport.run("umount", m.mountpoint.toString());
            assertEquals(0, r.status(), r.output());
            assertTrue(m.session.awaitUnmount(Duration.ofSeconds(10)), "workers saw ENODEV");
            assertTrue(m.session.ended());
            assertTrue(fs.destroyed);
            assertFalse(FuseTestSupport.mounted(m.mountpoint));
        }
    }

    @Test
    void fusermountPathMountsAndUnmounts() throws Exception {
        FuseTestSupport.requireFusermount();
        MemFs fs = new MemFs();
        try (TestMount m = TestMount.mount(fs, MountOptions.defaults("memfs").withWorkers(2).withUseFusermount(true))) {
            String line = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                    .filter(l -> l.contains(" " + m.mountpoint + " ")).findFirst().orElseThrow();
            assertTrue(line.contains(" - fuse.c9fs memfs "), line);
            Files.writeString(m.path("f"), "via fusermount3");
            assertEquals("via fusermount3", Files.readString(m.path("f")));
            m.session.unmount();
            assertTrue(m.session.awaitUnmount(Duration.ofSeconds(10)));
            assertFalse(FuseTestSupport.mounted(m.mountpoint));
            assertTrue(fs.destroyed);
        }
    }

    @Test
    void readOnlyMountRefusesWrites() throws Exception {
        MemFs fs = new MemFs();
        fs.putFile("f", "ro".getBytes(StandardCharsets.US_ASCII));
        MountOptions ro = new MountOptions("memfs", "c9fs", true, false, 2, 1 << 20, false, false, List.of());
        try (TestMount m = TestMount.mount(fs, ro)) {
            assertEquals("ro", Files.readString(m.path("f")));
            java.nio.file.FileSystemException e = assertThrows(java.nio.file.FileSystemException.class,
                    () -> Files.writeString(m.path("g"), "x"));
            assertTrue(e.getMessage().contains("Read-only file system"), e.getMessage());
        }
    }

    @Test
    void writebackCacheWhenAsked() throws Exception {
        MemFs fs = new MemFs();
        try (TestMount m = TestMount.mount(fs, MountOptions.defaults("memfs").withWorkers(2).withWritebackCache(true))) {
            assertEquals(InitHandshake.WRITEBACK_CACHE, m.session.initFlags() & InitHandshake.WRITEBACK_CACHE);
            Path f = m.path("wb");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap("buffered by the kernel".getBytes(StandardCharsets.US_ASCII)));
                ch.force(false);
            }
            assertEquals("buffered by the kernel", Files.readString(f));
            assertTrue(fs.writes.stream().allMatch(w -> (w.writeFlags() & FuseFilesystem.FUSE_WRITE_CACHE) != 0),
                    "with WRITEBACK_CACHE every WRITE comes from the page cache");
            assertTrue(!fs.writes.isEmpty());
        }
    }

    @Test
    void negotiatesTheCapabilitiesItNeeds() throws Exception {
        try (TestMount m = TestMount.mount(new MemFs())) {
            long f = m.session.initFlags();
            assertTrue(m.session.protocolMinor() >= InitHandshake.MIN_MINOR);
            assertEquals(InitHandshake.EXPLICIT_INVAL_DATA, f & InitHandshake.EXPLICIT_INVAL_DATA);
            assertEquals(0, f & InitHandshake.AUTO_INVAL_DATA);
            assertEquals(0, f & InitHandshake.WRITEBACK_CACHE);
            assertEquals(InitHandshake.MAX_PAGES, f & InitHandshake.MAX_PAGES);
            assertEquals(InitHandshake.POSIX_LOCKS, f & InitHandshake.POSIX_LOCKS, "MemFs implements setlk");
        }
    }
}
