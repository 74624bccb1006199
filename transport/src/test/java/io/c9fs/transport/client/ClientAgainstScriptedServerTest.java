package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.testing.ScriptedServer;
import io.c9fs.transport.testing.ScriptedServer.Request;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client's tags, flushes, timeouts and failure handling, against a server the test drives. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClientAgainstScriptedServerTest {
    static final Rgetattr ATTR = new Rgetattr(Rgetattr.BASIC, new Qid(0, 1, 2), 0100644, 0, 0, 1, 0, 5,
            4096, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    ScriptedServer server;
    NinepClient client;

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    void start(Set<Dialect> dialects, ClientConfig cfg) throws Exception {
        server = new ScriptedServer(dialects, 64 * 1024);
        client = NinepClient.connect(server.address(), cfg);
    }

    void start() throws Exception {
        start(EnumSet.allOf(Dialect.class), ClientConfig.defaults());
    }

    static Throwable cause(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void negotiatesMsizeDownToTheServersMaximum() throws Exception {
        start();
        assertEquals(Dialect.P9P2000_L, client.dialect());
        assertEquals(64 * 1024, client.msize());
        assertEquals(64 * 1024 - 24, client.iounit());
    }

    @Test
    void repliesInAnyOrderReachTheirRequests() throws Exception {
        start();
        List<CompletableFuture<Rread>> reads = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            reads.add(client.rpc(new Tread(1, i, 10), Rread.class));
        }
        List<Request> got = new ArrayList<>();
        Set<Integer> tags = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            Request r = server.next();
            got.add(r);
            assertTrue(tags.add(r.tag()), "tags of outstanding requests are distinct");
            assertNotEquals(Message.NOTAG, r.tag());
        }
        for (int i = got.size() - 1; i >= 0; i--) {
            Request r = got.get(i);
            long offset = ((Tread) r.fcall().message()).offset();
            r.conn().reply(r.tag(), new Rread(Unpooled.copiedBuffer("off" + offset, StandardCharsets.UTF_8)));
        }
        for (int i = 0; i < 50; i++) {
            Rread r = reads.get(i).get(10, TimeUnit.SECONDS);
            assertEquals("off" + i, r.data().toString(StandardCharsets.UTF_8));
            r.release();
        }
    }

    @Test
    void repliesFromManyThreadsAtOnceStayWhole() throws Exception {
        start();
        int n = 1600;
        List<CompletableFuture<Rread>> reads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            reads.add(client.rpc(new Tread(1, i, 0), Rread.class));
        }
        List<Request> got = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            got.add(server.next());
        }
        List<Thread> repliers = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int first = t;
            Thread th = new Thread(() -> {
                for (int i = first; i < n; i += 16) {
                    Request r = got.get(i);
                    long off = ((Tread) r.fcall().message()).offset();
                    byte[] body = new byte[(int) (off * 37 % 20000)];
                    java.util.Arrays.fill(body, (byte) off);
                    r.conn().reply(r.tag(), new Rread(Unpooled.wrappedBuffer(body)));
                }
            });
            th.start();
            repliers.add(th);
        }
        for (Thread th : repliers) {
            th.join(10_000);
        }
        for (int i = 0; i < n; i++) {
            Rread r = reads.get(i).get(10, TimeUnit.SECONDS);
            assertEquals(i * 37 % 20000, r.data().readableBytes());
            for (int j = 0; j < r.data().readableBytes(); j++) {
                if (r.data().getByte(r.data().readerIndex() + j) != (byte) i) {
                    throw new AssertionError("reply " + i + " corrupted at " + j);
                }
            }
            r.release();
        }
    }

    @Test
    void errorsCarryTheErrnoInEveryDialect() throws Exception {
        for (Dialect d : Dialect.values()) {
            start(EnumSet.of(d), ClientConfig.defaults().withVersion(d.version()));
            assertEquals(d, client.dialect());
            CompletableFuture<Rwalk> f = client.rpc(new Twalk(0, 1, List.of("nope")), Rwalk.class);
            Request r = server.next();
            r.conn().error(r.tag(), Errno.ENOENT);
            NinepException e = assertInstanceOf(NinepException.class, cause(f));
            assertEquals(Errno.ENOENT, e.errno(), d + ": " + e.getMessage());
            tearDown();
        }
        server = null;
        client = null;
    }

    @Test
    void olderDialectIsAcceptedWhenTheServerFallsBack() throws Exception {
        start(EnumSet.of(Dialect.P9P2000), ClientConfig.defaults());
        assertEquals(Dialect.P9P2000, client.dialect(), "9P2000.L falls back to 9P2000 (version(5))");
    }

    @Test
    void unknownVersionIsAClearError() throws Exception {
        server = new ScriptedServer(EnumSet.of(Dialect.P9P2000_U), 8192);
        NinepException e = assertThrows(NinepException.class,
                () -> NinepClient.connect(server.address(), ClientConfig.defaults()));
        assertEquals(Errno.EPROTONOSUPPORT, e.errno());
        assertTrue(e.getMessage().contains("does not speak 9P2000.L"), e.getMessage());
    }

    @Test
    void wrongReplyTypeIsEproto() throws Exception {
        start();
        CompletableFuture<Rgetattr> f = client.rpc(new Tgetattr(1, Rgetattr.BASIC), Rgetattr.class);
        Request r = server.next();
        r.conn().reply(r.tag(), new Rclunk());
        assertEquals(Errno.EPROTO, assertInstanceOf(NinepException.class, cause(f)).errno());
        assertTrue(client.isOpen(), "a wrong type fails the request, not the connection");
    }

    @Test
    void cancelSendsTflushAndKeepsTheTagUntilRflush() throws Exception {
        start();
        CompletableFuture<Rread> read = client.rpc(new Tread(1, 0, 10), Rread.class);
        Request parked = server.next();
        assertTrue(read.cancel(true));
        Request flush = server.next();
        Tflush tf = assertInstanceOf(Tflush.class, flush.fcall().message());
        assertEquals(parked.tag(), tf.oldtag());
        // Until Rflush the old tag must not be handed out again.
        List<CompletableFuture<Rgetattr>> more = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            more.add(client.rpc(new Tgetattr(1, 1), Rgetattr.class));
            Request m = server.next();
            assertNotEquals(parked.tag(), m.tag(), "tag of a flushed request reused before Rflush");
            assertNotEquals(flush.tag(), m.tag());
            m.conn().reply(m.tag(), ATTR);
        }
        for (CompletableFuture<Rgetattr> f : more) {
            assertEquals(ATTR, f.get(10, TimeUnit.SECONDS));
        }
        assertEquals(Message.NOTAG - 2, client.freeTags(), "flushed tag and Tflush's tag still held");
        // The original reply may still come before the Rflush: it is dropped quietly.
        parked.conn().reply(parked.tag(), new Rread(Unpooled.copiedBuffer("late", StandardCharsets.UTF_8)));
        flush.conn().reply(flush.tag(), new Rflush());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (client.freeTags() != Message.NOTAG && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(Message.NOTAG, client.freeTags(), "both tags free after Rflush");
        assertTrue(client.isOpen());
    }

    @Test
    void timeoutFailsWithEtimedoutAndFlushes() throws Exception {
        start(EnumSet.allOf(Dialect.class), ClientConfig.defaults().withRequestTimeout(Duration.ofMillis(300)));
        long t0 = System.nanoTime();
        CompletableFuture<Rread> read = client.rpc(new Tread(1, 0, 10), Rread.class);
        Request parked = server.next();
        NinepException e = assertInstanceOf(NinepException.class, cause(read));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Errno.ETIMEDOUT, e.errno());
        assertTrue(ms >= 290 && ms < 5000, "timed out after " + ms + " ms");
        Request flush = server.next();
        assertEquals(parked.tag(), assertInstanceOf(Tflush.class, flush.fcall().message()).oldtag());
        flush.conn().reply(flush.tag(), new Rflush());
        // The blocking call is bounded the same way.
        long t1 = System.nanoTime();
        NinepException e2 = assertThrows(NinepException.class, () -> client.call(new Tgetattr(1, 1), Rgetattr.class));
        assertEquals(Errno.ETIMEDOUT, e2.errno());
        assertTrue((System.nanoTime() - t1) / 1_000_000 < 5000);
    }

    @Test
    void lostConnectionFailsEveryPendingRequestAtOnce() throws Exception {
        start();
        List<CompletableFuture<Message>> pending = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            pending.add(client.rpc(new Tgetattr(i, 1)));
        }
        Request r = null;
        for (int i = 0; i < 100; i++) {
            r = server.next();
        }
        r.conn().channel().close();
        for (CompletableFuture<Message> f : pending) {
            NinepException e = assertInstanceOf(NinepException.class, cause(f));
            assertEquals(Errno.ECONNRESET, e.errno());
            assertTrue(e.getMessage().contains(client.server()), e.getMessage());
        }
        client.closeFuture().get(5, TimeUnit.SECONDS);
        assertFalse(client.isOpen());
        NinepException after = assertInstanceOf(NinepException.class, cause(client.rpc(new Tclunk(1))));
        assertEquals(Errno.ECONNRESET, after.errno());
    }

    @Test
    void replyWithUnknownTagEndsTheConnection() throws Exception {
        start();
        CompletableFuture<Message> f = client.rpc(new Tgetattr(1, 1));
        Request r = server.next();
        r.conn().reply((r.tag() + 7) & 0x7FFF, ATTR);
        NinepException e = assertInstanceOf(NinepException.class, cause(f));
        assertEquals(Errno.EPROTO, e.errno());
        assertTrue(e.getMessage().contains("unknown tag"), e.getMessage());
        client.closeFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void twriteDataIsReleasedByTheClientAndArrivesIntact() throws Exception {
        start();
        var data = Unpooled.directBuffer(5000);
        for (int i = 0; i < 5000; i++) {
            data.writeByte(i);
        }
        byte[] expect = ByteBufUtil.getBytes(data);
        CompletableFuture<Rwrite> f = client.rpc(new Twrite(3, 77, data), Rwrite.class);
        Request r = server.next();
        Twrite w = assertInstanceOf(Twrite.class, r.fcall().message());
        assertEquals(77, w.offset());
        assertEquals(java.util.Arrays.toString(expect), java.util.Arrays.toString(ByteBufUtil.getBytes(w.data())));
        w.release();
        r.conn().reply(r.tag(), new Rwrite(5000));
        assertEquals(5000, f.get(10, TimeUnit.SECONDS).count());
        assertEquals(0, data.refCnt(), "the client released the caller's Twrite buffer");
    }

    @Test
    void oversizeRequestFailsWithoutTouchingTheConnection() throws Exception {
        start();
        CompletableFuture<Message> f = client.rpc(new Twrite(1, 0, Unpooled.buffer().writeZero(client.msize())));
        assertEquals(Errno.EMSGSIZE, assertInstanceOf(NinepException.class, cause(f)).errno());
        assertNull(server.poll(100));
        assertTrue(client.isOpen());
    }

    @Test
    void unixSocket() throws Exception {
        java.nio.file.Files.createDirectories(java.nio.file.Path.of("/tmp/c9fs-transport"));
        NinepAddress where = NinepAddress.parse("unix:/tmp/c9fs-transport/scripted-" + ProcessHandle.current().pid() + ".sock");
        server = new ScriptedServer(where, EnumSet.allOf(Dialect.class), 8192);
        try {
            client = NinepClient.connect(where, ClientConfig.defaults());
            CompletableFuture<Rgetattr> f = client.rpc(new Tgetattr(1, 1), Rgetattr.class);
            Request r = server.next();
            r.conn().reply(r.tag(), ATTR);
            assertEquals(ATTR, f.get(10, TimeUnit.SECONDS));
            assertEquals(8192, client.msize());
        } finally {
            client.close();
            client = null;
            server.close();
            server = null;
            java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(where.path()));
        }
    }

    @Test
    void connectToNothingFailsBounded() throws Exception {
        java.net.ServerSocket s = new java.net.ServerSocket(0);
        int port = s.getLocalPort();
        s.close();
        NinepException e = assertThrows(NinepException.class,
                () -> NinepClient.connect(NinepAddress.tcp("127.0.0.1", port), ClientConfig.defaults()));
        assertEquals(Errno.ECONNREFUSED, e.errno());
        assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
    }

    @Test
    void fidsAreReusedAndNeverNofid() throws Exception {
        start();
        int a = client.allocFid();
        int b = client.allocFid();
        assertNotEquals(a, b);
        client.freeFid(a);
        assertEquals(a, client.allocFid());
        assertNotEquals(Message.NOFID, b);
    }
}
