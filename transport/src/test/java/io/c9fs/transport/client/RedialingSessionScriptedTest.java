package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.testing.ScriptedServer;
import io.c9fs.transport.testing.ScriptedServer.Request;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link RedialingSession} against a server the test drives: the replay table, lock reclaim
 * (GRACE, lost locks), a silent server, and a damaged reply during the re-attach.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RedialingSessionScriptedTest {
    static final Qid ROOT = new Qid(Qid.QTDIR, 0, 1);
    static final Qid FILE = new Qid(0, 0, 7);
    static final String CLIENT_ID = "test";

    ScriptedServer server;
    RedialingSession session;

    @AfterEach
    void tearDown() {
        if (session != null) {
            session.close();
        }
        if (server != null) {
            server.close();
        }
    }

    /** Connects, attaches fid 0 and walks fid 1 to "f" (qid.path 7). */
    void start(Duration requestTimeout) throws Exception {
        server = new ScriptedServer(EnumSet.of(Dialect.P9P2000_L), 64 * 1024);
        session = RedialingSession.connect(server.address(),
                ClientConfig.defaults().withRequestTimeout(requestTimeout), null);
        assertEquals(0, session.allocFid());
        CompletableFuture<Rattach> a = session.rpc(new Tattach(0, Message.NOFID, "u", "", 0), Rattach.class);
        answer(Tattach.class, new Rattach(ROOT));
        a.get(10, TimeUnit.SECONDS);
        assertEquals(1, session.allocFid());
        CompletableFuture<Rwalk> w = session.rpc(new Twalk(0, 1, List.of("f")), Rwalk.class);
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        w.get(10, TimeUnit.SECONDS);
    }

    /** The next request, which must be a {@code type}; answered with {@code reply}. */
    Request answer(Class<? extends Message> type, Message reply) throws InterruptedException {
        Request r = expect(type);
        r.conn().reply(r.tag(), reply);
        return r;
    }

    Request expect(Class<? extends Message> type) throws InterruptedException {
        Request r = server.next();
        assertInstanceOf(type, r.fcall().message(), "got " + r.fcall());
        return r;
    }

    /** Answers the re-attach and the re-walk of fid 1 on a new connection. */
    void restoreBasics() throws InterruptedException {
        answer(Tattach.class, new Rattach(ROOT));
        Request w = answer(Twalk.class, new Rwalk(List.of(FILE)));
        assertEquals(1, ((Twalk) w.fcall().message()).newfid());
    }

    static int errno(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        return e.getCause() instanceof NinepException n ? n.errno() : -1;
    }

    @Test
    void idempotentRequestsInFlightAreReplayedOthersFailWithEio() throws Exception {
        start(Duration.ofSeconds(30));
        CompletableFuture<Rread> read = session.rpc(new Tread(1, 0, 10), Rread.class);
        CompletableFuture<Rwrite> write = session.rpc(new Twrite(1, 5,
                Unpooled.copiedBuffer("abc", StandardCharsets.UTF_8)), Rwrite.class);
        CompletableFuture<Rmkdir> mkdir = session.rpc(new Tmkdir(0, "d", 0755, 0), Rmkdir.class);
        CompletableFuture<Rrenameat> rename = session.rpc(new Trenameat(0, "a", 0, "b"), Rrenameat.class);
        CompletableFuture<Rsetattr> truncate = session.rpc(new Tsetattr(1, Tsetattr.SIZE, 0, 0, 0, 0,
                0, 0, 0, 0), Rsetattr.class);
        Request last = null;
        for (int i = 0; i < 5; i++) {
            Request r = server.next();
            r.fcall().message().release();
            last = r;
        }
        last.conn().channel().close();
        assertEquals(Errno.EIO, errno(mkdir));
        assertEquals(Errno.EIO, errno(rename));
        assertEquals(Errno.EIO, errno(truncate));
        restoreBasics();
        // Replayed on the new connection, in whatever order; the write with its bytes intact.
        for (int i = 0; i < 2; i++) {
            Request r = server.next();
            if (r.fcall().message() instanceof Twrite tw) {
                assertEquals("abc", tw.data().toString(StandardCharsets.UTF_8));
                assertEquals(5, tw.offset());
                tw.release();
                r.conn().reply(r.tag(), new Rwrite(3));
            } else {
                assertInstanceOf(Tread.class, r.fcall().message());
                r.conn().reply(r.tag(), new Rread(Unpooled.copiedBuffer("data", StandardCharsets.UTF_8)));
            }
        }
        Rread got = read.get(30, TimeUnit.SECONDS);
        assertEquals("data", got.data().toString(StandardCharsets.UTF_8));
        got.release();
        assertEquals(3, write.get(30, TimeUnit.SECONDS).count());
        assertEquals(2, session.recovery().replayed());
        assertEquals(3, session.recovery().failedInFlight());
    }

    @Test
    void aLockReclaimInTheServersGracePeriodIsAskedAgain() throws Exception {
        start(Duration.ofSeconds(30));
        CompletableFuture<Rlock> l = session.rpc(new Tlock(1, Tlock.WRLCK, 0, 0, 10, 42, CLIENT_ID), Rlock.class);
        Request lr = answer(Tlock.class, new Rlock(Rlock.SUCCESS));
        l.get(10, TimeUnit.SECONDS);
        lr.conn().channel().close();
        restoreBasics();
        Request first = expect(Tlock.class);
        Tlock reclaim = (Tlock) first.fcall().message();
        assertEquals(Tlock.FLAGS_RECLAIM, reclaim.flags() & Tlock.FLAGS_RECLAIM);
        assertEquals(Tlock.WRLCK, reclaim.lockType());
        assertEquals(10, reclaim.length());
        long t0 = System.nanoTime();
        first.conn().reply(first.tag(), new Rlock(Rlock.GRACE));
        answer(Tlock.class, new Rlock(Rlock.SUCCESS));
        long gap = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(gap >= 200, "asked again after " + gap + " ms");
        CompletableFuture<Rgetlock> g = session.rpc(new Tgetlock(1, Tlock.WRLCK, 0, 10, 42, CLIENT_ID),
                Rgetlock.class);
        answer(Tgetlock.class, new Rgetlock(Tlock.UNLCK, 0, 0, 0, CLIENT_ID));
        g.get(10, TimeUnit.SECONDS);
        assertEquals(0, session.recovery().lostLocks());
    }

    @Test
    void aLockTheServerWillNotGiveBackFailsTheOwnersNextLockRequestOnce() throws Exception {
        start(Duration.ofSeconds(30));
        CompletableFuture<Rlock> l = session.rpc(new Tlock(1, Tlock.WRLCK, 0, 0, 0, 42, CLIENT_ID), Rlock.class);
        Request lr = answer(Tlock.class, new Rlock(Rlock.SUCCESS));
        l.get(10, TimeUnit.SECONDS);
        lr.conn().channel().close();
        restoreBasics();
        answer(Tlock.class, new Rlock(Rlock.BLOCKED)); // someone else took it meanwhile
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (session.state() != RedialingSession.State.CONNECTED && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, session.recovery().lostLocks());
        assertEquals(Errno.EIO, errno(session.rpc(new Tlock(1, Tlock.UNLCK, 0, 0, 0, 42, CLIENT_ID), Rlock.class)));
        // Once: the next request goes to the server.
        CompletableFuture<Rlock> again = session.rpc(new Tlock(1, Tlock.WRLCK, 0, 0, 0, 42, CLIENT_ID), Rlock.class);
        answer(Tlock.class, new Rlock(Rlock.SUCCESS));
        assertEquals(Rlock.SUCCESS, again.get(10, TimeUnit.SECONDS).status());
    }

    @Test
    void aSilentServerIsTakenAsLostAndTheRequestReplayed() throws Exception {
        // Long enough for this test to answer the set-up on a loaded machine, short for CI.
        start(Duration.ofSeconds(3));
        CompletableFuture<Rgetattr> g = session.rpc(new Tgetattr(1, Rgetattr.BASIC), Rgetattr.class);
        Request ignored = expect(Tgetattr.class);
        // No answer: after the request timeout the session redials (the old connection's Tflush
        // may come first).
        Request next = server.next();
        while (!(next.fcall().message() instanceof Tattach)) {
            next = server.next();
        }
        assertTrue(ignored.conn() != next.conn(), "a new connection");
        next.conn().reply(next.tag(), new Rattach(ROOT));
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        answer(Tgetattr.class, ClientAgainstScriptedServerTest.ATTR);
        assertEquals(5, g.get(30, TimeUnit.SECONDS).size());
        assertEquals(1, session.recovery().reconnects());
    }

    @Test
    void aDamagedReplyDuringTheReattachIsRetriedNotTakenAsAStaleRoot() throws Exception {
        start(Duration.ofSeconds(30));
        CompletableFuture<Rgetattr> g = session.rpc(new Tgetattr(1, Rgetattr.BASIC), Rgetattr.class);
        Request r = expect(Tgetattr.class);
        r.conn().channel().close();
        Request attach = expect(Tattach.class);
        // A frame that claims 11 bytes and carries an unknown type: garbage.
        attach.conn().channel().writeAndFlush(Unpooled.wrappedBuffer(new byte[] {11, 0, 0, 0, (byte) 250,
                (byte) attach.tag(), (byte) (attach.tag() >> 8), 1, 2, 3, 4}));
        restoreBasics();
        answer(Tgetattr.class, ClientAgainstScriptedServerTest.ATTR);
        assertEquals(5, g.get(30, TimeUnit.SECONDS).size());
        assertFalse(session.shadow().isStale(0), "the root is not stale");
        assertFalse(session.shadow().isStale(1));
        assertEquals(0, session.recovery().staleFids());
    }

    @Test
    void aRequestWaitingForTheServerIsWithdrawnWhenCancelled() throws Exception {
        start(Duration.ofSeconds(30));
        CompletableFuture<Rread> read = session.rpc(new Tread(1, 0, 10), Rread.class);
        expect(Tread.class).conn().channel().close();
        Request attach = expect(Tattach.class); // the restore is under way: requests wait
        CompletableFuture<Rgetattr> waiting = session.rpc(new Tgetattr(1, Rgetattr.BASIC), Rgetattr.class);
        assertEquals(RedialingSession.State.RECONNECTING, session.state());
        waiting.cancel(true); // what a FUSE_INTERRUPT does
        attach.conn().reply(attach.tag(), new Rattach(ROOT));
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        answer(Tread.class, new Rread(Unpooled.copiedBuffer("x", StandardCharsets.UTF_8)));
        read.get(30, TimeUnit.SECONDS).release();
        Request more = server.poll(500);
        assertEquals(null, more, "the cancelled request was sent after all: " + (more == null ? "" : more.fcall()));
        assertTrue(waiting.isCancelled());
    }

    @Test
    void aFileThatWalksToAnotherQidBecomesStale() throws Exception {
        start(Duration.ofSeconds(30));
        session.shadow(); // fid 1 is "f", qid.path 7
        Request probe;
        CompletableFuture<Rgetattr> g = session.rpc(new Tgetattr(1, Rgetattr.BASIC), Rgetattr.class);
        probe = expect(Tgetattr.class);
        probe.conn().channel().close();
        answer(Tattach.class, new Rattach(ROOT));
        answer(Twalk.class, new Rwalk(List.of(new Qid(0, 0, 8))));
        Request clunk = expect(Tclunk.class); // the session lets go of the other file's fid
        clunk.conn().reply(clunk.tag(), new Rclunk());
        assertEquals(Errno.ESTALE, errno(g));
        assertTrue(session.shadow().isStale(1));
    }

    @Test
    void theClientTokenFollowsTheAttachOnEveryConnectionUntilTheServerRefusesIt() throws Exception {
        Started started = startLeased();
        Tclient first = started.token();

        started.walk().conn().channel().close();
        answer(Tattach.class, new Rattach(ROOT));
        // Right after the re-attach, before the walks: the same token.
        Request again = answer(Tclient.class, new Rclient(1));
        assertEquals(first, again.fcall().message());
        expect(Tcallback.class); // recalls during the restore are answered (held here)
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        awaitConnected();

        // A server from before Tclient: EBADMSG and the connection closed. Never sent again.
        again.conn().channel().close();
        answer(Tattach.class, new Rattach(ROOT));
        Request refused = answer(Tclient.class, new Rlerror(Errno.EBADMSG));
        refused.conn().channel().close();
        Request r = server.next();
        while (r.conn() == refused.conn()) { // the restore may have gone on before the close
            r = server.next();
        }
        assertInstanceOf(Tattach.class, r.fcall().message(), "got " + r.fcall());
        r.conn().reply(r.tag(), new Rattach(ROOT));
        expect(Tcallback.class);
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        awaitConnected();
        assertEquals(2, session.recovery().reconnects());
    }

    /**
     * Two mounts restoring at once each wanted a write lease on a file the other had just taken
     * again; neither answered the other's recall until restored, so each waited a term (the
     * server fencing the other): 10-16 s of outage after a server restart under load.
     */
    @Test
    void aRecallReachingARestoreIsAnsweredWhileItsWriteLeaseWaits() throws Exception {
        startLeased();
        CompletableFuture<Rlease> l = session.rpc(new Tlease(1, Message.LEASE_WRITE), Rlease.class);
        Request lease = answer(Tlease.class, new Rlease(Message.LEASE_WRITE, 1, 5000, FILE));
        l.get(10, TimeUnit.SECONDS);

        lease.conn().channel().close();
        answer(Tattach.class, new Rattach(ROOT));
        answer(Tclient.class, new Rclient(1));
        Request channel = expect(Tcallback.class);
        answer(Twalk.class, new Rwalk(List.of(FILE)));
        Request retake = expect(Tlease.class); // held: another client's recall is pending
        channel.conn().reply(channel.tag(), new Rcallback(5000,
                List.of(new Recall(42, Recall.DATA, FILE.path(), 0, 0, ""))));
        Request ack = expect(Trecalled.class);
        assertEquals(42, ((Trecalled) ack.fcall().message()).id());
        ack.conn().reply(ack.tag(), new Rrecalled());
        expect(Tcallback.class); // the channel stays open for the rest of the restore
        assertEquals(RedialingSession.State.RECONNECTING, session.state());
        retake.conn().reply(retake.tag(), new Rlease(Message.LEASE_WRITE, 2, 5000, FILE));
        awaitConnected();
        assertEquals(1, session.recovery().restoreRecalls());
    }

    record Started(Tclient token, Request walk) {
    }

    /**
     * A 9P2000.L.c9 session: fid 0 attached, the client token presented after it (on the first
     * connection, not waited for), fid 1 walked to "f". The token and the walk's request.
     */
    Started startLeased() throws Exception {
        server = new ScriptedServer(EnumSet.of(Dialect.P9P2000_L_C9), 64 * 1024);
        session = RedialingSession.connect(server.address(),
                ClientConfig.defaults().withVersion(Dialect.P9P2000_L_C9.version()), null);
        assertEquals(0, session.allocFid());
        CompletableFuture<Rattach> a = session.rpc(new Tattach(0, Message.NOFID, "u", "", 0), Rattach.class);
        answer(Tattach.class, new Rattach(ROOT));
        a.get(10, TimeUnit.SECONDS);
        Tclient token = (Tclient) answer(Tclient.class, new Rclient(0)).fcall().message();
        assertEquals(1, session.allocFid());
        CompletableFuture<Rwalk> w = session.rpc(new Twalk(0, 1, List.of("f")), Rwalk.class);
        Request walk = answer(Twalk.class, new Rwalk(List.of(FILE)));
        w.get(10, TimeUnit.SECONDS);
        return new Started(token, walk);
    }

    void awaitConnected() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (session.state() != RedialingSession.State.CONNECTED) {
            assertTrue(System.nanoTime() < deadline, "not reconnected");
            Thread.sleep(10);
        }
    }
}
