package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * c9fs-mount (the real daemon, with its redialing session) over c9fs-serve, while a C program
 * holds a file open and mapped MAP_SHARED and the server is SIGKILLed and started again on the
 * same port and export (docs/reconnect.md).
 */
@Tag("mount")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ReconnectTest {
    static final int PAGE = 4096;
    static final int EIO = 5;

    Path scratch;
    Path export;
    Path mnt;
    Path log;
    ServerProcess server;
    Process daemon;
    Prog prog;

    @BeforeEach
    void setUp() throws Exception {
        TestEnv.requireFuse();
        TestEnv.requireGcc();
        scratch = TestEnv.freshDir("reconnect");
        export = Files.createDirectory(scratch.resolve("export"));
        mnt = Files.createDirectory(scratch.resolve("mnt"));
        log = scratch.resolve("mount.log");
        StringBuilder b = new StringBuilder();
        for (int p = 0; p < 4; p++) {
            String head = "P" + p + ":";
            b.append(head).append(String.valueOf((char) ('a' + p)).repeat(PAGE - head.length()));
        }
        Files.writeString(export.resolve("f"), b.toString());
        Files.writeString(export.resolve("other"), "other");
        server = ServerProcess.start(ServerProcess.Kind.C9FS_SERVE, export, scratch.resolve("server.log"));
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (prog != null) {
                prog.close();
            }
        } finally {
            try {
                if (MountedFs.isMounted(mnt)) {
                    TestEnv.forceUnmount(mnt);
                }
                if (daemon != null) {
                    daemon.destroyForcibly();
                    daemon.waitFor(10, TimeUnit.SECONDS);
                }
            } finally {
                if (server != null) {
                    server.close();
                }
                TestEnv.delete(scratch);
            }
        }
    }

    void mount(String options) throws Exception {
        daemon = MountDaemon.start(server.address(), mnt, "timeout=5," + options, log);
    }

    void killServer() throws Exception {
        server.kill();
    }

    void restartServer() throws Exception {
        server = ServerProcess.startOn(ServerProcess.Kind.C9FS_SERVE, export, scratch.resolve("server.log"),
                server.port);
    }

    String mountLog() throws IOException {
        return Files.readString(log);
    }

    /** Waits (bounded) until the daemon has noticed the loss, so the next request meets the outage. */
    void awaitOutage() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!mountLog().contains("lost;")) {
            assertTrue(System.nanoTime() < deadline, "the daemon did not notice the loss: " + mountLog());
            Thread.sleep(20);
        }
    }

    void awaitReconnected() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!mountLog().contains("reconnected to")) {
            assertTrue(System.nanoTime() < deadline, "the daemon did not reconnect: " + mountLog());
            Thread.sleep(20);
        }
    }

    @Test
    void aHardMountResumesWithCurrentDataAndAWriteMadeDuringTheOutageLands() throws Exception {
        mount("hard");
        prog = new Prog(TestEnv.compile("mount-reconnect"));
        prog.ok("open " + mnt.resolve("f"));
        assertEquals("DATA P0:aa", prog.cmd("load 0 5"));
        assertEquals("DATA P1:bb", prog.cmd("pread " + PAGE + " 5"));
        prog.ok("lock");

        killServer();
        awaitOutage();
        // Changed behind the dead server's back: nothing can recall it, the reconnect must.
        try (var ch = java.nio.channels.FileChannel.open(export.resolve("f"), java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("CHANGED".getBytes(StandardCharsets.US_ASCII)), PAGE);
        }
        prog.send("pwrite " + (2 * PAGE) + " DURING");
        assertNull(prog.poll(1), "a hard mount makes the write wait for the server");
        restartServer();

        assertEquals("OK", prog.answer(60), "the write made during the outage: " + mountLog());
        awaitReconnected();
        assertEquals("DATA CHANGED", prog.cmd("pread " + PAGE + " 7"));
        assertEquals("DATA CHANGED", prog.cmd("load " + PAGE + " 7"), "a mapped load sees current data");
        assertEquals("DURING", Files.readString(export.resolve("f")).substring(2 * PAGE, 2 * PAGE + 6));
        // A store through the mapping after the reconnect reaches the server at msync.
        prog.ok("store " + (3 * PAGE) + " MAPPED");
        prog.ok("msync");
        assertEquals("MAPPED", Files.readString(export.resolve("f")).substring(3 * PAGE, 3 * PAGE + 6));
        // The lock was reclaimed on the new server: another process still cannot take it.
        try (Prog other = new Prog(TestEnv.compile("mount-reconnect"))) {
            other.ok("open " + mnt.resolve("f"));
            assertTrue(other.cmd("lock").matches("ERR (11|13)"), "the reclaimed lock is held");
            prog.ok("unlock");
            // A server with a grace period (c9fs-serve --grace) answers new locks GRACE until it
            // ends (EAGAIN here): the unlocked lock is free once grace is over.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            String got;
            while (!(got = other.cmd("lock")).equals("OK") && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals("OK", got, "lock after the owner's unlock");
            other.ok("close");
        }
        prog.ok("close");
        assertTrue(daemon.isAlive());
    }

    @Test
    void aSoftMountFailsWithEioWithinTimeoAndWorksAfterTheRestart() throws Exception {
        mount("soft,timeo=2");
        prog = new Prog(TestEnv.compile("mount-reconnect"));
        prog.ok("open " + mnt.resolve("f"));
        assertEquals("DATA P0:aa", prog.cmd("pread 0 5"));
        // Resident for the store below: faulting a page in during a soft outage is a READ that
        // fails, which a mapped store gets as SIGBUS (as on a soft NFS mount).
        prog.ok("mlock");

        killServer();
        awaitOutage();
        long t0 = System.nanoTime();
        // A name never looked up: the kernel has to ask.
        prog.send("stat " + mnt.resolve("never-seen"));
        String got = prog.answer(60);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("ERR " + EIO, got, mountLog());
        assertTrue(ms < 2000 + 10_000, "failed after " + ms + " ms with timeo=2");
        // A store through the mapping that cannot be written back: msync says so.
        prog.ok("store " + (2 * PAGE) + " LOST");
        prog.send("msync");
        assertEquals("ERR " + EIO, prog.answer(60), mountLog());

        restartServer();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String again;
        do {
            again = prog.cmd("stat " + mnt.resolve("other"));
            if (!again.equals("OK")) {
                Thread.sleep(200);
            }
        } while (!again.equals("OK") && System.nanoTime() < deadline);
        assertEquals("OK", again, mountLog());
        assertEquals("DATA P0:aa", prog.cmd("pread 0 5"));
        prog.ok("pwrite 100 AFTER");
        assertEquals("AFTER", Files.readString(export.resolve("f")).substring(100, 105));
        prog.ok("fsync"); // the lost write-back was reported once, at the msync
        prog.ok("close");
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        assertEquals(0, StatsCommand.run(new String[] {mnt.toString()}, new java.io.PrintStream(out, true),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true)));
        String report = out.toString(StandardCharsets.UTF_8);
        assertTrue(report.matches("(?s).*session: +CONNECTED, soft timeo=2.0s, 1 reconnects.*"), report);
        assertTrue(report.matches("(?s).*[1-9][0-9]* write-back errors.*"), report);
    }

    @Test
    void unmountingDuringAnOutageEndsTheDaemon() throws Exception {
        mount("hard");
        assertEquals("other", Files.readString(mnt.resolve("other")));
        killServer();
        awaitOutage();
        // A hard mount waits, but a signal ends the wait (FUSE_INTERRUPT withdraws the request).
        Process stuck = new ProcessBuilder("stat", mnt.resolve("never-seen").toString()).redirectErrorStream(true)
                .start();
        assertTrue(!stuck.waitFor(1, TimeUnit.SECONDS), "stat during the outage of a hard mount waits");
        stuck.destroy();
        assertTrue(stuck.waitFor(20, TimeUnit.SECONDS), "a signal did not end a wait for the lost server");
        // Plain umount(8): it stats the mount point and fstatfs()es it first, which a hard mount
        // answers from the root's attributes and the statfs it last had (they used to wait for
        // the server, so umount hung for the whole outage).
        TestEnv.Result r = TestEnv.run(null, 30, "umount", mnt.toString());
        assertEquals(0, r.status(), r.output());
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "the daemon still redials after the unmount: " + mountLog());
        assertEquals(0, daemon.exitValue(), mountLog());
    }

    /** The C program: one command line in, one answer line out, every wait bounded. */
    static final class Prog implements AutoCloseable {
        private final Process process;
        private final OutputStream stdin;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Prog(Path binary) throws IOException {
            process = new ProcessBuilder(binary.toString()).redirectErrorStream(true).start();
            stdin = process.getOutputStream();
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // gone; pending answers time out
                }
            }, "mount-reconnect-stdout");
            reader.setDaemon(true);
            reader.start();
        }

        void send(String command) throws IOException {
            stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        }

        String poll(long seconds) throws InterruptedException {
            return lines.poll(seconds, TimeUnit.SECONDS);
        }

        String answer(long seconds) throws InterruptedException {
            String l = poll(seconds);
            assertNotNull(l, "mount-reconnect gave no answer within " + seconds + " s");
            return l;
        }

        String cmd(String command) throws IOException, InterruptedException {
            send(command);
            return answer(60);
        }

        void ok(String command) throws IOException, InterruptedException {
            assertEquals("OK", cmd(command), command);
        }

        @Override
        public void close() {
            try {
                send("quit");
            } catch (IOException ignored) {
                // already gone
            }
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
