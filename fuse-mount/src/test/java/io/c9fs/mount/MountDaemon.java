package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A c9fs-mount daemon in a JVM of its own, in the foreground, as a user runs it: for tests that
 * need a second client, or signals and restarts a mount made in this JVM ({@link MountedFs})
 * cannot take. Stopping it is the test's: the ways differ (a paused daemon is resumed first).
 */
final class MountDaemon {
    private MountDaemon() {
    }

    /** Starts {@code c9fs-mount ADDRESS MNT -o OPTIONS -f}, its output in {@code log}; returns once mounted. */
    static Process start(String address, Path mnt, String options, Path log) throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), address, mnt.toString(),
                "-o", options, "-f");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!MountedFs.isMounted(mnt)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                fail("c9fs-mount did not mount: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return p;
    }
}
