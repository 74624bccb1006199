package io.c9fs.server;

import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rgetattr;
import io.c9fs.transport.proto.Message.Rlcreateattr;
import io.c9fs.transport.proto.Message.Rlease;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Tlcreateattr: clone, create, node walk and getattr in one exchange; a Tlease of the new fid may follow at once. */
class LcreateattrTest {
    private static final int O_WRONLY = 1;
    private static final int O_EXCL = 0200;
    private ServedExport e;
    private NinepClient c;
    private final int root = 0;

    @BeforeEach
    void start() throws Exception {
        e = ServedExport.start();
        c = e.attached("9P2000.L.c9");
        assertEquals(Dialect.P9P2000_L_C9, c.dialect());
    }

    @AfterEach
    void stop() throws Exception {
        e.close();
    }

    @Test
    void createsOpensWalksAndAnswersTheAttributes() throws Exception {
        Files.createDirectory(e.dir.resolve("d"));
        int dir = walk(c, root, "d");
        int open = c.allocFid();
        int node = c.allocFid();
        // Sent back to back: the lease waits behind the create, whose fid it names.
        CompletableFuture<Rlcreateattr> made = c.rpc(new Message.Tlcreateattr(dir, open, node, "f",
                O_WRONLY | O_EXCL, 0640, 0), Rlcreateattr.class);
        CompletableFuture<Rlease> lease = c.rpc(new Message.Tlease(open, Message.LEASE_WRITE), Rlease.class);
        Rlcreateattr r = made.get(10, TimeUnit.SECONDS);
        assertEquals(Message.LEASE_WRITE, lease.get(10, TimeUnit.SECONDS).mode());
        Path f = e.dir.resolve("d/f");
        assertTrue(Files.isRegularFile(f));
        assertEquals(0100640, r.attr().mode() & 0170777);
        assertEquals(0, r.attr().size());
        assertEquals(r.qid().path(), r.attr().qid().path());
        // The open fid writes; the node fid is a walked fid of the same file.
        c.call(new Message.Twrite(open, 0, Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8)),
                Message.Rwrite.class);
        Rgetattr a = c.call(new Message.Tgetattr(node, Rgetattr.BASIC), Rgetattr.class);
        assertEquals(r.qid().path(), a.qid().path());
        assertEquals(5, a.size());
        assertEquals("hello", Files.readString(f));
        int clone = c.allocFid();
        c.call(new Message.Twalk(node, clone, List.of()), Message.Rwalk.class);
        ServedExport.clunk(c, clone);
        ServedExport.clunk(c, open);
        ServedExport.clunk(c, node);
        ServedExport.clunk(c, dir);
    }

    @Test
    void aFailedCreateLeavesNeitherFid() throws Exception {
        Files.createDirectory(e.dir.resolve("d"));
        Files.writeString(e.dir.resolve("d/taken"), "x");
        int dir = walk(c, root, "d");
        int open = c.allocFid();
        int node = c.allocFid();
        NinepException x = assertThrows(NinepException.class, () -> c.call(new Message.Tlcreateattr(dir, open,
                node, "taken", O_WRONLY | O_EXCL, 0644, 0), Rlcreateattr.class));
        assertEquals(Errno.EEXIST, x.errno());
        for (int fid : new int[] {open, node}) {
            NinepException gone = assertThrows(NinepException.class,
                    () -> c.call(new Message.Tclunk(fid), Message.Rclunk.class));
            assertEquals(Errno.EBADF, gone.errno());
        }
        // The numbers are free: a second try with them works.
        Rlcreateattr r = c.call(new Message.Tlcreateattr(dir, open, node, "new", O_WRONLY, 0644, 0),
                Rlcreateattr.class);
        assertTrue(Files.isRegularFile(e.dir.resolve("d/new")));
        assertEquals(r.qid().path(), c.call(new Message.Tgetattr(node, Rgetattr.BASIC), Rgetattr.class).qid().path());
    }

    @Test
    void fidsInUseOrRepeatedAreRefusedBeforeAnythingIsCreated() throws Exception {
        Files.createDirectory(e.dir.resolve("d"));
        int dir = walk(c, root, "d");
        int other = walk(c, root, "d");
        NinepException inUse = assertThrows(NinepException.class, () -> c.call(new Message.Tlcreateattr(dir,
                other, c.allocFid(), "f", O_WRONLY, 0644, 0), Rlcreateattr.class));
        assertEquals(Errno.EBADF, inUse.errno());
        int n = c.allocFid();
        NinepException same = assertThrows(NinepException.class, () -> c.call(new Message.Tlcreateattr(dir,
                n, n, "f", O_WRONLY, 0644, 0), Rlcreateattr.class));
        assertEquals(Errno.EINVAL, same.errno());
        assertTrue(Files.notExists(e.dir.resolve("d/f")));
    }

    @Test
    void plain9P2000LDoesNotCarryIt() throws Exception {
        NinepClient plain = e.attached("9P2000.L");
        try {
            assertEquals(Dialect.P9P2000_L, plain.dialect());
            assertThrows(Exception.class, () -> plain.call(new Message.Tlcreateattr(0, plain.allocFid(),
                    plain.allocFid(), "f", O_WRONLY, 0644, 0), Rlcreateattr.class));
        } finally {
            plain.close();
        }
    }
}
