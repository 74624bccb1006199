package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.testing.DiodServer;
import io.c9fs.transport.testing.Scratch;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@link RedialingSession} against a real diod that is SIGKILLed and started again on the same
 * port: fids keep their numbers and meaning, an open file reads again, a request made during
 * the outage is answered once the server is back, a file replaced meanwhile is ESTALE.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedialingSessionTest {
    static final int O_RDONLY = 0;

    Path export;
    DiodServer diod;
    RedialingSession session;
    int root;

    @BeforeEach
    void start() throws Exception {
        export = Scratch.newDir("redial-export");
        diod = DiodServer.start(export);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (session != null) {
                session.close();
            }
            if (diod != null) {
                diod.close();
            }
        } finally {
            Scratch.delete(export);
        }
    }

    void connect(Duration soft) throws Exception {
        session = RedialingSession.connect(diod.address(),
                ClientConfig.defaults().withRequestTimeout(Duration.ofSeconds(10)), soft);
        root = session.allocFid();
        session.attach(root, session.config().uname(), diod.aname());
    }

    int walk(int from, String... names) throws NinepException {
        int fid = session.allocFid();
        Rwalk w = session.call(new Twalk(from, fid, List.of(names)), Rwalk.class);
        assertEquals(names.length, w.wqids().size());
        return fid;
    }

    String read(int fid) throws NinepException {
        Rread r = session.call(new Tread(fid, 0, 100), Rread.class);
        try {
            return r.data().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
    }

    static int errno(CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
        Throwable t = e.getCause();
        return t instanceof NinepException n ? n.errno() : -1;
    }

    @Test
    void fidsSurviveTheServerBeingKilledAndRestarted() throws Exception {
        Files.createDirectory(export.resolve("d"));
        Files.writeString(export.resolve("d/open"), "still here");
        Files.writeString(export.resolve("kept"), "kept");
        Files.writeString(export.resolve("replaced"), "old");
        connect(null);
        int open = walk(root, "d", "open");
        session.call(new Tlopen(open, O_RDONLY), Rlopen.class);
        int kept = walk(root, "kept");
        int replaced = walk(root, "replaced");
        assertEquals("still here", read(open));

        int port = diod.port();
        diod.kill();
        // A new inode under the old name: written beside it, then renamed over it (an unlinked
        // inode number could be handed out again at once).
        Files.writeString(export.resolve("replacement"), "new");
        Files.move(export.resolve("replacement"), export.resolve("replaced"), StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(export.resolve("d/open"), "changed meanwhile");
        // Asked while the server is down: a hard session holds the request until it is back.
        CompletableFuture<Rread> during = session.rpc(new Tread(open, 0, 100), Rread.class);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (session.state() == RedialingSession.State.CONNECTED && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(RedialingSession.State.RECONNECTING, session.state());
        Thread.sleep(300);
        assertFalse(during.isDone(), "a hard session waits for the server");
        diod = DiodServer.startOn(export, port);

        Rread r = during.get(60, TimeUnit.SECONDS);
        try {
            assertEquals("changed meanwhile", r.data().toString(StandardCharsets.UTF_8));
        } finally {
            r.release();
        }
        assertEquals(RedialingSession.State.CONNECTED, session.state());
        assertEquals("changed meanwhile", read(open));
        assertEquals(Errno.ESTALE, errno(session.rpc(new Tgetattr(replaced, Rgetattr.BASIC), Rgetattr.class)));
        int k = walk(kept);
        session.call(new Tlopen(k, O_RDONLY), Rlopen.class);
        assertEquals("kept", read(k));
        // A stale fid's clunk succeeds: nothing of it exists on the new server.
        session.call(new Tclunk(replaced), Rclunk.class);
        assertEquals(1, session.recovery().reconnects());
        assertTrue(session.recovery().staleFids() >= 1);
        // New fids after the reconnect work as ever.
        int fresh = walk(root, "replaced");
        session.call(new Tlopen(fresh, O_RDONLY), Rlopen.class);
        assertEquals("new", read(fresh));
    }

    @Test
    void aSoftSessionFailsWithEioDuringTheOutageAndWorksAfter() throws Exception {
        Files.writeString(export.resolve("f"), "soft");
        connect(Duration.ofSeconds(1));
        int f = walk(root, "f");
        int port = diod.port();
        diod.kill();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (session.state() == RedialingSession.State.CONNECTED && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        long t0 = System.nanoTime();
        assertEquals(Errno.EIO, errno(session.rpc(new Tgetattr(f, Rgetattr.BASIC), Rgetattr.class)));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(waited < 10_000, "failed after " + waited + " ms, timeo is 1 s");
        diod = DiodServer.startOn(export, port);
        AtomicInteger tries = new AtomicInteger();
        Rgetattr a = null;
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (a == null && System.nanoTime() < deadline) {
            try {
                tries.incrementAndGet();
                a = session.call(new Tgetattr(f, Rgetattr.BASIC), Rgetattr.class);
            } catch (NinepException e) {
                assertEquals(Errno.EIO, e.errno());
                Thread.sleep(100);
            }
        }
        assertEquals(4, a.size());
    }
}
