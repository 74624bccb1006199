package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** POSIX locks through GETLK/SETLK/SETLKW, lookup reference accounting, concurrent clients. */
@Tag("fuse")
class LocksAndLookupsTest {

    @Test
    void posixLocksConflictAndSetlkwHonoursInterrupts() throws Exception {
        Path tool = FuseTestSupport.compile("fuse-mmap");
        MemFs fs = new MemFs();
        fs.putFile("l", new byte[200]);
        try (TestMount m = TestMount.mount(fs); CProgram a = new CProgram(tool); CProgram b = new CProgram(tool)) {
            a.ok("open " + m.path("l"));
            b.ok("open " + m.path("l"));
            a.ok("lock w 0 100");
            assertEquals("ERR 11", b.cmd("lock w 50 10"), "conflicting F_SETLK fails with EAGAIN");
            assertEquals("LK 1 " + a.pid(), b.cmd("getlk w 0 10"), "F_GETLK names the holder");
            assertEquals("LK 2 0", b.cmd("getlk w 100 10").replaceAll(" \\d+$", " 0"), "no conflict past 99");
            b.ok("lock r 100 10");

            b.send("lockw w 0 10");
            assertNull(pollAnswer(b, 300), "F_SETLKW waits while the lock is held");
            FuseTestSupport.run("kill", "-USR1", Long.toString(b.pid()));
            assertEquals("ERR 4", b.answer(10), "the interrupted SETLKW ends with EINTR");

            b.send("lockw w 0 10");
            assertNull(pollAnswer(b, 300));
            a.ok("lock u 0 100");
            assertEquals("OK", b.answer(10), "SETLKW is granted once the holder unlocks");
        }
    }

    private static String pollAnswer(CProgram c, long millis) throws InterruptedException {
        Thread.sleep(millis);
        try {
            return c.answer(0);
        } catch (AssertionError none) {
            return null;
        }
    }

    @Test
    void lookupReferencesAreReturnedByForget() throws Exception {
        MemFs fs = new MemFs();
        List<Long> ids = new ArrayList<>();
        for (String n : List.of("a", "b", "c")) {
            ids.add(fs.putFile(n, n.getBytes(StandardCharsets.US_ASCII)));
        }
        try (TestMount m = TestMount.mount(fs)) {
            try (Stream<Path> s = Files.list(m.mountpoint)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.readAttributes(p, PosixFileAttributes.class);
                }
            }
            assertEquals("b", Files.readString(m.path("b")));
            for (long id : ids) {
                assertTrue(fs.lookupCount(id) > 0, "the kernel holds a reference to " + id);
            }
            // Evicting dentries and inodes makes the kernel send FORGET / BATCH_FORGET for them.
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ids.stream().anyMatch(id -> fs.lookupCount(id) != 0) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            for (long id : ids) {
                assertEquals(0, fs.lookupCount(id), "every LOOKUP/READDIRPLUS reference came back for " + id);
            }
        }
    }

    @Test
    void concurrentClientsOnSeveralWorkers() throws Exception {
        MemFs fs = new MemFs();
        try (TestMount m = TestMount.mount(fs)) {
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 6; t++) {
                    int me = t;
                    done.add(pool.submit(() -> {
                        Path dir = Files.createDirectory(m.path("t" + me));
                        for (int i = 0; i < 150; i++) {
                            byte[] data = ("thread " + me + " file " + i).repeat(50).getBytes(StandardCharsets.UTF_8);
                            Path f = dir.resolve("f" + i);
                            Files.write(f, data);
                            Files.move(f, dir.resolve("g" + i));
                            assertArrayEquals(data, Files.readAllBytes(dir.resolve("g" + i)));
                            Files.delete(dir.resolve("g" + i));
                        }
                        Files.delete(dir);
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get(120, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            try (Stream<Path> s = Files.list(m.mountpoint)) {
                assertEquals(0, s.count());
            }
        }
    }
}
