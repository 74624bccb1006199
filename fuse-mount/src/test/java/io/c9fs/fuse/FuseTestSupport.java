package io.c9fs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Environment checks and scratch space for tests that mount through /dev/fuse. Missing
 * prerequisites fail the test when CI=true and skip it (with the reason) otherwise.
 */
final class FuseTestSupport {
    static final Path SCRATCH = Path.of("/tmp/c9fs-fuse");

    private FuseTestSupport() {
    }

    static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(what + " is required when CI=true");
        }
        Assumptions.abort(what + " is missing; skipping (set CI=true to fail instead)");
    }

    /** /dev/fuse and root (mount(2) is the default path). */
    static void requireFuse() throws IOException {
        require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse");
        require(((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0, "running as root");
    }

    static void requireFusermount() {
        require(Files.isExecutable(Path.of("/usr/bin/fusermount3")) || Files.isExecutable(Path.of("/bin/fusermount3")),
                "fusermount3");
    }

    static Path newMountpoint() throws IOException {
        Files.createDirectories(SCRATCH);
        return Files.createTempDirectory(SCRATCH, "mnt-");
    }

    static boolean mounted(Path mp) throws IOException {
        String needle = " " + mp.toAbsolutePath() + " ";
        return Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8).stream()
                .anyMatch(l -> l.contains(needle));
    }

    /** Runs a command with a bounded wait; returns its exit status and output. */
    static Result run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            Assertions.fail(String.join(" ", cmd) + " did not finish in 30 s");
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    record Result(int status, String output) {
    }

    /** Last-resort teardown: lazy unmount if still mounted, then remove the directory. */
    static void cleanup(Path mp) throws IOException {
        if (mounted(mp)) {
            try {
                run("umount", "-l", mp.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Files.deleteIfExists(mp);
    }

    /** Compiles src/test/c/NAME.c with gcc into the scratch directory. */
    static Path compile(String name) throws IOException, InterruptedException {
        require(Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc");
        Path src = Path.of("src/test/c", name + ".c").toAbsolutePath();
        Files.createDirectories(SCRATCH);
        Path bin = SCRATCH.resolve(name);
        Result r = run("gcc", "-O2", "-Wall", "-o", bin.toString(), src.toString());
        Assertions.assertEquals(0, r.status(), "gcc " + name + ".c: " + r.output());
        return bin;
    }
}
