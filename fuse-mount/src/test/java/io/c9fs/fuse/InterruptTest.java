package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** FUSE_INTERRUPT: a signalled or killed reader makes the blocked READ's onInterrupt action run. */
@Tag("fuse")
class InterruptTest {
    private static Path tool;

    @BeforeAll
    static void compileTool() throws Exception {
        FuseTestSupport.requireFuse();
        tool = FuseTestSupport.compile("fuse-mmap");
    }

    @Test
    void signalledReaderGetsEintr() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("slow", "never read".getBytes(StandardCharsets.US_ASCII));
        fs.blockingReads.add(ino);
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("slow"));
            c.send("pread 0 16");
            assertTrue(fs.readBlocked.await(10, TimeUnit.SECONDS), "READ reached the filesystem");
            FuseTestSupport.run("kill", "-USR1", Long.toString(c.pid()));
            assertTrue(fs.interruptSeen.await(10, TimeUnit.SECONDS), "onInterrupt ran");
            assertEquals("ERR 4", c.answer(10), "the interrupted request was answered EINTR");
        }
    }

    @Test
    void killedReaderInterruptsTheRequest() throws Exception {
        MemFs fs = new MemFs();
        long ino = fs.putFile("slow", "never read".getBytes(StandardCharsets.US_ASCII));
        fs.blockingReads.add(ino);
        try (TestMount m = TestMount.mount(fs); CProgram c = new CProgram(tool)) {
            c.ok("open " + m.path("slow"));
            c.send("pread 0 16");
            assertTrue(fs.readBlocked.await(10, TimeUnit.SECONDS));
            c.process().destroyForcibly();
            assertTrue(fs.interruptSeen.await(10, TimeUnit.SECONDS), "onInterrupt ran for the killed reader");
            assertTrue(c.process().waitFor(10, TimeUnit.SECONDS), "the reader exited");
        }
    }
}
