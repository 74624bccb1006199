package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * C programs, compiled here with gcc, exercising one mount as ordinary programs do: read/write,
 * fcntl locks, MAP_SHARED; and real tools: git and make working inside the mount.
 */
@Tag("mount")
class CProgramsTest {
    private static MountedFs m;

    @BeforeAll
    static void mount() throws Exception {
        TestEnv.requireGcc();
        m = MountedFs.diod("cprog");
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
    void readWriteRenameUnlink() throws Exception {
        Path bin = TestEnv.compile("mount-rw");
        Path d = Files.createDirectory(m.mnt.resolve("rw"));
        runOk("mount-rw ok", null, bin.toString(), d.toString());
    }

    @Test
    void sharedMappingsAgreeWithReadWriteAndTheServer() throws Exception {
        Path bin = TestEnv.compile("mount-mmap");
        runOk("mount-mmap ok", null, bin.toString(), m.mnt.resolve("mapped").toString(),
                m.export.resolve("mapped").toString());
    }

    @Test
    void fcntlLocksConflictBetweenProcesses() throws Exception {
        Path bin = TestEnv.compile("mount-lock");
        // diod turns record locks into whole-file flocks: disjoint ranges are not tested against it
        runOk("mount-lock ok", null, bin.toString(), m.mnt.resolve("locked").toString(), "whole");
    }

    @Test
    void gitInitAndCommit() throws Exception {
        TestEnv.require(TestEnv.executable("git"), "git");
        Path repo = Files.createDirectory(m.mnt.resolve("repo"));
        Files.writeString(repo.resolve("README"), "c9fs\n");
        String[] git = {"git", "-c", "user.name=c9fs", "-c", "user.email=c9fs@localhost", "-c", "init.defaultBranch=main"};
        runOk("", repo, concat(git, "init", "-q"));
        runOk("", repo, concat(git, "add", "README"));
        runOk("", repo, concat(git, "commit", "-q", "-m", "first"));
        Files.writeString(repo.resolve("README"), "c9fs, again\n");
        runOk("", repo, concat(git, "commit", "-q", "-a", "-m", "second"));
        runOk("second", repo, concat(git, "log", "--oneline"));
        runOk("", repo, concat(git, "fsck", "--strict"));
        // the server sees a repository git itself accepts
        runOk("first", m.export.resolve("repo"), concat(git, "log", "--oneline"));
    }

    @Test
    void makeBuildsAProgram() throws Exception {
        TestEnv.requireGcc();
        TestEnv.require(TestEnv.executable("make"), "make");
        Path src = Files.createDirectory(m.mnt.resolve("build"));
        Files.writeString(src.resolve("hello.c"),
                "#include <stdio.h>\nint main(void) { puts(\"built on c9fs\"); return 0; }\n");
        Files.writeString(src.resolve("Makefile"), "hello: hello.o\n\t$(CC) -o $@ $^\nhello.o: hello.c\n\t$(CC) -c -o $@ $<\n");
        runOk("", src, "make");
        runOk("built on c9fs", src, src.resolve("hello").toString());
        // nothing to do the second time: timestamps through the mount are consistent
        runOk("up to date", src, "make");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
