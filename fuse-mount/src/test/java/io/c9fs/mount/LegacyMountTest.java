package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Browsing and reading/writing files over the older dialects, against c9fs-serve. */
@Tag("mount")
class LegacyMountTest {

    @ParameterizedTest
    @ValueSource(strings = {"9P2000.u", "9P2000"})
    void filesDirectoriesAndAttributes(String version) throws Exception {
        try (MountedFs m = MountedFs.start(ServerProcess.Kind.C9FS_SERVE, "legacy", Duration.ofSeconds(1),
                Duration.ofSeconds(30), version)) {
            assertEquals(version, m.client.dialect().version());
            Files.createDirectories(m.export.resolve("pre/sub"));
            Files.writeString(m.export.resolve("pre/sub/server-made"), "from the server side");
            // browsing
            assertEquals("from the server side", Files.readString(m.mnt.resolve("pre/sub/server-made")));
            assertEquals(List.of("server-made"), names(m.mnt.resolve("pre/sub")));
            TestEnv.Result ls = TestEnv.run(m.mnt, 30, "ls", "-lR");
            assertEquals(0, ls.status(), ls.output());
            assertTrue(ls.output().contains("server-made"), ls.output());
            // reading and writing
            byte[] data = new byte[3 * 1024 * 1024 + 77];
            new Random(5).nextBytes(data);
            Path f = m.mnt.resolve("pre/data");
            Files.write(f, data);
            assertArrayEquals(data, Files.readAllBytes(m.export.resolve("pre/data")));
            assertArrayEquals(data, Files.readAllBytes(f));
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(10);
            }
            assertEquals(10, Files.size(m.export.resolve("pre/data")));
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
            assertEquals("rw-------", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(m.export.resolve("pre/data"))));
            Files.setLastModifiedTime(f, FileTime.fromMillis(1_500_000_000_000L));
            assertEquals(1_500_000_000_000L, Files.getLastModifiedTime(m.export.resolve("pre/data")).toMillis());
            // names: rename within a directory (over an existing file, as rename(2) does), remove
            Files.writeString(m.mnt.resolve("pre/other"), "replaced");
            Files.move(f, m.mnt.resolve("pre/other"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(10, Files.size(m.export.resolve("pre/other")));
            assertFalse(Files.exists(m.export.resolve("pre/data")));
            // across directories 9P2000 cannot rename: EXDEV, on which movers copy and delete
            Files.move(m.mnt.resolve("pre/other"), m.mnt.resolve("pre/sub/moved"));
            assertEquals(10, Files.size(m.export.resolve("pre/sub/moved")));
            Files.move(m.mnt.resolve("pre/sub/moved"), m.mnt.resolve("pre/other"));
            assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(m.mnt.resolve("pre/sub")));
            Files.delete(m.mnt.resolve("pre/sub/server-made"));
            assertEquals(List.of(), names(m.mnt.resolve("pre/sub")));
            Files.delete(m.mnt.resolve("pre/sub"));
            assertThrows(NoSuchFileException.class, () -> Files.readString(m.mnt.resolve("pre/sub/server-made")));
            assertFalse(Files.exists(m.export.resolve("pre/sub")));
            if (version.equals("9P2000.u")) {
                Path link = Files.createSymbolicLink(m.mnt.resolve("pre/ln"), Path.of("other"));
                assertEquals(Path.of("other"), Files.readSymbolicLink(link));
                assertEquals(Path.of("other"), Files.readSymbolicLink(m.export.resolve("pre/ln")));
            } else {
                assertThrows(IOException.class, () -> Files.createSymbolicLink(m.mnt.resolve("pre/ln"), Path.of("x")));
            }
            assertThrows(IOException.class, () -> Files.createLink(m.mnt.resolve("pre/hard"), m.mnt.resolve("pre/other")));
        }
    }

    private static List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }
}
