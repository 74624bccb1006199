package io.c9fs.transport.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Scratch directories of the transport tests, all under /tmp/c9fs-transport/ (project rule). */
public final class Scratch {
    public static final Path ROOT = Path.of("/tmp/c9fs-transport");

    private Scratch() {
    }

    /** A new empty directory under /tmp/c9fs-transport/ whose name starts with {@code prefix}. */
    public static Path newDir(String prefix) throws IOException {
        Files.createDirectories(ROOT);
        return Files.createTempDirectory(ROOT, prefix);
    }

    /** Deletes {@code dir} and everything below it; quiet if it is already gone. */
    public static void delete(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
