package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * What the mount tests need from the machine, and how they run programs. A missing tool fails
 * the test when CI=true and skips it (saying why) otherwise.
 */
final class TestEnv {
    /** Every scratch file and mount of these tests lives below here. */
    static final Path SCRATCH = Path.of("/tmp/c9fs-mount");

    private TestEnv() {
    }

    static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            fail(what + " is missing, and CI=true forbids skipping");
        }
        Assumptions.abort(what + " is missing: test skipped (set CI=true to make this a failure)");
    }

    static void requireFuse() {
        require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse");
        require(Main.uid() == 0 || executable("fusermount3"), "fusermount3");
    }

    static String diod() {
        for (String p : List.of("/usr/sbin/diod", "/usr/bin/diod", "/usr/local/sbin/diod")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        require(false, "diod (apt-get install diod)");
        return null;
    }

    static void requireGcc() {
        require(executable("gcc"), "gcc");
    }

    static boolean executable(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /** A fresh, empty directory below {@link #SCRATCH}. */
    static Path freshDir(String name) throws IOException {
        Files.createDirectories(SCRATCH);
        return Files.createTempDirectory(SCRATCH, name + "-");
    }

    /** The result of {@link #run}. */
    record Result(int status, String output) {
    }

    /** Runs a program (stdout and stderr merged) in {@code dir}; kills it after {@code seconds}. */
    static Result run(Path dir, long seconds, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir == null ? null : dir.toFile())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = new byte[0];
            }
        });
        reader.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            reader.join(5000);
            fail(String.join(" ", cmd) + " did not finish within " + seconds + " s: "
                    + (out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8)));
        }
        reader.join(5000);
        return new Result(p.exitValue(), out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8));
    }

    /** The mode column `ls -l` in {@code dir} shows for {@code name} (with its `+` when ls sees an ACL). */
    static String lsMode(Path dir, String name) throws IOException, InterruptedException {
        Result ls = run(dir, 60, "ls", "-l");
        if (ls.status() != 0) {
            fail("ls -l in " + dir + ": " + ls.output());
        }
        return ls.output().lines().filter(l -> l.endsWith(" " + name)).map(l -> l.split(" ")[0]).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not listed: " + ls.output()));
    }

    /** Compiles fuse-mount/src/test/c/NAME.c into the scratch directory and returns the binary. */
    static Path compile(String name) throws IOException, InterruptedException {
        requireGcc();
        Path src = Path.of("src/test/c", name + ".c").toAbsolutePath();
        if (!Files.exists(src)) {
            src = Path.of("fuse-mount/src/test/c", name + ".c").toAbsolutePath();
        }
        Path bin = binaries().resolve(name);
        Result r = run(null, 60, "gcc", "-Wall", "-Werror", "-O2", "-o", bin.toString(), src.toString());
        if (r.status() != 0) {
            fail("gcc " + name + ": " + r.output());
        }
        return bin;
    }

    private static Path binaries;

    /** One directory per test JVM for compiled programs, removed when the JVM exits. */
    private static synchronized Path binaries() throws IOException {
        if (binaries == null) {
            Path dir = freshDir("bin");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir)));
            binaries = dir;
        }
        return binaries;
    }

    /** Last-resort unmount of anything left mounted at {@code mp}. */
    static void forceUnmount(Path mp) {
        try {
            run(null, 20, "umount", "-l", mp.toString());
        } catch (IOException | InterruptedException | AssertionError e) {
            // nothing mounted, or nothing more to be done
        }
    }

    /** Deletes a scratch tree, not following symlinks out of it. */
    static void delete(Path dir) {
        if (dir == null || !dir.startsWith(SCRATCH)) {
            return;
        }
        try {
            run(null, 60, "rm", "-rf", "--one-file-system", dir.toString());
        } catch (IOException | InterruptedException | AssertionError e) {
            // left for the next run's scratch clean-up
        }
    }
}
