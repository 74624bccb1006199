package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The same filesystem against c9fs's own server, c9fs-serve (with byte-range locks). */
@Tag("mount")
class ServeMountTest {
    private static MountedFs m;

    @BeforeAll
    static void mount() throws Exception {
        m = MountedFs.start(ServerProcess.Kind.C9FS_SERVE, "serve", Duration.ofSeconds(1), Duration.ofSeconds(30));
    }

    @AfterAll
    static void unmount() throws Exception {
        if (m != null) {
            m.close();
        }
    }

    private static void runOk(String expect, Path dir, String... cmd) throws Exception {
        TestEnv.Result r = TestEnv.run(dir, 120, cmd);
        assertEquals(0, r.status(), String.join(" ", cmd) + ": " + r.output());
        assertTrue(r.output().contains(expect), r.output());
    }

    @Test
    void filesAndDirectories() throws Exception {
        byte[] data = new byte[5 * 1024 * 1024 + 3];
        new Random(3).nextBytes(data);
        Path d = Files.createDirectories(m.mnt.resolve("a/b"));
        Files.write(d.resolve("f"), data);
        assertArrayEquals(data, Files.readAllBytes(m.export.resolve("a/b/f")));
        assertArrayEquals(data, Files.readAllBytes(d.resolve("f")));
        Files.move(m.mnt.resolve("a"), m.mnt.resolve("z"));
        assertArrayEquals(data, Files.readAllBytes(m.mnt.resolve("z/b/f")));
        try (Stream<Path> s = Files.list(m.mnt.resolve("z/b"))) {
            assertEquals(1, s.count());
        }
    }

    /** st_blksize is the transfer size (1 MiB at the default msize), not the server's 4 KiB: stdio buffers by it. */
    @Test
    void filesReportTheTransferSizeAsTheirBlockSize() throws Exception {
        Path f = Files.writeString(m.mnt.resolve("blk"), "x");
        runOk("1048576", null, "stat", "-c", "%o", f.toString());
        runOk("4096", null, "stat", "-c", "%o", m.export.resolve("blk").toString());
    }

    @Test
    void cPrograms() throws Exception {
        Path rw = Files.createDirectory(m.mnt.resolve("rw"));
        runOk("mount-rw ok", null, TestEnv.compile("mount-rw").toString(), rw.toString());
        runOk("mount-mmap ok", null, TestEnv.compile("mount-mmap").toString(), m.mnt.resolve("mapped").toString(),
                m.export.resolve("mapped").toString());
        runOk("mount-lock ok", null, TestEnv.compile("mount-lock").toString(), m.mnt.resolve("locked").toString(),
                "ranges");
    }
}
