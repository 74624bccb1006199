package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Escape attempts: none may reveal or change a byte outside the export. The export sits in a
 * directory that also holds {@code outside/f} ("SECRET"); every test checks it is untouched.
 */
class ConfinementTest {
    private static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_TRUNC = 01000;
    private static final String SECRET = "SECRET";

    private ServedExport e;
    private NinepClient c;
    private Path outside;

    @BeforeEach
    void start() throws Exception {
        e = ServedExport.start();
        outside = Files.createDirectory(e.base.resolve("outside"));
        Files.writeString(outside.resolve("f"), SECRET);
        Files.createSymbolicLink(e.dir.resolve("abs"), outside);
        Files.createSymbolicLink(e.dir.resolve("etc"), Path.of("/etc"));
        Files.createSymbolicLink(e.dir.resolve("rel"), Path.of("../outside"));
        Files.createSymbolicLink(e.dir.resolve("relfile"), Path.of("../outside/f"));
        Files.createDirectory(e.dir.resolve("in"));
        Files.writeString(e.dir.resolve("in/f"), "inside");
        c = e.attached("9P2000.L");
    }

    @AfterEach
    void stop() throws Exception {
        try {
            assertEquals(SECRET, Files.readString(outside.resolve("f")), "outside file changed");
            try (var s = Files.list(outside)) {
                assertEquals(1, s.count(), "something was created outside");
            }
        } finally {
            e.close();
        }
    }

    private int errno(Message t) {
        return assertThrows(NinepException.class, () -> c.call(t, Message.class)).errno();
    }

    /** How many names of a walk from the root succeed (a walk failing at the first name: 0). */
    private int walked(String... names) throws Exception {
        int nf = c.allocFid();
        try {
            int n = c.call(new Twalk(0, nf, List.of(names)), Rwalk.class).wqids().size();
            if (n == names.length) {
                clunk(c, nf);
            }
            return n;
        } catch (NinepException ex) {
            return 0;
        }
    }

    private String readAll(int fid) throws Exception {
        c.call(new Tlopen(fid, O_RDONLY), Rlopen.class);
        Rread r = c.call(new Tread(fid, 0, 100), Rread.class);
        try {
            return r.data().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
    }

    @Test
    void dotDotStaysAtTheRoot() throws Exception {
        Qid root = c.call(new Tgetattr(0, Rgetattr.BASIC), Rgetattr.class).qid();
        int nf = c.allocFid();
        Rwalk w = c.call(new Twalk(0, nf, List.of("..", "..", "..")), Rwalk.class);
        assertEquals(List.of(root, root, root), w.wqids().stream()
                .map(q -> new Qid(q.type(), root.version(), q.path())).toList());
        assertEquals(root.path(), c.call(new Tgetattr(nf, Rgetattr.BASIC), Rgetattr.class).qid().path());
        assertEquals(1, walked("..", "outside", "f"), "\"..\" of the root is the root");
        assertEquals(3, walked("in", "..", "..", "outside"), "stops before the name outside");
        assertEquals("inside", readAll(walk(c, 0, "in", "..", "..", "in", "f")));
        // A name is one component: slashes and embedded ".." never reach the host.
        assertEquals(Errno.EINVAL, errno(new Twalk(0, c.allocFid(), List.of("../outside"))));
        assertEquals(Errno.EINVAL, errno(new Twalk(0, c.allocFid(), List.of("in/f"))));
        assertEquals(Errno.EINVAL, errno(new Tlcreate(walk(c, 0), "../outside/g", O_RDWR, 0644, 0)));
        assertEquals(Errno.EINVAL, errno(new Trenameat(0, "in", 0, "../outside/in")));
        assertEquals(Errno.EINVAL, errno(new Tmkdir(0, "../outside/d", 0755, 0)));

        // readdir of the root shows the root itself as "..", not the directory above it.
        int d = walk(c, 0);
        c.call(new Tlopen(d, O_RDONLY), Rlopen.class);
        for (Dirent de : c.call(new Treaddir(d, 0, 8192), Rreaddir.class).entries()) {
            if (de.name().equals("..")) {
                assertEquals(root.path(), de.qid().path());
            }
        }
    }

    @Test
    void symlinksAreReturnedNeverFollowed() throws Exception {
        for (String link : List.of("abs", "etc", "rel")) {
            assertEquals(1, walked(link, "f"), link + " is not walked through");
            assertEquals(1, walked(link, "passwd"), link + " is not walked through");
            int l = walk(c, 0, link);
            Rgetattr a = c.call(new Tgetattr(l, Rgetattr.BASIC), Rgetattr.class);
            assertEquals(0120000, a.mode() & 0170000, link + " is reported as the symlink itself");
            assertTrue(a.qid().isSymlink());
            assertEquals(Errno.ELOOP, errno(new Tlopen(l, O_RDONLY)));
            assertEquals(Errno.ENODATA, errno(new Txattrwalk(l, c.allocFid(), "user.x")));
            assertEquals(Errno.EPERM, errno(new Txattrcreate(walk(c, l), "user.x", 1, 0)));
            assertEquals(Errno.EOPNOTSUPP, errno(new Tsetattr(l, Tsetattr.MODE, 0777, 0, 0, 0, 0, 0, 0, 0)));
            assertEquals(Errno.EINVAL, errno(new Tsetattr(l, Tsetattr.SIZE, 0, 0, 0, 0, 0, 0, 0, 0)));
            assertEquals(Errno.ENOTDIR, errno(new Tlcreate(walk(c, l), "new", O_RDWR, 0644, 0)));
            assertEquals(Errno.ENOTDIR, errno(new Tmkdir(l, "new", 0755, 0)));
            assertEquals(Errno.ENOTDIR, errno(new Tsymlink(l, "new", "x", 0)));
        }
        int rf = walk(c, 0, "relfile");
        assertEquals(Errno.ELOOP, errno(new Tlopen(rf, O_WRONLY | O_TRUNC)));
        // Creating over a symlink fails instead of writing its target.
        assertEquals(Errno.ELOOP, errno(new Tlcreate(walk(c, 0), "relfile", O_WRONLY | O_TRUNC, 0644, 0)));
        // A hard link made through the server links the symlink, not what it points to.
        c.call(new Tlink(0, rf, "hard"), Rlink.class);
        assertTrue(Files.isSymbolicLink(e.dir.resolve("hard")));
        assertEquals(Errno.ELOOP, errno(new Tlopen(walk(c, 0, "hard"), O_RDWR)));
        // 9P2000.u stat of a symlink shows its target as text only.
        NinepClient u = e.attached("9P2000.u");
        assertEquals("../outside/f", u.call(new Tstat(walk(u, 0, "relfile")), Rstat.class).stat().extension());
    }

    @Test
    void aDirectorySwappedForASymlinkDuringWalksNeverLeaks() throws Exception {
        Path swap = e.dir.resolve("swap");
        Path real = e.dir.resolve("real");
        Path evil = e.dir.resolve("evil");
        Files.createDirectory(real);
        Files.writeString(real.resolve("f"), "inside");
        Files.createSymbolicLink(evil, outside);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger swaps = new AtomicInteger();
        Thread swapper = new Thread(() -> {
            try {
                while (!stop.get()) {
                    Files.move(real, swap, StandardCopyOption.ATOMIC_MOVE);
                    Files.move(swap, real, StandardCopyOption.ATOMIC_MOVE);
                    Files.move(evil, swap, StandardCopyOption.ATOMIC_MOVE);
                    Files.move(swap, evil, StandardCopyOption.ATOMIC_MOVE);
                    swaps.incrementAndGet();
                }
            } catch (Exception ex) {
                throw new RuntimeException(ex);
            }
        }, "swapper");
        swapper.start();
        int inside = 0;
        int refused = 0;
        try {
            long end = System.nanoTime() + 2_000_000_000L;
            while (System.nanoTime() < end) {
                int nf = c.allocFid();
                try {
                    Rwalk w = c.call(new Twalk(0, nf, List.of("swap", "f")), Rwalk.class);
                    if (w.wqids().size() < 2) {
                        refused++;
                        continue;
                    }
                    String got = readAll(nf);
                    assertNotEquals(SECRET, got, "read outside the export");
                    assertEquals("inside", got);
                    inside++;
                    clunk(c, nf);
                } catch (NinepException ex) {
                    refused++;
                    c.freeFid(nf);
                }
            }
        } finally {
            stop.set(true);
            swapper.join(5000);
        }
        assertTrue(swaps.get() > 100, "the swap raced: " + swaps.get());
        assertTrue(refused > 0, "some walks met the symlink or no name");
        assertTrue(inside > 0, "some walks met the real directory");
    }
}
