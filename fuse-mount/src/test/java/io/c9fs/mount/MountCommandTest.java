package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The c9fs-mount command, run as a separate process (and in-process for its refusals). */
@Tag("mount")
class MountCommandTest {
    private static Path scratch;
    private static ServerProcess server;
    private Path mnt;
    private final List<Process> started = new ArrayList<>();

    @BeforeAll
    static void serve() throws Exception {
        TestEnv.requireFuse();
        scratch = TestEnv.freshDir("cmd");
        Path export = Files.createDirectory(scratch.resolve("export"));
        Files.writeString(export.resolve("hello"), "hello from diod\n");
        server = ServerProcess.start(ServerProcess.Kind.DIOD, export, scratch.resolve("diod.log"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        TestEnv.delete(scratch);
    }

    @BeforeEach
    void mountpoint() throws Exception {
        mnt = Files.createTempDirectory(scratch, "mnt-");
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        if (MountedFs.isMounted(mnt)) {
            TestEnv.forceUnmount(mnt);
        }
    }

    private static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private Process foreground(String... options) throws Exception {
        String o = String.join(",", options);
        Process p = new ProcessBuilder(command(server.address(), mnt.toString(), "-o",
                "aname=" + server.aname() + ",timeout=5" + (o.isEmpty() ? "" : "," + o), "-f"))
                .redirectErrorStream(true).redirectOutput(scratch.resolve("fg.log").toFile()).start();
        started.add(p);
        awaitMounted(p);
        return p;
    }

    private void awaitMounted(Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!MountedFs.isMounted(mnt)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                fail("c9fs-mount did not mount: " + Files.readString(scratch.resolve("fg.log")));
            }
            Thread.sleep(50);
        }
    }

    @Test
    void aKilledDaemonLeavesENOTCONNThatMinusUClears() throws Exception {
        Process p = foreground();
        assertEquals("hello from diod\n", Files.readString(mnt.resolve("hello")));
        refused("is busy", inProcess(server.address(), mnt.toString(), "-o", "aname=" + server.aname(), "-f"));
        p.destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        // ls, not stat: the kernel answers stat from attributes it cached (actimeo) without asking
        TestEnv.Result r = TestEnv.run(null, 20, "ls", mnt.toString());
        assertTrue(r.output().contains("Transport endpoint is not connected"), r.output());
        refused("a dead mount?", inProcess(server.address(), mnt.toString(), "-o", "aname=" + server.aname(), "-f"));
        TestEnv.Result u = TestEnv.run(null, 60, command("-u", mnt.toString()).toArray(new String[0]));
        assertEquals(0, u.status(), u.output());
        assertFalse(MountedFs.isMounted(mnt));
    }

    @Test
    void sigtermUnmountsAndExitsCleanly() throws Exception {
        Process p = foreground();
        Files.writeString(mnt.resolve("written"), "through the daemon");
        p.destroy();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "daemon still running after SIGTERM");
        assertEquals(0, p.exitValue(), Files.readString(scratch.resolve("fg.log")));
        assertFalse(MountedFs.isMounted(mnt));
        assertEquals("through the daemon", Files.readString(server.export.resolve("written")));
    }

    /** c9fs stats reads the daemon's counters over its socket; diod has no leases, so close-to-open. */
    @Test
    void statsReportsTheDaemonsCounters() throws Exception {
        Process p = foreground();
        assertEquals("hello from diod\n", Files.readString(mnt.resolve("hello")));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = StatsCommand.run(new String[] {mnt.toString()}, new PrintStream(out, true), new PrintStream(err, true));
        String report = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
        assertTrue(report.contains("server:    " + server.address()), report);
        assertTrue(report.contains("9P2000.L, msize"), report);
        assertTrue(report.contains("coherence: close-to-open"), report);
        assertTrue(report.matches("(?s).*9p: +[1-9][0-9]* requests.*"), report);
        p.destroy();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(1, StatsCommand.run(new String[] {mnt.toString()}, new PrintStream(out, true),
                new PrintStream(err, true)), "no daemon, no stats");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no c9fs-mount daemon answers"));
    }

    @Test
    void readOnlyMountsRefuseChanges() throws Exception {
        Process p = foreground("ro", "actimeo=0");
        assertEquals("hello from diod\n", Files.readString(mnt.resolve("hello")));
        FileSystemException e = assertThrows(FileSystemException.class,
                () -> Files.writeString(mnt.resolve("nope"), "x"));
        assertTrue(String.valueOf(e.getMessage()).contains("Read-only file system"), e.getMessage());
        assertTrue(Files.readString(Path.of("/proc/self/mountinfo")).lines()
                .anyMatch(l -> l.contains(" " + mnt + " ") && l.contains(" ro,")), "not mounted read-only");
        p.destroy();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
    }

    @Test
    void detachesOnceMountedAndMinusUUnmounts() throws Exception {
        TestEnv.Result r = TestEnv.run(null, 90, command(server.address(), mnt.toString(), "-o",
                "aname=" + server.aname()).toArray(new String[0]));
        assertEquals(0, r.status(), r.output());
        assertTrue(MountedFs.isMounted(mnt), "detached parent returned before the mount existed");
        List<ProcessHandle> daemons = ProcessHandle.allProcesses()
                .filter(h -> h.info().arguments().map(a -> List.of(a).contains(mnt.toString())).orElse(false))
                .toList();
        assertEquals(1, daemons.size());
        assertEquals("hello from diod\n", Files.readString(mnt.resolve("hello")));
        TestEnv.Result u = TestEnv.run(null, 60, command("-u", mnt.toString()).toArray(new String[0]));
        assertEquals(0, u.status(), u.output());
        assertFalse(MountedFs.isMounted(mnt));
        assertTrue(daemons.get(0).onExit().get(20, TimeUnit.SECONDS) != null);
        assertFalse(daemons.get(0).isAlive());
    }

    private record Run(int status, String err) {
    }

    private static Run inProcess(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Run(status, err.toString(StandardCharsets.UTF_8));
    }

    private static void refused(String why, Run r) {
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().startsWith("c9fs-mount: ") && r.err().contains(why), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void refusalsAreOneClearLine() throws Exception {
        String a = "aname=" + server.aname();
        refused("does not exist", inProcess(server.address(), scratch.resolve("absent").toString(), "-o", a, "-f"));
        Path file = Files.writeString(scratch.resolve("a-file"), "x");
        refused("is not a directory", inProcess(server.address(), file.toString(), "-o", a, "-f"));
        Files.writeString(mnt.resolve("occupant"), "x");
        refused("is not empty", inProcess(server.address(), mnt.toString(), "-o", a, "-f"));
        Files.delete(mnt.resolve("occupant"));
        refused("unreachable", inProcess("127.0.0.1:" + ServerProcess.freePort(), mnt.toString(), "-o", a, "-f"));
        refused("attach denied", inProcess(server.address(), mnt.toString(), "-o", "aname=/not/exported", "-f"));
        refused("version 9P3000 refused", inProcess(server.address(), mnt.toString(), "-o", a + ",version=9P3000", "-f"));
        assertFalse(MountedFs.isMounted(mnt));
        // the detaching parent reports the child's refusal the same way
        TestEnv.Result r = TestEnv.run(null, 60, command("127.0.0.1:" + ServerProcess.freePort(), mnt.toString(),
                "-o", a).toArray(new String[0]));
        assertEquals(1, r.status(), r.output());
        assertTrue(r.output().contains("unreachable"), r.output());
    }

    @Test
    void usageAndHelp() {
        Run help = inProcess("--help");
        assertEquals(0, help.status());
        Run bad = inProcess("127.0.0.1:1", mnt.toString(), "-o", "frobnicate");
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("unknown option frobnicate"), bad.err());
        assertEquals(2, inProcess("only-one-arg").status());
    }
}
