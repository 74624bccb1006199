package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** File and directory operations from Java on a real FUSE mount of a real diod export. */
@Tag("mount")
class DiodMountTest {
    private static MountedFs m;

    @BeforeAll
    static void mount() throws Exception {
        m = MountedFs.diod("ops");
    }

    @AfterAll
    static void unmount() throws Exception {
        if (m != null) {
            m.close();
        }
    }

    @Test
    void bytesWrittenThroughTheMountAreTheServersBytes() throws IOException {
        byte[] data = new byte[3 * 1024 * 1024 + 12345];
        new Random(7).nextBytes(data);
        Path f = m.mnt.resolve("big.bin");
        Files.write(f, data);
        assertArrayEquals(data, Files.readAllBytes(m.export.resolve("big.bin")));
        assertArrayEquals(data, Files.readAllBytes(f));
        assertEquals(data.length, Files.size(f));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(100);
            assertEquals(100, ch.read(b, 2_000_000));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 2_000_000, 2_000_100), b.array());
        }
    }

    @Test
    void directoriesListRenameAndRefuseToDieNonEmpty() throws IOException {
        Path d = Files.createDirectory(m.mnt.resolve("dir"));
        for (int i = 0; i < 300; i++) {
            Files.writeString(d.resolve("f" + i), "file " + i);
        }
        assertEquals(300, list(d).size());
        assertTrue(Files.isDirectory(m.export.resolve("dir")));
        assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(d));
        Path moved = Files.move(d, m.mnt.resolve("moved"));
        assertFalse(Files.exists(d));
        assertEquals("file 42", Files.readString(moved.resolve("f42")));
        Files.writeString(moved.resolve("f42"), "rewritten");
        assertEquals("rewritten", Files.readString(m.export.resolve("moved/f42")));
        for (Path p : list(moved)) {
            Files.delete(p);
        }
        Files.delete(moved);
        assertFalse(Files.exists(m.export.resolve("moved")));
    }

    @Test
    void renamedFileKeepsWorkingUnderItsNewName() throws IOException {
        Path a = m.mnt.resolve("ren-a");
        Files.writeString(a, "one");
        assertEquals("one", Files.readString(a));
        Path b = Files.move(a, m.mnt.resolve("ren-b"));
        assertEquals(3, Files.size(b));
        Files.writeString(b, "three", StandardOpenOption.APPEND);
        assertEquals("onethree", Files.readString(b));
        Files.setLastModifiedTime(b, FileTime.fromMillis(1_000_000_000_000L));
        assertEquals(1_000_000_000_000L, Files.getLastModifiedTime(m.export.resolve("ren-b")).toMillis());
        Files.delete(b);
    }

    @Test
    void symlinksAndHardLinks() throws IOException {
        Path target = m.mnt.resolve("target");
        Files.writeString(target, "pointed at");
        Path link = Files.createSymbolicLink(m.mnt.resolve("sym"), Path.of("target"));
        assertEquals(Path.of("target"), Files.readSymbolicLink(link));
        assertEquals("pointed at", Files.readString(link));
        Path hard = Files.createLink(m.mnt.resolve("hard"), target);
        assertEquals(Files.getAttribute(target, "unix:ino"), Files.getAttribute(hard, "unix:ino"));
        assertEquals(2, Files.getAttribute(hard, "unix:nlink"));
        assertEquals(Files.getAttribute(m.export.resolve("target"), "unix:ino"), Files.getAttribute(target, "unix:ino"));
        Files.delete(target);
        assertEquals("pointed at", Files.readString(hard));
        assertThrows(NoSuchFileException.class, () -> Files.readString(link));
        Files.delete(link);
        Files.delete(hard);
    }

    @Test
    void attributesChangeOnTheServer() throws IOException {
        Path f = m.mnt.resolve("attrs");
        Files.writeString(f, "0123456789");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(m.export.resolve("attrs"))));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(4);
        }
        assertEquals(4, Files.size(m.export.resolve("attrs")));
        assertEquals("0123", Files.readString(f));
        Files.setAttribute(f, "unix:uid", 1234);
        assertEquals(1234, Files.getAttribute(m.export.resolve("attrs"), "unix:uid"));
        Files.delete(f);
    }

    @Test
    void serverErrnosReachThePrograms() throws IOException {
        assertThrows(NoSuchFileException.class, () -> Files.readString(m.mnt.resolve("absent")));
        Files.createDirectory(m.mnt.resolve("exists"));
        assertThrows(FileAlreadyExistsException.class, () -> Files.createDirectory(m.mnt.resolve("exists")));
        assertThrows(IOException.class, () -> Files.writeString(m.mnt.resolve("exists"), "a directory"));
        Files.delete(m.mnt.resolve("exists"));
    }

    @Test
    void statfsReportsTheExportsFilesystem() throws IOException {
        FileStore fs = Files.getFileStore(m.mnt);
        FileStore local = Files.getFileStore(m.export);
        assertEquals(local.getTotalSpace(), fs.getTotalSpace());
    }

    @Test
    void lsMinusLOfAThousandFiles() throws Exception {
        Path d = Files.createDirectory(m.export.resolve("many"));
        for (int i = 0; i < 1000; i++) {
            Files.writeString(d.resolve(String.format("n%04d", i)), "x".repeat(i));
        }
        long t0 = System.nanoTime();
        TestEnv.Result r = TestEnv.run(m.mnt, 60, "ls", "-l", "many");
        long cold = System.nanoTime() - t0;
        t0 = System.nanoTime();
        TestEnv.Result again = TestEnv.run(m.mnt, 60, "ls", "-l", "many");
        long warm = System.nanoTime() - t0;
        assertEquals(0, r.status(), r.output());
        List<String> lines = r.output().lines().filter(l -> l.contains(" n")).collect(Collectors.toList());
        assertEquals(1000, lines.size());
        assertTrue(lines.get(999).contains(" 999 ") && lines.get(999).endsWith("n0999"), lines.get(999));
        assertEquals(r.output(), again.output());
        System.out.printf("ls -l of 1000 files: %.1f ms cold, %.1f ms warm%n", cold / 1e6, warm / 1e6);
        TestEnv.run(null, 60, "rm", "-rf", d.toString());
    }

    @Test
    void extendedAttributes() throws IOException {
        Path f = m.mnt.resolve("xattrs");
        Files.writeString(f, "x");
        UserDefinedFileAttributeView view = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
        view.write("c9fs.test", StandardCharsets.UTF_8.encode("value-1"));
        UserDefinedFileAttributeView onServer = Files.getFileAttributeView(m.export.resolve("xattrs"),
                UserDefinedFileAttributeView.class);
        assertEquals(List.of("c9fs.test"), onServer.list());
        assertEquals(List.of("c9fs.test"), view.list());
        ByteBuffer b = ByteBuffer.allocate(view.size("c9fs.test"));
        view.read("c9fs.test", b);
        assertEquals("value-1", new String(b.array(), StandardCharsets.UTF_8));
        view.delete("c9fs.test");
        assertEquals(List.of(), onServer.list());
        assertThrows(IOException.class, () -> view.size("c9fs.test"));
        Files.delete(f);
    }

    @Test
    void listingsHaveDotAndDotDotAndLeaveNoHandlesOpen() throws Exception {
        Path d = Files.createDirectory(m.mnt.resolve("dots"));
        Files.writeString(d.resolve("only"), "1");
        TestEnv.Result r = TestEnv.run(d, 30, "ls", "-a1");
        assertEquals(List.of(".", "..", "only"), r.output().lines().collect(Collectors.toList()));
        assertEquals("1", Files.readString(d.resolve("only")));
        NinepFilesystem fs = (NinepFilesystem) m.fs;
        // the kernel sends RELEASE in the background after close(2) returned
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (fs.handleCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, fs.handleCount(), "a handle outlived its RELEASE");
        assertTrue(fs.nodeCount() > 2);
        Files.delete(d.resolve("only"));
        Files.delete(d);
    }

    @Test
    void forgottenInodesGiveTheirNodesBack() throws Exception {
        Path d = Files.createDirectory(m.mnt.resolve("forget"));
        for (int i = 0; i < 200; i++) {
            Files.writeString(d.resolve("f" + i), "x");
        }
        TestEnv.require(Main.uid() == 0, "root (to make the kernel evict inodes through drop_caches)");
        NinepFilesystem fs = (NinepFilesystem) m.fs;
        int before = fs.nodeCount();
        assertTrue(before >= 200, "nodes: " + before);
        TestEnv.run(null, 120, "rm", "-rf", d.toString());
        // evict unused dentries and inodes: the kernel sends FORGET for each
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (fs.nodeCount() > before - 200 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(fs.nodeCount() <= before - 200, "nodes still held: " + fs.nodeCount() + " of " + before);
    }

    private static List<Path> list(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.collect(Collectors.toList());
        }
    }

    static String read(Path p) throws IOException {
        return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
    }
}
