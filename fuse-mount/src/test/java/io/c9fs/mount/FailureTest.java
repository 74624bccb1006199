package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A server that dies or stops answering makes calls fail with EIO, bounded, never a hang. */
@Tag("mount")
class FailureTest {
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(3);

    private static Path bigFile(MountedFs m) throws IOException {
        Path f = m.export.resolve("big");
        byte[] mib = new byte[1 << 20];
        java.util.Arrays.fill(mib, (byte) 'x');
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (int i = 0; i < 64; i++) {
                ch.write(ByteBuffer.wrap(mib));
            }
        }
        return m.mnt.resolve("big");
    }

    /** Reads on until an error; returns it, failing the test if none comes within {@code bound}. */
    private static IOException readUntilError(FileChannel ch, long from, Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
        long pos = from;
        while (System.nanoTime() < deadline) {
            b.clear();
            try {
                int n = ch.read(b, pos);
                pos = n <= 0 ? from : pos + n;
            } catch (IOException e) {
                return e;
            }
        }
        throw new AssertionError("reads still succeed " + bound.toSeconds() + " s after the server went away");
    }

    @Test
    void aKilledServerFailsReadsWithEio() throws Exception {
        try (MountedFs m = MountedFs.start(ServerProcess.Kind.DIOD, "kill", Duration.ofSeconds(1), REQUEST_TIMEOUT)) {
            Path big = bigFile(m);
            try (FileChannel ch = FileChannel.open(big, StandardOpenOption.READ)) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                assertEquals(4096, ch.read(b, 0));
                m.server.kill();
                long t0 = System.nanoTime();
                IOException e = readUntilError(ch, 1 << 20, REQUEST_TIMEOUT.plusSeconds(5));
                assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), String.valueOf(e));
                assertTrue(System.nanoTime() - t0 < REQUEST_TIMEOUT.plusSeconds(5).toNanos());
            }
            assertThrows(IOException.class, () -> Files.writeString(m.mnt.resolve("new"), "x"));
        }
    }

    @Test
    void aServerThatStopsAnsweringFailsCallsWithEioWithinTheRequestTimeout() throws Exception {
        try (MountedFs m = MountedFs.start(ServerProcess.Kind.DIOD, "stop", Duration.ofSeconds(1), REQUEST_TIMEOUT)) {
            Path big = bigFile(m);
            try (FileChannel ch = FileChannel.open(big, StandardOpenOption.READ)) {
                TestEnv.run(null, 10, "kill", "-STOP", Long.toString(m.server.pid()));
                try {
                    long t0 = System.nanoTime();
                    IOException e = readUntilError(ch, 0, REQUEST_TIMEOUT.plusSeconds(10));
                    long took = System.nanoTime() - t0;
                    assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), String.valueOf(e));
                    assertTrue(took >= REQUEST_TIMEOUT.toNanos() - TimeUnit.MILLISECONDS.toNanos(500),
                            "failed before the timeout: " + took / 1e6 + " ms");
                } finally {
                    TestEnv.run(null, 10, "kill", "-CONT", Long.toString(m.server.pid()));
                }
            }
        }
    }

    @Test
    void aKilledCallerIsReleasedAtOnceThroughFuseInterrupt() throws Exception {
        try (MountedFs m = MountedFs.start(ServerProcess.Kind.DIOD, "intr", Duration.ofSeconds(1),
                Duration.ofSeconds(60))) {
            Path big = bigFile(m);
            TestEnv.run(null, 10, "kill", "-STOP", Long.toString(m.server.pid()));
            try {
                // LOOKUP waits for its answer uninterruptibly once sent, unless the filesystem
                // honours the FUSE_INTERRUPT that a signal makes the kernel send
                Process reader = new ProcessBuilder("stat", m.mnt.resolve("never-seen").toString())
                        .redirectErrorStream(true).start();
                Thread.sleep(1000);
                assertTrue(reader.isAlive(), "stat finished although the server is stopped");
                long t0 = System.nanoTime();
                reader.destroyForcibly();
                assertTrue(reader.waitFor(10, TimeUnit.SECONDS),
                        "a killed caller stays stuck until the 60 s request timeout: the interrupt was not honoured");
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
            } finally {
                TestEnv.run(null, 10, "kill", "-CONT", Long.toString(m.server.pid()));
            }
            // the connection survives the flush: the mount still works
            assertEquals(64L << 20, Files.size(big));
            Files.writeString(m.mnt.resolve("after"), "still mounted");
            assertEquals("still mounted", Files.readString(m.export.resolve("after")));
        }
    }
}
