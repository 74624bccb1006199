package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FUSE_HANDLE_KILLPRIV_V2: the kernel leaves clearing setuid and setgid to the mount, which must
 * do what a local file system does (the server writes as root, with CAP_FSETID, so it would keep
 * them). A write, a truncation or an O_TRUNC open by a caller without CAP_FSETID clears setuid
 * and group-executable setgid, on the server; root's keep them; a bit set while the writer has
 * the file open, through another mount, is cleared by its next write. The caller without the
 * capability is nobody (setpriv), through allow_other mounts.
 */
@Tag("mount")
class SuidKillTest {
    @RegisterExtension
    static final TwoMounts.PerClass mounts = new TwoMounts.PerClass("suid-kill",
            Main.uid() == 0 ? "timeout=10,allow_other" : "timeout=10",
            Main.uid() == 0 ? "timeout=10,allow_other" : "timeout=10");

    private Path dir;

    @BeforeEach
    void needsRootAndSetpriv(org.junit.jupiter.api.TestInfo info) throws Exception {
        Assumptions.assumeTrue(Main.uid() == 0 && TestEnv.executable("setpriv"),
                "needs root (another user's writes through allow_other) and setpriv");
        // nobody must reach the mount points (a temporary directory is its owner's only).
        Files.setPosixFilePermissions(mounts.scratch(), PosixFilePermissions.fromString("rwxr-xr-x"));
        dir = Files.createDirectory(mounts.export().resolve(info.getTestMethod().orElseThrow().getName()));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    }

    /** A file made on the server machine, owned by root, with {@code mode}. */
    private Path file(String name, int mode) throws IOException {
        Path p = Files.writeString(dir.resolve(name), "x\n");
        Files.setAttribute(p, "unix:mode", mode);
        return p;
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode") & 07777;
    }

    private Path throughA(Path onServer) {
        return mounts.a().resolve(mounts.export().relativize(onServer));
    }

    /**
     * Waits until the server has every byte written to {@code onServer} through mount A: an fsync
     * there. Under A's sole write lease close(2) does not wait for the writes (docs/coherence.md,
     * "Write-behind"), and nothing orders a read of the server's copy on the server machine.
     */
    private void settled(Path onServer) throws IOException {
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(throughA(onServer))) {
            c.force(false);
        }
    }

    private static TestEnv.Result asNobody(String script) throws Exception {
        List<String> argv = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "sh", "-c", script));
        return TestEnv.run(null, 30, argv.toArray(new String[0]));
    }

    private static void ok(TestEnv.Result r) {
        assertEquals(0, r.status(), r.output());
    }

    @Test
    void anUnprivilegedWriteClearsSetuidAndExecutableSetgid() throws Exception {
        Path suid = file("suid", 04777);
        Path sgid = file("sgid", 02777);
        Path both = file("both", 06777);
        Path lockSgid = file("lock-sgid", 02767);
        for (Path p : List.of(suid, sgid, both, lockSgid)) {
            ok(asNobody("echo y >> '" + throughA(p) + "'"));
        }
        assertEquals(0777, mode(suid));
        assertEquals(0777, mode(sgid));
        assertEquals(0777, mode(both));
        // Setgid without group execute marks mandatory locking, not a privilege: kept, as locally.
        assertEquals(02767, mode(lockSgid));
        settled(suid);
        assertEquals("x\ny\n", Files.readString(suid));
    }

    @Test
    void aPrivilegedWriteKeepsThem() throws Exception {
        Path suid = file("suid", 04777);
        Files.writeString(throughA(suid), "root\n", java.nio.file.StandardOpenOption.APPEND);
        settled(suid);
        assertEquals(04777, mode(suid));
        assertEquals("x\nroot\n", Files.readString(suid));
    }

    @Test
    void anUnprivilegedTruncationClearsThem() throws Exception {
        Path truncated = file("truncated", 04777);
        Path opened = file("opened", 06777);
        ok(asNobody("truncate -s 0 '" + throughA(truncated) + "'"));
        ok(asNobody(": > '" + throughA(opened) + "'"));
        assertEquals(0777, mode(truncated));
        assertEquals(0777, mode(opened));
        assertEquals(0, Files.size(truncated));
        assertEquals(0, Files.size(opened));
    }

    /**
     * The writer learnt at open that the file had no bit to clear; another client's chmod
     * u+s is recalled before it returns, so the writer's next write asks again and clears it.
     */
    @Test
    void aBitSetElsewhereWhileTheFileIsOpenIsClearedByTheNextWrite() throws Exception {
        Path f = file("open", 0777);
        Path sync = Files.createDirectory(dir.resolve("sync"));
        Files.setPosixFilePermissions(sync, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path ready = sync.resolve("ready");
        Path go = sync.resolve("go");
        Process writer = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "sh", "-c", "exec 3>>'" + throughA(f) + "' && echo a >&3 && touch '" + ready + "'"
                        + " && while [ ! -e '" + go + "' ]; do sleep 0.02; done && echo b >&3")
                .redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (Files.notExists(ready)) {
                if (!writer.isAlive() || System.nanoTime() > deadline) {
                    fail("the writer did not open and write: " + new String(writer.getInputStream().readAllBytes()));
                }
                Thread.sleep(10);
            }
            Files.setAttribute(mounts.b().resolve(mounts.export().relativize(f)), "unix:mode", 04777);
            assertEquals(04777, mode(f));
            Files.createFile(go);
            if (!writer.waitFor(20, TimeUnit.SECONDS)) {
                fail("the writer did not finish");
            }
            assertEquals(0, writer.exitValue(), new String(writer.getInputStream().readAllBytes()));
        } finally {
            writer.destroyForcibly();
        }
        assertEquals(0777, mode(f));
        assertEquals("x\na\nb\n", Files.readString(f));
    }
}
